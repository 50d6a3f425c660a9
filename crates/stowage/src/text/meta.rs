//! Object metadata, files' checksums and signed URLs as lines and JSON.

use std::path::Path;
use std::time::Duration;

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
        "last_modified": rfc3339(m),
        "content_type": m.content_type,
        "checksums": checksums_json(&m.checksums),
        "metadata": m.metadata,
    })
}

/// One listed object as a line: size (right-aligned), RFC 3339 time, key.
pub fn list_line(m: &ObjectMeta) -> String {
    let when = rfc3339(m).unwrap_or_default();
    format!("{:>12}  {when:<30}  {}", m.size, m.key)
}

/// An object's metadata, one `name: value` line each: size, ETag, content type, time,
/// each checksum the store keeps, then the user metadata.
pub fn meta_lines(m: &ObjectMeta) -> Vec<String> {
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    let mut out = vec![
        format!("size:          {} ({})", m.size, super::human_size(m.size)),
        format!("etag:          {}", or_dash(m.etag.as_deref())),
        format!("content-type:  {}", or_dash(m.content_type.as_deref())),
        format!("last-modified: {}", or_dash(rfc3339(m).as_deref())),
    ];
    for a in ChecksumAlgo::ALL {
        if let Some(v) = m.checksums.get(a) {
            out.push(format!("{:<14} {v}", format!("{}:", a.name())));
        }
    }
    out.extend(m.metadata.iter().map(|(k, v)| format!("meta {k}: {v}")));
    out
}

fn rfc3339(m: &ObjectMeta) -> Option<String> {
    m.last_modified.and_then(|t| t.format(&Rfc3339).ok())
}

/// A file's checksums as lines: with one algorithm `<sum>  <file>` (as `md5sum` prints),
/// else `<file> (<size> bytes)` and one indented `<algo> <sum>` line per algorithm.
pub fn file_checksum_lines(
    file: &Path,
    size: u64,
    sums: &Checksums,
    algos: &[ChecksumAlgo],
) -> Vec<String> {
    let sum = |a: ChecksumAlgo| sums.get(a).unwrap_or_default();
    if let [algo] = algos {
        return vec![format!("{}  {}", sum(*algo), file.display())];
    }
    let mut out = vec![format!("{} ({size} bytes)", file.display())];
    out.extend(
        algos
            .iter()
            .map(|a| format!("  {:<10} {}", a.name(), sum(*a))),
    );
    out
}

/// A file's checksums as one JSON object: the [`checksums_json`] keys, `file` and `size`.
pub fn file_checksums_json(file: &Path, size: u64, sums: &Checksums) -> Value {
    let mut obj = checksums_json(sums);
    obj["file"] = file.display().to_string().into();
    obj["size"] = size.into();
    obj
}

/// A signed download URL as JSON: `url`, `key`, `expires_in` (seconds) and `expires_at`
/// (RFC 3339, from now).
pub fn signed_url_json(url: &str, key: &str, expires: Duration) -> Value {
    let at = time::OffsetDateTime::now_utc() + expires;
    json!({
        "url": url,
        "key": key,
        "expires_in": expires.as_secs(),
        "expires_at": at.format(&Rfc3339).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lines_say_dash_for_what_is_unknown() {
        let m = ObjectMeta {
            key: "rec/a.ts".into(),
            size: 2048,
            ..ObjectMeta::default()
        };
        let lines = meta_lines(&m);
        assert_eq!(lines[0], "size:          2048 (2.0 KiB)");
        assert_eq!(lines[1], "etag:          -");
        assert!(list_line(&m).ends_with("  rec/a.ts"));
    }

    #[test]
    fn checksums_only_present_ones() {
        let c = stowage_core::checksum::checksum_bytes(b"123456789", &[ChecksumAlgo::Crc64Ecma]);
        assert_eq!(
            checksums_json(&c),
            json!({"crc64ecma": "11051210869376104954"})
        );
    }

    #[test]
    fn file_checksums_one_or_many() {
        let algos = [ChecksumAlgo::Crc64Ecma, ChecksumAlgo::Md5];
        let c = stowage_core::checksum::checksum_bytes(b"123456789", &algos);
        let file = Path::new("a.ts");
        let one = file_checksum_lines(file, 9, &c, &algos[..1]);
        assert_eq!(one, ["11051210869376104954  a.ts"]);
        let both = file_checksum_lines(file, 9, &c, &algos);
        assert_eq!(both[0], "a.ts (9 bytes)");
        assert_eq!(both[1], "  crc64ecma  11051210869376104954");
        let json = file_checksums_json(file, 9, &c);
        assert_eq!(
            (json["file"].as_str(), json["size"].as_u64()),
            (Some("a.ts"), Some(9))
        );
    }
}
