//! Object mechanics the OSS and COS emulators share: CRC-64/XZ, `Content-MD5`, user
//! metadata under the vendor's prefix, `Range` headers and XML replies.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hyper::Response;
use md5::Digest as _;

use super::request::{Reply, finish, lookup};

/// An XML answer with `status`.
pub fn xml_reply(status: u16, body: String) -> Reply {
    finish(
        Response::builder()
            .status(status)
            .header("content-type", "application/xml"),
        Bytes::from(body),
    )
}

/// CRC-64/XZ, as OSS and COS compute it.
pub fn crc64(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

/// Base64 of the MD5 of `data`, as `Content-MD5` carries it.
pub fn content_md5(data: &[u8]) -> String {
    STANDARD.encode(md5::Md5::digest(data))
}

/// Whether the body matches its `Content-MD5` header (no header: nothing to check).
pub fn content_md5_matches(headers: &[(String, String)], body: &[u8]) -> bool {
    lookup(headers, "content-md5").is_none_or(|given| given.trim() == content_md5(body))
}

/// User metadata: headers named `<meta_prefix><name>`, keyed by name.
pub fn user_metadata(headers: &[(String, String)], meta_prefix: &str) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(meta_prefix)?.to_string(), v.clone())))
        .collect()
}

/// The request's `Content-Type`, or the default for unknown bytes.
pub fn content_type(headers: &[(String, String)]) -> String {
    lookup(headers, "content-type")
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → a half-open range; `None` for no or a malformed
/// header (the whole object is sent then); `Err` for a range starting past the end.
pub fn parse_range(header: Option<&str>, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header?.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let range = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(start), Some(end)) if start <= end => (start, (end + 1).min(len)),
        (Some(start), None) if b.is_empty() => (start, len),
        (None, Some(n)) if a.is_empty() => (len.saturating_sub(n), len),
        _ => return None,
    };
    Some(if range.0 >= len { Err(()) } else { Ok(range) })
}
