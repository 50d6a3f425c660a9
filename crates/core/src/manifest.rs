//! The manifest a recording's upload writes beside it (`stowage-manifest.json`) and a
//! verifier reads: one type for the writer (stowage-pipeline) and the reader
//! (stowage-verify). The format is described in `docs/manifest.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The manifest format this code writes. Readers accept every version up to it.
pub const MANIFEST_VERSION: u32 = 1;

/// Every object of a recording, where it landed and how to prove its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The format's version ([`MANIFEST_VERSION`]); written as `manifest_version`.
    #[serde(rename = "manifest_version", alias = "version", default = "first")]
    pub version: u32,
    /// How a followed recording ended (`endlist`, `idle`, `stopped`, `deadline`); `null`
    /// for a recording uploaded after the fact.
    #[serde(default)]
    pub ended: Option<String>,
    /// The primary bucket's name (`s3://bucket`, a directory).
    #[serde(default)]
    pub primary: String,
    /// The backup bucket's name, if there is one.
    #[serde(default)]
    pub backup: Option<String>,
    /// The key prefix every object is under.
    #[serde(default)]
    pub prefix: String,
    /// The upload's outcome (`uploaded`, `backuped`, `incomplete`).
    #[serde(default)]
    pub status: String,
    /// When it was written (RFC 3339, UTC).
    #[serde(default)]
    pub written_at: String,
    /// The objects.
    pub objects: Vec<ManifestObject>,
}

fn first() -> u32 {
    1
}

/// One object of the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestObject {
    /// Its key in the bucket.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where it landed: `primary`, `backup`, `pending` (not yet) or `failed`.
    #[serde(default)]
    pub location: String,
    /// Its checksums by algorithm name (`md5`, `crc64ecma`, `crc64nvme`, `sha256`, …), in
    /// the forms [`crate::ChecksumAlgo`] parses.
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    /// The ETag the store returned.
    #[serde(default)]
    pub etag: Option<String>,
    /// How a multipart upload split it; with it the ETag can be recomputed from the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<PartLayout>,
}

/// The parts a multipart upload sent: all `size` bytes but the last, `count` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartLayout {
    /// Every part's size but the last's.
    pub size: u64,
    /// How many parts.
    pub count: u32,
}

impl Manifest {
    /// Reads a manifest; a newer version than this code knows is refused by name.
    pub fn from_json(json: &[u8]) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(json)
            .map_err(|e| Error::invalid_input(format!("not a Stowage manifest: {e}")))?;
        if m.version > MANIFEST_VERSION {
            return Err(Error::invalid_input(format!(
                "manifest version {} is newer than this Stowage reads ({MANIFEST_VERSION}): update Stowage",
                m.version
            )));
        }
        Ok(m)
    }

    /// The manifest as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Strings, numbers and maps only: serializing cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_refuses_a_newer_version() {
        let m = Manifest {
            version: MANIFEST_VERSION,
            ended: None,
            primary: "s3://rec".into(),
            backup: None,
            prefix: "room".into(),
            status: "uploaded".into(),
            written_at: "2026-01-01T00:00:00Z".into(),
            objects: vec![ManifestObject {
                key: "room/a.ts".into(),
                size: 3,
                location: "primary".into(),
                checksums: [("md5".to_string(), "x".to_string())].into(),
                etag: None,
                parts: Some(PartLayout { size: 5, count: 2 }),
            }],
        };
        let json = m.to_json();
        assert!(String::from_utf8_lossy(&json).contains("\"manifest_version\": 1"));
        assert_eq!(Manifest::from_json(&json).unwrap(), m);
        let newer = String::from_utf8_lossy(&json)
            .replace("\"manifest_version\": 1", "\"manifest_version\": 9");
        assert!(Manifest::from_json(newer.as_bytes()).is_err());
    }
}
