//! Percent-encoding as OSS and COS sign it: RFC 3986 unreserved characters stay, everything
//! else is `%XX`; object keys in paths keep their `/`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 3986 unreserved characters stay; everything else is `%XX`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, keeping `/` (object keys in paths).
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Percent-encodes a query key or value.
pub fn encode_query(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Percent-encodes an object key for a URL path (`/` kept).
pub fn encode_path(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_slashes_and_queries_do_not() {
        assert_eq!(encode_path("a b/c~d+é"), "a%20b/c~d%2B%C3%A9");
        assert_eq!(encode_query("a/b=c"), "a%2Fb%3Dc");
    }
}
