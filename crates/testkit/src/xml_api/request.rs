//! Request plumbing of the OSS and COS emulators: headers and query pairs as they arrived,
//! percent-decoding, `encoding-type=url` and building a reply that cannot fail.

use bytes::Bytes;
use http::request::Parts;
use http_body_util::Full;
use hyper::Response;
use percent_encoding::percent_decode_str;

pub type Reply = Response<Full<Bytes>>;

/// The reply, or a 500 naming the emulator bug when the builder refuses it.
pub fn finish(builder: http::response::Builder, body: Bytes) -> Reply {
    builder.body(Full::new(body)).unwrap_or_else(|e| {
        let mut r = Response::new(Full::new(Bytes::from(format!(
            "emulator bug: bad response: {e}"
        ))));
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// The request's headers with lower-case names, values as (lossy) text.
pub fn lowercase_headers(parts: &Parts) -> Vec<(String, String)> {
    parts
        .headers
        .iter()
        .map(|(k, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_ascii_lowercase(), value)
        })
        .collect()
}

/// `a=1&b&c=x%20y` → decoded pairs, in order (a bare name has an empty value).
pub fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value named `name` in pairs (headers with lower-case names, or query).
pub fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A query key or value: `+` is a space, then percent-decoding.
fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A URL path: percent-decoding only (`+` stays).
pub fn decode_path(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `encoding-type=url`: every byte but unreserved ones (and `/`) percent-encoded.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(
            |b| match b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
                true => char::from(b).to_string(),
                false => format!("%{b:02X}"),
            },
        )
        .collect()
}
