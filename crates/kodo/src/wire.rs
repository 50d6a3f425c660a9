//! Kodo's JSON answers and what they say about objects.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use md5::Digest as _;
use serde::Deserialize;
use stowage_core::checksum::QETAG_BLOCK;
use stowage_core::{ChecksumAlgo, Checksums, ObjectMeta};
use time::OffsetDateTime;

#[derive(Deserialize)]
pub(crate) struct UploadReply {
    pub(crate) hash: String,
}

#[derive(Deserialize)]
pub(crate) struct StatReply {
    pub(crate) fsize: u64,
    pub(crate) hash: String,
    #[serde(rename = "mimeType")]
    pub(crate) mime_type: Option<String>,
    #[serde(rename = "putTime")]
    pub(crate) put_time: Option<i64>,
    pub(crate) md5: Option<String>,
    #[serde(rename = "x-qn-meta", default)]
    pub(crate) meta: BTreeMap<String, String>,
}

#[derive(Deserialize)]
pub(crate) struct ListItem {
    pub(crate) key: String,
    pub(crate) hash: String,
    pub(crate) fsize: u64,
    #[serde(rename = "mimeType")]
    pub(crate) mime_type: Option<String>,
    #[serde(rename = "putTime")]
    pub(crate) put_time: Option<i64>,
    pub(crate) md5: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ListReply {
    #[serde(default)]
    pub(crate) marker: Option<String>,
    #[serde(default)]
    pub(crate) items: Vec<ListItem>,
}

#[derive(Deserialize)]
pub(crate) struct InitReply {
    #[serde(rename = "uploadId")]
    pub(crate) upload_id: String,
}

#[derive(Deserialize)]
pub(crate) struct PartReply {
    pub(crate) etag: String,
    pub(crate) md5: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ListedPart {
    #[serde(rename = "partNumber")]
    pub(crate) part_number: u32,
    pub(crate) etag: String,
    pub(crate) size: u64,
}

#[derive(Deserialize)]
pub(crate) struct PartsReply {
    #[serde(rename = "partNumberMarker", default)]
    pub(crate) marker: u32,
    #[serde(default)]
    pub(crate) parts: Vec<ListedPart>,
}

pub(crate) fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub(crate) fn qetag_sums(hash: String) -> Checksums {
    let mut c = Checksums::default();
    c.set(ChecksumAlgo::Qetag, &hash);
    c
}

/// Kodo's `putTime` is in 100-ns units since the epoch.
pub(crate) fn from_put_time(put_time: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(put_time) * 100).ok()
}

pub(crate) fn file_name(key: &str) -> String {
    key.rsplit('/').next().unwrap_or(key).to_owned()
}

pub(crate) fn listed_meta(i: ListItem) -> ObjectMeta {
    let mut checksums = qetag_sums(i.hash.clone());
    if let Some(md5) = &i.md5 {
        checksums.set(ChecksumAlgo::Md5, md5);
    }
    ObjectMeta {
        key: i.key,
        size: i.fsize,
        etag: Some(i.hash),
        last_modified: i.put_time.and_then(from_put_time),
        content_type: i.mime_type,
        checksums,
        metadata: BTreeMap::new(),
    }
}

/// What a download's headers say about the object (its `ETag` is the qetag).
pub(crate) fn meta_from_download(key: &str, headers: &reqwest::header::HeaderMap) -> ObjectMeta {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let size = text("content-range")
        .and_then(|r| r.rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .or_else(|| text("content-length").and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let etag = text("etag").map(|e| e.trim_matches('"').to_owned());
    ObjectMeta {
        key: key.to_owned(),
        size,
        checksums: etag.clone().map(qetag_sums).unwrap_or_default(),
        etag,
        content_type: text("content-type").map(str::to_owned),
        ..Default::default()
    }
}

/// The qetag Kodo gives an object assembled from parts with these sizes and qetags
/// (etag v2): one part is its own qetag; otherwise `prefix ‖ SHA1(inner20(q1) ‖ …)`, with
/// prefix 0x96 when every part but the last is exactly 4 MiB (then it equals the whole
/// file's qetag v1) and 0x9e otherwise.
pub fn combine_part_qetags(parts: &[(u64, String)]) -> Option<String> {
    if let [(_, only)] = parts {
        return Some(only.clone());
    }
    let (_, init) = parts.split_last()?;
    let aligned = init.iter().all(|(size, _)| *size == QETAG_BLOCK);
    let mut outer = sha1::Sha1::new();
    for (_, q) in parts {
        let raw = URL_SAFE.decode(q).ok()?;
        outer.update(raw.get(1..21)?);
    }
    let mut out = vec![if aligned { 0x96 } else { 0x9e }];
    out.extend_from_slice(&outer.finalize());
    Some(URL_SAFE.encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::checksum::{checksum_bytes, qetag_v2};

    fn q(data: &[u8]) -> String {
        checksum_bytes(data, &[ChecksumAlgo::Qetag]).qetag.unwrap()
    }

    #[test]
    fn combined_part_qetags_match_the_core_v2() {
        let data: Vec<u8> = (0..(9u32 << 20) + 123)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        // Unaligned parts (8 MiB + rest): v2 with 0x9e.
        let parts = [&data[..8 << 20], &data[8 << 20..]];
        let combined = combine_part_qetags(&parts.map(|p| (p.len() as u64, q(p)))).unwrap();
        assert_eq!(combined, qetag_v2(parts));
        assert!(URL_SAFE.decode(&combined).unwrap()[0] == 0x9e);
        // 4 MiB parts: equal to the whole file's qetag v1.
        let aligned = [&data[..4 << 20], &data[4 << 20..8 << 20], &data[8 << 20..]];
        let combined = combine_part_qetags(&aligned.map(|p| (p.len() as u64, q(p)))).unwrap();
        assert_eq!(combined, q(&data));
        // One part is its own qetag.
        assert_eq!(combine_part_qetags(&[(5, q(b"hello"))]), Some(q(b"hello")));
        assert_eq!(
            combine_part_qetags(&[(5, q(b"hello")), (5, q(b"world"))]).unwrap(),
            "ns56DcSIfBFUENXjdhsJTIvl3Rcu"
        );
    }

    #[test]
    fn put_time_is_in_100ns_units() {
        let t = from_put_time(17_000_000_000_000_000).unwrap();
        assert_eq!(t.unix_timestamp(), 1_700_000_000);
    }
}
