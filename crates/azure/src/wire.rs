//! What Azure's headers say about a blob, and the checksums in Azure's spellings.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use stowage_core::{Checksums, ObjectMeta};
use stowage_http::unquote;

/// Azure's `x-ms-content-crc64`: CRC-64/NVME (Azure's polynomial 0x9A6C9329AC4BC9B5,
/// reflected, all-ones init and xor-out, the one S3 calls CRC64NVME) as base64 of its 8
/// bytes **little-endian** (S3 sends the same CRC big-endian). Checked against an answer of
/// Azure itself: Put Blob of `Hello World` answered `x-ms-content-crc64: YeJLfssylmU=`.
pub fn parse_crc64(value: &str) -> Option<u64> {
    let bytes: [u8; 8] = STANDARD.decode(value.trim()).ok()?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// `Content-MD5` as Azure sends it: base64 of the 16 bytes.
pub fn parse_md5(value: &str) -> Option<[u8; 16]> {
    STANDARD.decode(value.trim()).ok()?.try_into().ok()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The checksums Azure returned in `headers`: `Content-MD5` and `x-ms-content-crc64`.
pub fn returned_checksums(headers: &HeaderMap) -> Checksums {
    Checksums {
        md5: header(headers, "content-md5").and_then(parse_md5),
        crc64nvme: header(headers, "x-ms-content-crc64").and_then(parse_crc64),
        ..Default::default()
    }
}

/// A blob's metadata from a Get Blob Properties (HEAD) answer. `Content-MD5` there is the
/// blob's stored MD5 (set by Put Blob; a committed block list has none).
pub fn meta_from_head(key: &str, headers: &HeaderMap) -> ObjectMeta {
    let size = header(headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    ObjectMeta {
        key: key.to_string(),
        size,
        etag: unquote(header(headers, "etag")),
        last_modified: header(headers, "last-modified")
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(Into::into),
        content_type: header(headers, "content-type").map(str::to_string),
        checksums: Checksums {
            md5: header(headers, "content-md5").and_then(parse_md5),
            ..Default::default()
        },
        metadata: metadata(headers),
    }
}

/// `x-ms-meta-<name>` headers, names lower-cased.
pub fn metadata(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix("x-ms-meta-")?;
            Some((name.to_ascii_lowercase(), v.to_str().ok()?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::ChecksumAlgo;
    use stowage_core::checksum::checksum_bytes;

    #[test]
    fn azures_own_answer_for_hello_world_matches_our_hashes() {
        // Recorded from Azure (Put Blob of "Hello World", x-ms-version 2019-12-12).
        let mut h = HeaderMap::new();
        h.insert("content-md5", "sQqNsWTgdUEFt6mb5y4/5Q==".parse().unwrap());
        h.insert("x-ms-content-crc64", "YeJLfssylmU=".parse().unwrap());
        let returned = returned_checksums(&h);
        let local = checksum_bytes(
            b"Hello World",
            &[ChecksumAlgo::Md5, ChecksumAlgo::Crc64Nvme],
        );
        assert_eq!(returned.md5, local.md5);
        assert_eq!(returned.crc64nvme, local.crc64nvme);
        assert!(local.verify(&returned).is_ok());
    }

    #[test]
    fn head_answers_become_meta() {
        let mut h = HeaderMap::new();
        h.insert("content-length", "11".parse().unwrap());
        h.insert("etag", "\"0x8D81019EC948CAB\"".parse().unwrap());
        h.insert("content-type", "video/mp2t".parse().unwrap());
        h.insert(
            "last-modified",
            "Sun, 14 Jun 2020 04:18:00 GMT".parse().unwrap(),
        );
        h.insert("x-ms-meta-Camera", "front".parse().unwrap());
        let m = meta_from_head("a.ts", &h);
        assert_eq!(m.size, 11);
        assert_eq!(m.etag.as_deref(), Some("0x8d81019ec948cab"));
        assert_eq!(m.metadata.get("camera").map(String::as_str), Some("front"));
        assert!(m.checksums.is_empty());
        assert!(m.last_modified.is_some());
    }
}
