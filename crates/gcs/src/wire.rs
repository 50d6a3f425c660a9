//! The JSON API's documents: the object resource (with the `md5Hash` and `crc32c` GCS
//! keeps for every object), object lists, and error documents.

use std::collections::BTreeMap;

use serde::Deserialize;
use stowage_core::{Checksums, ObjectMeta};

/// An object resource (`storage#object`); only the fields Stowage reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Object {
    #[serde(default)]
    pub kind: Option<String>,
    pub name: String,
    /// Decimal, as a string (JSON numbers lose precision beyond 2^53).
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Base64 of the MD5 GCS computed over the bytes it stored; absent for composed
    /// objects.
    #[serde(default)]
    pub md5_hash: Option<String>,
    /// Base64 of the big-endian CRC-32C GCS computed; present for every object.
    #[serde(default)]
    pub crc32c: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl Object {
    /// The checksums GCS reported (never computed here); a malformed value is dropped, so
    /// it proves nothing.
    pub(crate) fn checksums(&self) -> Checksums {
        Checksums {
            md5: self
                .md5_hash
                .as_deref()
                .and_then(Checksums::parse_md5_base64),
            crc32c: self
                .crc32c
                .as_deref()
                .and_then(Checksums::parse_crc32c_base64),
            ..Default::default()
        }
    }

    pub(crate) fn size(&self) -> Option<u64> {
        self.size.as_deref().and_then(|s| s.parse().ok())
    }

    pub(crate) fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            key: self.name.clone(),
            size: self.size().unwrap_or(0),
            etag: self.etag.clone(),
            last_modified: self.updated.as_deref().and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            }),
            content_type: self.content_type.clone(),
            checksums: self.checksums(),
            metadata: self.metadata.clone().unwrap_or_default(),
        }
    }
}

/// One page of `objects.list` (`storage#objects`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectList {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub items: Vec<Object>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// A bucket resource (`storage#bucket`): its location is its region.
#[derive(Debug, Deserialize)]
pub(crate) struct Bucket {
    #[serde(default)]
    pub location: Option<String>,
}

/// `{"error": {"code": 404, "message": "…", "errors": [{"reason": "notFound", …}]}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorDoc {
    pub error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorItem {
    #[serde(default)]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::ChecksumAlgo;
    use stowage_core::checksum::checksum_bytes;

    #[test]
    fn gcs_checksums_are_read_in_googles_form() {
        // The object resource fake-gcs-server (and GCS) gave for the 5 bytes `hello`.
        let doc = r#"{"kind":"storage#object","name":"a/b c.ts","size":"5","crc32c":"mnG7TA==","md5Hash":"XUFAKrxLKna5cZ2REBfFkg==","etag":"CJ+Y","updated":"2026-12-07T06:32:42.410955Z"}"#;
        let o: Object = serde_json::from_str(doc).unwrap();
        let meta = o.meta();
        assert_eq!(meta.size, 5);
        let local = checksum_bytes(b"hello", &[ChecksumAlgo::Md5, ChecksumAlgo::Crc32c]);
        assert_eq!(local.verify(&meta.checksums).unwrap(), 2);
        assert_eq!(local.crc32c_base64().as_deref(), Some("mnG7TA=="));
        assert!(meta.last_modified.is_some());
    }
}
