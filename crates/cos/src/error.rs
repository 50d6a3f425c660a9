//! COS error responses → Stowage errors. The kind comes from COS's `Code` in the error XML
//! (HEAD answers have no body, so there it comes from the status); the message is COS's
//! `Message` plus what to do; the code, the request id (`x-cos-request-id`) and the status
//! go along. The raw XML never reaches the message.

use reqwest::header::HeaderMap;
use serde::Deserialize;
use stowage_core::{Error, ErrorKind};
use stowage_http::errors::{Classified, kind_by_shared_code, kind_by_status, parse_error_xml};
use stowage_http::header_str;

/// The fields of COS's `<Error>` this crate reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ErrorXml {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

/// Builds the error for a non-2xx response.
pub(crate) fn from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let xml: ErrorXml = parse_error_xml(body);
    let header = |name: &str| header_str(headers, name).map(str::to_string);
    let code = xml.code.unwrap_or_default();
    let bucket_region = header("x-cos-bucket-region");
    let (kind, advice) = classify(status, &code, xml.message.as_deref(), bucket_region);
    Classified {
        status,
        kind,
        advice,
        message: xml.message,
        code,
        request_id: xml.request_id.or(header("x-cos-request-id")),
    }
    .into_error()
}

/// The kind, and advice beyond the kind's own fix where COS's code says more.
fn classify(
    status: u16,
    code: &str,
    message: Option<&str>,
    bucket_region: Option<String>,
) -> (ErrorKind, Option<&'static str>) {
    use ErrorKind::*;
    match code {
        "NoSuchBucket" if bucket_region.is_some() => (WrongRegion { bucket_region }, None),
        // Reports of the real service (no Tencent statement) show a bucket addressed through
        // another region's host answered with a plain NoSuchBucket, no redirect.
        "NoSuchBucket" => (
            BucketNotFound,
            Some(
                "COS also answers NoSuchBucket when the bucket is in another region than the endpoint's: check the bucket's region in the COS console and pass it with --region",
            ),
        ),
        "InvalidAccessKeyId" => (
            InvalidCredentials,
            Some("COS does not know this SecretId: copy it again from the CAM API key page"),
        ),
        // COS's answer to a signature whose q-sign-time window has passed by its clock.
        "AccessDenied" if message.is_some_and(|m| m.contains("Request has expired")) => (
            ClockSkew,
            Some("the signature's validity window had already ended by the server's clock"),
        ),
        "ExpiredToken" => (
            InvalidCredentials,
            Some(
                "the STS token has expired: get a new temporary key (GetFederationToken or AssumeRole) and pass it as TENCENTCLOUD_SESSION_TOKEN with its SecretId and SecretKey",
            ),
        ),
        "InvalidToken" | "InvalidSecurityToken" => (
            InvalidCredentials,
            Some("the STS token does not belong to this SecretId: pass the token issued with it"),
        ),
        "PermanentRedirect" => (WrongRegion { bucket_region }, None),
        "InvalidURI" | "KeyTooLong" | "InvalidAuthorization" => (InvalidInput, None),
        "TooManyRequests" | "RequestLimitExceeded" => (RateLimited, None),
        _ => match kind_by_shared_code(code) {
            Some(kind) => (kind, None),
            None if (300..400).contains(&status) && bucket_region.is_some() => {
                (WrongRegion { bucket_region }, None)
            }
            None => (kind_by_status(status), None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> Error {
        from_response(status, &HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn codes_become_kinds_with_context() {
        let e = err(
            403,
            "<?xml version='1.0' encoding='utf-8' ?><Error><Code>SignatureDoesNotMatch</Code><Message>The Signature you specified is invalid.</Message><Resource>b-125.cos.ap-guangzhou.myqcloud.com/a.ts</Resource><RequestId>NjVm</RequestId><TraceId>OGVm</TraceId></Error>",
        );
        assert_eq!(e.kind(), &ErrorKind::SignatureMismatch);
        assert_eq!(e.request_id(), Some("NjVm"));
        assert_eq!(e.vendor_code(), Some("SignatureDoesNotMatch"));
        let s = e.to_string();
        assert!(!s.contains("<Error>") && !s.contains("TraceId"), "{s}");
        assert!(s.contains("Fix: the secretKey"), "{s}");
    }

    #[test]
    fn expired_signature_window_is_clock_skew() {
        let e = err(
            403,
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        );
        assert_eq!(e.kind(), &ErrorKind::ClockSkew);
        let e = err(
            403,
            "<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>",
        );
        assert_eq!(e.kind(), &ErrorKind::AccessDenied);
    }

    #[test]
    fn redirect_names_the_region_and_head_errors_use_the_status() {
        let mut h = HeaderMap::new();
        h.insert("x-cos-bucket-region", "ap-beijing".parse().unwrap());
        let e = from_response(301, &h, b"");
        assert_eq!(e.bucket_region(), Some("ap-beijing"));
        // A NoSuchBucket that names the bucket's region is a wrong-region answer.
        let body = b"<Error><Code>NoSuchBucket</Code><Message>x</Message></Error>";
        let e = from_response(404, &h, body);
        assert_eq!(e.bucket_region(), Some("ap-beijing"), "{e}");
        let e = from_response(404, &HeaderMap::new(), b"");
        assert_eq!(e.kind(), &ErrorKind::NotFound);
        assert_eq!(err(503, "garbage").kind(), &ErrorKind::ServerError);
        assert!(err(503, "garbage").is_retryable());
    }

    #[test]
    fn other_codes() {
        let code = |c: &str| err(400, &format!("<Error><Code>{c}</Code></Error>"));
        assert_eq!(code("BadDigest").kind(), &ErrorKind::ChecksumMismatch);
        let missing = code("NoSuchBucket");
        assert_eq!(missing.kind(), &ErrorKind::BucketNotFound);
        assert!(missing.to_string().contains("another region"), "{missing}");
        assert_eq!(code("NoSuchUpload").kind(), &ErrorKind::UploadNotFound);
        assert_eq!(code("EntityTooSmall").kind(), &ErrorKind::InvalidInput);
        assert_eq!(code("SlowDown").kind(), &ErrorKind::RateLimited);
        let e = code("InvalidAccessKeyId");
        assert_eq!(e.kind(), &ErrorKind::InvalidCredentials);
        assert!(e.to_string().contains("SecretId"), "{e}");
        let e = code("PermanentRedirect");
        assert_eq!(
            e.kind(),
            &ErrorKind::WrongRegion {
                bucket_region: None
            }
        );
    }

    #[test]
    fn expired_token_says_how_to_renew() {
        let e = err(
            400,
            "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>",
        );
        assert_eq!(e.kind(), &ErrorKind::InvalidCredentials);
        assert!(e.to_string().contains("TENCENTCLOUD_SESSION_TOKEN"), "{e}");
    }
}
