//! The vendor-neutral half of turning HTTP failures into Stowage errors: the kind an
//! unexplained status means, and transport failures (no answer, or a broken one).

use stowage_core::{Error, ErrorKind};

/// The kind an error status means when the vendor's code says nothing more.
pub fn kind_by_status(status: u16) -> ErrorKind {
    match status {
        404 => ErrorKind::NotFound,
        403 => ErrorKind::AccessDenied,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::Other,
    }
}

/// A transport failure (no HTTP answer, or a broken one).
pub fn from_transport(err: reqwest::Error, url_host: &str) -> Error {
    if let Some(why) = stowage_core::tls::certificate_failure(&err) {
        return Error::new(
            ErrorKind::Tls,
            format!("TLS handshake with {url_host} failed: {why}"),
        )
        .with_source(err);
    }
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect (refused, unreachable or DNS failure)"
    } else if err.is_body() || err.is_decode() {
        "broke while transferring the body"
    } else {
        "failed (connection reset or closed)"
    };
    Error::new(ErrorKind::Network, format!("request to {url_host} {what}")).with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_become_kinds() {
        assert_eq!(kind_by_status(404), ErrorKind::NotFound);
        assert_eq!(kind_by_status(403), ErrorKind::AccessDenied);
        assert_eq!(kind_by_status(429), ErrorKind::RateLimited);
        assert_eq!(kind_by_status(503), ErrorKind::ServerError);
        assert_eq!(kind_by_status(400), ErrorKind::Other);
    }
}
