//! Object metadata as JSON.

use serde_json::{Map, Value, json};
use stowage_core::{ChecksumAlgo, Checksums, ObjectMeta};
use time::format_description::well_known::Rfc3339;

/// Checksums as a JSON object, one key per algorithm present, in its wire form.
pub fn checksums_json(c: &Checksums) -> Value {
    let map: Map<String, Value> = ChecksumAlgo::ALL
        .iter()
        .filter_map(|a| c.get(*a).map(|v| (a.name().to_string(), Value::String(v))))
        .collect();
    Value::Object(map)
}

/// An object's metadata as JSON: key, size, ETag, RFC 3339 time, content type, checksums
/// and user metadata.
pub fn meta_json(m: &ObjectMeta) -> Value {
    json!({
        "key": m.key,
        "size": m.size,
        "etag": m.etag,
        "last_modified": m.last_modified.and_then(|t| t.format(&Rfc3339).ok()),
        "content_type": m.content_type,
        "checksums": checksums_json(&m.checksums),
        "metadata": m.metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_only_present_ones() {
        let c = stowage_core::checksum::checksum_bytes(b"123456789", &[ChecksumAlgo::Crc64Ecma]);
        assert_eq!(
            checksums_json(&c),
            json!({"crc64ecma": "11051210869376104954"})
        );
    }
}
