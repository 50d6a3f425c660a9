//! OSS error responses → Stowage errors. The kind comes from OSS's `Code` (from the body,
//! or for HEAD from the base64 XML in `x-oss-err`), else from the HTTP status; the message
//! is OSS's `Message` plus what to do; `EC`, the request id and the status go along. Request
//! headers and `StringToSign` never reach the message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use stowage_core::{Error, ErrorKind};
use stowage_http::errors::{Classified, kind_by_code_or_status, parse_error_xml};
use stowage_http::header_str;

use crate::config::region_of_endpoint;

/// The fields of OSS's `<Error>` this crate reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct ErrorXml {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    #[serde(rename = "EC")]
    pub ec: Option<String>,
    /// In wrong-endpoint answers: the endpoint the bucket must be addressed through.
    pub endpoint: Option<String>,
}

impl ErrorXml {
    /// From the body, or for HEAD (no body) from the base64 XML in `x-oss-err`.
    fn parse(body: &[u8], headers: &HeaderMap) -> ErrorXml {
        if !body.is_empty() {
            return parse_error_xml(body);
        }
        let header = header_str(headers, "x-oss-err");
        parse_error_xml(
            &header
                .and_then(|h| STANDARD.decode(h).ok())
                .unwrap_or_default(),
        )
    }
}

/// Builds the error for a non-2xx response.
pub(crate) fn from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let xml = ErrorXml::parse(body, headers);
    let header = |name: &str| header_str(headers, name).map(str::to_string);
    let code = xml.code.clone().unwrap_or_default();
    let (kind, advice) = classify(status, &code, &xml);
    let code = match (code.is_empty(), xml.ec.or(header("x-oss-ec"))) {
        (false, Some(ec)) => format!("{code}, EC {ec}"),
        _ => code,
    };
    Classified {
        status,
        kind,
        advice,
        message: xml.message,
        code,
        request_id: xml.request_id.or(header("x-oss-request-id")),
    }
    .into_error()
}

/// The kind, and advice beyond the kind's own fix where OSS's code says more.
fn classify(status: u16, code: &str, xml: &ErrorXml) -> (ErrorKind, Option<&'static str>) {
    use ErrorKind::*;
    match code {
        "SecurityTokenExpired" => (
            InvalidCredentials,
            Some(
                "the STS token has expired: get a new one (AssumeRole) and pass it as OSS_SESSION_TOKEN with its key pair",
            ),
        ),
        "InvalidSecurityToken" => (
            InvalidCredentials,
            Some("the STS token does not belong to this access key: pass the token issued with it"),
        ),
        // OSS's wrong-endpoint answer: 403 AccessDenied with an <Endpoint> element in the
        // bodies users report; Aliyun's newer 403 reference files the same message under
        // PermanentRedirect. The element, not the code, is what tells it apart.
        "AccessDenied" | "PermanentRedirect" if xml.endpoint.is_some() => (
            WrongRegion {
                bucket_region: xml.endpoint.as_deref().and_then(region_of_endpoint),
            },
            None,
        ),
        "PermanentRedirect" => (
            WrongRegion {
                bucket_region: None,
            },
            None,
        ),
        "InvalidCRC64" => (ChecksumMismatch, None),
        "InvalidObjectName" => (InvalidInput, None),
        "QpsLimitExceeded" | "DownloadTrafficRateLimitExceeded" => (RateLimited, None),
        _ => (kind_by_code_or_status(code, status), None),
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
            "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message><RequestId>5C3D</RequestId><HostId>b.oss</HostId><StringToSign>PUT\n\n</StringToSign><EC>0002-00000040</EC></Error>",
        );
        assert_eq!(e.kind(), &ErrorKind::SignatureMismatch);
        assert_eq!(e.request_id(), Some("5C3D"));
        assert_eq!(
            e.vendor_code(),
            Some("SignatureDoesNotMatch, EC 0002-00000040")
        );
        let s = e.to_string();
        assert!(!s.contains("StringToSign") && !s.contains("<Error>"), "{s}");
        assert!(s.contains("Fix: the secretKey"), "{s}");
    }

    #[test]
    fn wrong_endpoint_names_the_region() {
        let e = err(
            403,
            "<Error><Code>AccessDenied</Code><Message>must be addressed using the specified endpoint</Message><Endpoint>oss-cn-beijing.aliyuncs.com</Endpoint></Error>",
        );
        assert_eq!(e.bucket_region(), Some("cn-beijing"));
        let e = err(
            301,
            "<Error><Code>PermanentRedirect</Code><Message>must be addressed using the specified endpoint</Message><Endpoint>oss-ap-southeast-1.aliyuncs.com</Endpoint></Error>",
        );
        assert_eq!(e.bucket_region(), Some("ap-southeast-1"));
    }

    #[test]
    fn head_errors_come_from_the_header() {
        let mut h = HeaderMap::new();
        let xml = "<Error><Code>NoSuchBucket</Code><Message>no bucket</Message></Error>";
        h.insert("x-oss-err", STANDARD.encode(xml).parse().unwrap());
        let e = from_response(404, &h, b"");
        assert_eq!(e.kind(), &ErrorKind::BucketNotFound);
        let e = from_response(404, &HeaderMap::new(), b"");
        assert_eq!(e.kind(), &ErrorKind::NotFound);
        assert_eq!(err(503, "garbage").kind(), &ErrorKind::ServerError);
        assert!(err(503, "garbage").is_retryable());
    }

    #[test]
    fn expired_token_says_how_to_renew() {
        let e = err(
            403,
            "<Error><Code>SecurityTokenExpired</Code><Message>The security token you provided has expired.</Message></Error>",
        );
        assert_eq!(e.kind(), &ErrorKind::InvalidCredentials);
        assert!(e.to_string().contains("AssumeRole"), "{e}");
    }
}
