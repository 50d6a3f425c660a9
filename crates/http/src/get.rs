//! A GET's answer as a [`GetResult`]: ranges checked against what the server sent, the
//! body streamed with transport failures mapped.

use std::ops::Range;

use futures::{StreamExt, TryStreamExt};
use stowage_core::payload::parse_content_range;
use stowage_core::{Error, ErrorKind, GetResult, ObjectMeta, Result};

use crate::call::header_str;
use crate::check::Dialect;
use crate::errors::from_transport;

/// The `Range` header for a non-empty byte range.
pub fn range_header(r: &Range<u64>) -> String {
    format!("bytes={}-{}", r.start, r.end - 1)
}

/// HTTP ranges cannot say "no bytes": an empty range is answered from HEAD's `meta`.
pub fn empty_range(meta: ObjectMeta, r: &Range<u64>, key: &str) -> Result<GetResult> {
    if r.start > r.end || r.end > meta.size {
        return Err(Error::invalid_input(format!(
            "range {}..{} is outside the object's {} bytes",
            r.start, r.end, meta.size
        ))
        .with_key(key));
    }
    let range = r.clone();
    let body = futures::stream::empty().boxed();
    Ok(GetResult { meta, range, body })
}

impl Dialect {
    /// The successful answer to a GET of `key` (for `range`, when given); `host` names the
    /// server in errors while the body streams.
    pub fn get_result(
        &self,
        key: &str,
        range: Option<&Range<u64>>,
        resp: reqwest::Response,
        host: String,
    ) -> Result<GetResult> {
        let headers = resp.headers().clone();
        let length: u64 = header_str(&headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (size, got) = match (resp.status().as_u16(), range) {
            (206, Some(r)) => match parse_content_range(header_str(&headers, "content-range")) {
                Some((got, total)) => (total, got),
                None => (r.end, r.clone()),
            },
            (200, None) => (length, 0..length),
            (status, _) => {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!(
                        "the server answered a range request with HTTP {status} instead of 206"
                    ),
                )
                .with_key(key));
            }
        };
        let meta = self.meta_from_headers(key, &headers, size);
        let body = resp
            .bytes_stream()
            .map_err(move |e| from_transport(e, &host))
            .boxed();
        Ok(GetResult {
            meta,
            range: got,
            body,
        })
    }
}
