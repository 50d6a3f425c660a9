//! Azure's answers to errors → [`ErrorKind`] with the fix. Azure names the error in the
//! `x-ms-error-code` header (also on a HEAD, which has no body) and in the body's
//! `<Error><Code>…</Code><Message>…</Message></Error>`; only the message's first line is
//! kept (the rest is Azure's request id and time, which go to the error's fields).
//!
//! Every failure of a request, whether object_store sent it or this crate did, passes
//! through the connector ([`crate::connector`]) which builds these errors; object_store
//! carries them to us inside its own, and [`from_object_store`] finds them again.

use serde::Deserialize;
use stowage_core::{Error, ErrorKind};

/// How the store authenticates, which changes what a refusal most likely means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthKind {
    SharedKey,
    Sas,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename = "Error")]
struct ErrorXml {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

/// An error answer: its status, Azure's code (header first, then body), the first line of
/// Azure's message, and the request id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Refusal {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

impl Refusal {
    pub(crate) fn read(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Refusal {
        let header = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let parsed: ErrorXml = std::str::from_utf8(body)
            .ok()
            .and_then(|s| quick_xml::de::from_str(s.trim_start_matches('\u{feff}')).ok())
            .unwrap_or_default();
        let message = parsed
            .message
            .as_deref()
            .and_then(|m| m.lines().next())
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty());
        Refusal {
            status,
            code: header("x-ms-error-code").or(parsed.code),
            message,
            request_id: header("x-ms-request-id"),
        }
    }

    /// The Stowage error this refusal means.
    pub(crate) fn into_error(self, auth: AuthKind) -> Error {
        let code = self.code.clone().unwrap_or_default();
        let said = self.message.clone().unwrap_or_default();
        let (kind, why) = classify(self.status, &code, &said, auth);
        let mut text = format!("Azure Blob answered HTTP {}", self.status);
        if !code.is_empty() {
            text.push_str(&format!(" {code}"));
        }
        if !said.is_empty() {
            text.push_str(&format!(": {said}"));
        }
        if let Some(why) = why {
            text.push_str(&format!(" ({why})"));
        }
        let mut e = Error::new(kind, text).with_http_status(self.status);
        if !code.is_empty() {
            e = e.with_vendor_code(code);
        }
        if let Some(id) = self.request_id {
            e = e.with_request_id(id);
        }
        e
    }
}

fn classify(
    status: u16,
    code: &str,
    message: &str,
    auth: AuthKind,
) -> (ErrorKind, Option<&'static str>) {
    let says = |s: &str| message.to_ascii_lowercase().contains(s);
    match code {
        "ContainerNotFound" => (ErrorKind::BucketNotFound, None),
        "BlobNotFound" => (ErrorKind::NotFound, None),
        // Azurite's answer for an account it does not have; Azure's unknown accounts have
        // no host at all (a DNS failure).
        "ResourceNotFound" if status == 404 => (
            ErrorKind::InvalidCredentials,
            Some(
                "no storage account of that name answers at this endpoint: the accessKey is the account name (AZURE_STORAGE_ACCOUNT_NAME)",
            ),
        ),
        "AuthenticationFailed" if says("date") || says("time") && says("skew") => {
            (ErrorKind::ClockSkew, None)
        }
        "AuthenticationFailed" if auth == AuthKind::Sas => (
            ErrorKind::InvalidCredentials,
            Some("the SAS token is invalid or expired: create a new one"),
        ),
        "AuthenticationFailed" => (
            ErrorKind::SignatureMismatch,
            Some("the account key (secretKey) is not this account's"),
        ),
        // Azurite answers a wrong key with this code and Azure's authentication message;
        // Azure itself uses it for a firewall or network rule refusing the caller.
        "AuthorizationFailure" if says("authenticate") && auth == AuthKind::SharedKey => (
            ErrorKind::SignatureMismatch,
            Some("the account key (secretKey) is not this account's"),
        ),
        "AuthorizationFailure" if says("authenticate") => (
            ErrorKind::InvalidCredentials,
            Some("the SAS token is invalid or expired: create a new one"),
        ),
        "AuthorizationFailure" => (
            ErrorKind::AccessDenied,
            Some(
                "the account's firewall or network rules may refuse this machine, or the SAS lacks the permission",
            ),
        ),
        "AuthorizationPermissionMismatch"
        | "AuthorizationPermissionDenied"
        | "AuthorizationResourceTypeMismatch"
        | "AuthorizationServiceMismatch"
        | "AuthorizationSourceIPMismatch"
        | "AuthorizationProtocolMismatch"
        | "InsufficientAccountPermissions" => (
            ErrorKind::AccessDenied,
            Some(
                "the SAS or role lacks this permission (uploads need read, write, list and delete)",
            ),
        ),
        "AccountIsDisabled" => (
            ErrorKind::AccessDenied,
            Some("the storage account is disabled"),
        ),
        "InvalidAuthenticationInfo" | "NoAuthenticationInformation" => {
            (ErrorKind::InvalidCredentials, None)
        }
        "Md5Mismatch" | "InvalidMd5" | "Crc64Mismatch" => (
            ErrorKind::ChecksumMismatch,
            Some("the bytes that arrived are not the ones hashed before sending"),
        ),
        // Azurite's spelling of Md5Mismatch.
        "InvalidOperation" if says("md5") => (
            ErrorKind::ChecksumMismatch,
            Some("the bytes that arrived are not the ones hashed before sending"),
        ),
        "InvalidBlockList" => (
            ErrorKind::UploadNotFound,
            Some(
                "a block of the upload is no longer stored: uncommitted blocks are dropped after 7 days or when another write commits the blob",
            ),
        ),
        "ServerBusy" | "TooManyRequests" => (ErrorKind::RateLimited, None),
        "OperationTimedOut" | "InternalError" => (ErrorKind::ServerError, None),
        "InvalidRange" => (
            ErrorKind::InvalidInput,
            Some("the range is outside the blob"),
        ),
        _ => (by_status(status), None),
    }
}

fn by_status(status: u16) -> ErrorKind {
    match status {
        400 | 411 | 413 | 414 | 416 => ErrorKind::InvalidInput,
        401 => ErrorKind::InvalidCredentials,
        429 | 503 => ErrorKind::RateLimited,
        s => stowage_http::errors::kind_by_status(s),
    }
}

/// A failure object_store reported, as a Stowage error: the connector's own error when it
/// built one (Azure's refusal, a reply that is not Azure's, a transport failure), else a
/// generic one. The text is cleaned of any URL query (a SAS token's signature).
pub(crate) fn from_object_store(err: object_store::Error, what: &str) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(ours) = e.downcast_ref::<Error>() {
            return copy_of(ours);
        }
        source = e.source();
    }
    let kind = match &err {
        object_store::Error::NotFound { .. } => ErrorKind::NotFound,
        object_store::Error::PermissionDenied { .. } => ErrorKind::AccessDenied,
        object_store::Error::Unauthenticated { .. } => ErrorKind::InvalidCredentials,
        object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented { .. } => {
            ErrorKind::Unsupported
        }
        object_store::Error::InvalidPath { .. } => ErrorKind::InvalidInput,
        _ => ErrorKind::Other,
    };
    Error::new(kind, format!("{what} failed: {}", redact(&err.to_string())))
}

/// The same error again (ours are not `Clone`, they may hold a source).
pub(crate) fn copy_of(e: &Error) -> Error {
    let mut out =
        Error::new(e.kind().clone(), e.message().to_string()).with_retryable(e.is_retryable());
    if let Some(s) = e.http_status() {
        out = out.with_http_status(s);
    }
    if let Some(c) = e.vendor_code() {
        out = out.with_vendor_code(c);
    }
    if let Some(r) = e.request_id() {
        out = out.with_request_id(r);
    }
    if let Some(k) = e.key() {
        out = out.with_key(k);
    }
    out
}

/// `text` with every URL query removed: a SAS token (`sig=…`) must never reach a message.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(q) = rest.find('?') {
        out.push_str(&rest[..q]);
        let tail = &rest[q..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')')
            .unwrap_or(tail.len());
        if tail[..end].contains('=') {
            out.push_str("?<query removed>");
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, code: &str, message: &str) -> Error {
        Refusal {
            status,
            code: Some(code.into()),
            message: Some(message.into()),
            request_id: Some("rid-1".into()),
        }
        .into_error(AuthKind::SharedKey)
    }

    #[test]
    fn codes_become_kinds_with_their_fix() {
        let e = refusal(
            404,
            "ContainerNotFound",
            "The specified container does not exist.",
        );
        assert_eq!(e.kind(), &ErrorKind::BucketNotFound);
        assert_eq!(e.vendor_code(), Some("ContainerNotFound"));
        assert_eq!(e.request_id(), Some("rid-1"));
        let e = refusal(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request.",
        );
        assert_eq!(e.kind(), &ErrorKind::SignatureMismatch);
        assert!(e.to_string().contains("secretKey"), "{e}");
        let e = refusal(
            403,
            "AuthorizationFailure",
            "Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature.",
        );
        assert_eq!(e.kind(), &ErrorKind::SignatureMismatch);
        let e = refusal(
            403,
            "AuthorizationFailure",
            "This request is not authorized to perform this operation.",
        );
        assert_eq!(e.kind(), &ErrorKind::AccessDenied);
        let e = refusal(
            400,
            "Md5Mismatch",
            "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
        );
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch);
        assert!(e.is_retryable());
        let e = refusal(
            400,
            "InvalidOperation",
            "Provided contentMD5 doesn't match.",
        );
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch);
        let e = refusal(503, "ServerBusy", "Egress is over the account limit.");
        assert_eq!(e.kind(), &ErrorKind::RateLimited);
        assert!(e.is_retryable());
        let e = refusal(
            404,
            "ResourceNotFound",
            "The specified resource does not exist.",
        );
        assert_eq!(e.kind(), &ErrorKind::InvalidCredentials);
        assert!(e.to_string().contains("accessKey"), "{e}");
    }

    #[test]
    fn a_head_refusal_is_read_from_its_header() {
        let mut h = http::HeaderMap::new();
        h.insert("x-ms-error-code", "BlobNotFound".parse().unwrap());
        h.insert("x-ms-request-id", "abc".parse().unwrap());
        let r = Refusal::read(404, &h, b"");
        assert_eq!(r.code.as_deref(), Some("BlobNotFound"));
        assert_eq!(
            r.into_error(AuthKind::SharedKey).kind(),
            &ErrorKind::NotFound
        );
    }

    #[test]
    fn the_body_gives_code_and_first_line() {
        let body = b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.\nRequestId:1\nTime:2026</Message></Error>";
        let r = Refusal::read(404, &http::HeaderMap::new(), body);
        assert_eq!(r.code.as_deref(), Some("BlobNotFound"));
        assert_eq!(
            r.message.as_deref(),
            Some("The specified blob does not exist.")
        );
    }

    #[test]
    fn queries_are_removed_from_text() {
        let t = redact(
            "Error performing GET https://a.blob.core.windows.net/c/k?sv=2022&sig=SECRET%3D in 1s - oops? yes",
        );
        assert!(!t.contains("SECRET"), "{t}");
        assert!(
            t.contains("https://a.blob.core.windows.net/c/k?<query removed>"),
            "{t}"
        );
        assert!(t.ends_with("oops? yes"), "{t}");
    }
}
