//! Multipart uploads as the OSS and COS emulators keep them, joining the parts a
//! CompleteMultipartUpload lists, and the ListMultipartUploads body. What a refusal is
//! called (code, message) stays with each emulator: [`PartsProblem`] says only what is
//! wrong.

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};

use super::request::url_encode;
use super::xml::{self, CompletePart, elem};

pub struct Part {
    pub data: Bytes,
    pub etag: String,
    pub crc64: u64,
    pub modified: SystemTime,
}

pub struct Upload {
    pub key: String,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
    pub initiated: SystemTime,
    pub parts: BTreeMap<u32, Part>,
}

/// Why the listed parts cannot be joined.
#[derive(Debug, PartialEq, Eq)]
pub enum PartsProblem {
    NoParts,
    NotAscending,
    /// Not uploaded, or its ETag differs from the one listed.
    Missing(u32),
    /// Smaller than the minimum, and not the last.
    TooSmall(u32),
}

/// The joined bytes, and the parts' MD5s one after another (for the multipart ETag).
pub struct Joined {
    pub data: Bytes,
    pub md5s: Vec<u8>,
}

/// Checks the listed parts (ascending, present, matching ETags, all but the last at least
/// `min_part` bytes) and joins them.
pub fn join_parts(
    upload: &Upload,
    listed: &[CompletePart],
    min_part: usize,
) -> Result<Joined, PartsProblem> {
    if listed.is_empty() {
        return Err(PartsProblem::NoParts);
    }
    if listed
        .windows(2)
        .any(|w| w[0].part_number >= w[1].part_number)
    {
        return Err(PartsProblem::NotAscending);
    }
    let mut data = BytesMut::new();
    let mut md5s = Vec::new();
    for (i, want) in listed.iter().enumerate() {
        let part = upload
            .parts
            .get(&want.part_number)
            .filter(|p| {
                p.etag
                    .trim_matches('"')
                    .eq_ignore_ascii_case(want.etag.trim_matches('"'))
            })
            .ok_or(PartsProblem::Missing(want.part_number))?;
        if i + 1 < listed.len() && part.data.len() < min_part {
            return Err(PartsProblem::TooSmall(want.part_number));
        }
        data.extend_from_slice(&part.data);
        md5s.extend(hex::decode(part.etag.trim_matches('"')).unwrap_or_default());
    }
    Ok(Joined {
        data: data.freeze(),
        md5s,
    })
}

/// The ListMultipartUploadsResult body: every upload under `prefix`, by key then id, in
/// one page; keys URL-encoded when `url_encoding`.
pub fn list_uploads_xml(
    uploads: &BTreeMap<String, Upload>,
    bucket: &str,
    prefix: &str,
    url_encoding: bool,
    storage_class: &str,
) -> String {
    let enc = |s: &str| match url_encoding {
        true => url_encode(s),
        false => s.to_string(),
    };
    let mut listed: Vec<(&String, &Upload)> = uploads
        .iter()
        .filter(|(_, u)| u.key.starts_with(prefix))
        .collect();
    listed.sort_by(|a, b| (&a.1.key, a.0).cmp(&(&b.1.key, b.0)));
    let mut out = elem("Bucket", bucket) + &elem("KeyMarker", "") + &elem("UploadIdMarker", "");
    for (tag, value) in [
        ("NextKeyMarker", String::new()),
        ("NextUploadIdMarker", String::new()),
        ("Delimiter", String::new()),
        ("Prefix", enc(prefix)),
        ("MaxUploads", "1000".to_string()),
        ("IsTruncated", "false".to_string()),
    ] {
        out += &elem(tag, &value);
    }
    if url_encoding {
        out += &elem("EncodingType", "url");
    }
    for (id, u) in listed {
        out += &format!(
            "<Upload>{}{}{}{}</Upload>",
            elem("Key", &enc(&u.key)),
            elem("UploadId", id),
            elem("StorageClass", storage_class),
            elem("Initiated", &xml::iso8601(u.initiated)),
        );
    }
    xml::document("ListMultipartUploadsResult", &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(parts: &[(u32, &str, usize)]) -> Upload {
        let parts = parts
            .iter()
            .map(|&(n, etag, len)| {
                let part = Part {
                    data: Bytes::from(vec![n as u8; len]),
                    etag: format!("\"{etag}\""),
                    crc64: 0,
                    modified: SystemTime::now(),
                };
                (n, part)
            })
            .collect();
        Upload {
            key: "k".into(),
            content_type: String::new(),
            metadata: BTreeMap::new(),
            initiated: SystemTime::now(),
            parts,
        }
    }

    fn listed(parts: &[(u32, &str)]) -> Vec<CompletePart> {
        parts
            .iter()
            .map(|&(part_number, etag)| CompletePart {
                part_number,
                etag: etag.to_string(),
            })
            .collect()
    }

    #[test]
    fn joins_listed_parts_and_names_each_problem() {
        let u = upload(&[(1, "0a", 3), (2, "0b", 1)]);
        let joined = join_parts(&u, &listed(&[(1, "0A"), (2, "\"0b\"")]), 3).expect("join");
        assert_eq!(&joined.data[..], &[1, 1, 1, 2]);
        assert_eq!(joined.md5s, vec![0x0a, 0x0b]);
        let err = |l: &[(u32, &str)], min| join_parts(&u, &listed(l), min).err();
        assert_eq!(err(&[], 1), Some(PartsProblem::NoParts));
        assert_eq!(
            err(&[(2, "0b"), (1, "0a")], 1),
            Some(PartsProblem::NotAscending)
        );
        assert_eq!(err(&[(1, "ff")], 1), Some(PartsProblem::Missing(1)));
        assert_eq!(
            err(&[(1, "0a"), (2, "0b")], 4),
            Some(PartsProblem::TooSmall(1))
        );
    }
}
