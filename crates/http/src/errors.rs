//! The vendor-neutral half of turning HTTP failures into Stowage errors: reading a vendor's
//! `<Error>` document, the error built from what the vendor's table made of it, the kind an
//! unexplained status means, and transport failures (no answer, or a broken one).

use stowage_core::{Error, ErrorKind};

/// A vendor's `<Error>` document as `T` (the fields it reads), or `T::default()` where the
/// body is not one (empty, not UTF-8, a page).
pub fn parse_error_xml<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> T {
    std::str::from_utf8(body)
        .ok()
        .and_then(|t| quick_xml::de::from_str(t).ok())
        .unwrap_or_default()
}

/// What a vendor's error answer said, classified by its error table.
#[derive(Debug)]
pub struct Classified {
    pub status: u16,
    pub kind: ErrorKind,
    /// Advice beyond the kind's own fix, where the vendor's code says more.
    pub advice: Option<&'static str>,
    /// The vendor's `Message`.
    pub message: Option<String>,
    /// The vendor's `Code` (empty: none), with what the vendor adds to it.
    pub code: String,
    pub request_id: Option<String>,
}

impl Classified {
    /// The error: the vendor's message (or the status) with the advice, the status, the
    /// code and the request id. Nothing else of the answer (no raw XML, no string to sign).
    pub fn into_error(self) -> Error {
        let said = self
            .message
            .unwrap_or_else(|| format!("HTTP {}", self.status));
        let message = match self.advice {
            Some(a) => format!("{said} ({a})"),
            None => said,
        };
        let mut err = Error::new(self.kind, message).with_http_status(self.status);
        if !self.code.is_empty() {
            err = err.with_vendor_code(self.code);
        }
        if let Some(id) = self.request_id {
            err = err.with_request_id(id);
        }
        err
    }
}

/// The kind one of the error codes the S3-like XML APIs (OSS, COS) share means; `None` for
/// a code only one vendor sends, or none at all. Each vendor's own table comes first.
pub fn kind_by_shared_code(code: &str) -> Option<ErrorKind> {
    use ErrorKind::*;
    Some(match code {
        "NoSuchKey" => NotFound,
        "NoSuchBucket" => BucketNotFound,
        "NoSuchUpload" => UploadNotFound,
        "InvalidAccessKeyId" => InvalidCredentials,
        "SignatureDoesNotMatch" => SignatureMismatch,
        "RequestTimeTooSkewed" => ClockSkew,
        "AccessDenied" => AccessDenied,
        "BadDigest" | "InvalidDigest" => ChecksumMismatch,
        "InvalidArgument" | "InvalidPart" | "InvalidPartOrder" | "EntityTooSmall"
        | "EntityTooLarge" | "MalformedXML" | "InvalidRange" | "InvalidBucketName" => InvalidInput,
        "SlowDown" => RateLimited,
        _ => return None,
    })
}

/// The kind a shared code means, else the kind its status means.
pub fn kind_by_code_or_status(code: &str, status: u16) -> ErrorKind {
    kind_by_shared_code(code).unwrap_or_else(|| kind_by_status(status))
}

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

    #[test]
    fn shared_codes_come_before_the_status() {
        assert_eq!(
            kind_by_code_or_status("NoSuchBucket", 404),
            ErrorKind::BucketNotFound
        );
        assert_eq!(
            kind_by_code_or_status("BadDigest", 400),
            ErrorKind::ChecksumMismatch
        );
        assert_eq!(
            kind_by_code_or_status("VendorOnly", 503),
            ErrorKind::ServerError
        );
        assert_eq!(kind_by_shared_code(""), None);
    }

    #[test]
    fn the_error_carries_code_request_id_and_advice_never_the_xml() {
        #[derive(Default, serde::Deserialize)]
        #[serde(default, rename_all = "PascalCase")]
        struct Xml {
            code: Option<String>,
            message: Option<String>,
        }
        let xml: Xml =
            parse_error_xml(b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
        let e = Classified {
            status: 404,
            kind: ErrorKind::NotFound,
            advice: Some("look elsewhere"),
            message: xml.message,
            code: xml.code.unwrap_or_default(),
            request_id: Some("r1".into()),
        }
        .into_error();
        assert_eq!(e.vendor_code(), Some("NoSuchKey"));
        assert_eq!(e.request_id(), Some("r1"));
        assert!(e.to_string().contains("gone (look elsewhere)"), "{e}");
        assert!(!e.to_string().contains("<Error>"), "{e}");
        let none: Xml = parse_error_xml(b"<html>page</html>");
        assert!(none.code.is_none());
    }
}
