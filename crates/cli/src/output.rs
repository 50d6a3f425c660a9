//! JSON and text forms of what commands print.

use serde_json::{Map, Value, json};
use stowage::core::{ChecksumAlgo, Checksums, ObjectMeta};
use time::format_description::well_known::Rfc3339;

/// Checksums as a JSON object, one key per algorithm present, in its wire form.
pub fn checksums_json(c: &Checksums) -> Value {
    let map: Map<String, Value> = ChecksumAlgo::ALL
        .iter()
        .filter_map(|a| c.get(*a).map(|v| (a.name().to_string(), Value::String(v))))
        .collect();
    Value::Object(map)
}

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

/// Bytes for people: `12.3 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
    }

    #[test]
    fn checksums_only_present_ones() {
        let c = stowage::core::checksum::checksum_bytes(b"123456789", &[ChecksumAlgo::Crc64Ecma]);
        assert_eq!(
            checksums_json(&c),
            json!({"crc64ecma": "11051210869376104954"})
        );
    }
}
