//! Qiniu's answers to Stowage errors. Qiniu uses the HTTP status as its error code and puts
//! a sentence in `{"error": "…"}`; the request id is in `X-Reqid`. Codes
//! (developer.qiniu.com/kodo/3928/error-responses): 400 bad request, 401 bad or expired
//! token, 403 forbidden, 404 not found (downloads), 406 checksum mismatch, 413 too large,
//! 419 account frozen, 573 rate limited, 579 callback failed, 599 server error, 608 content
//! changed, 612 no such resource, 614 already exists, 630 too many buckets, 631 no such
//! bucket, 640 bad marker, 701 bad block context.

use stowage_core::{Error, ErrorKind};

/// What was being done, for codes whose meaning depends on it (612).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Object,
    Upload,
    Bucket,
}

/// An error from Qiniu's answer (`status`, its JSON `body`, its `X-Reqid`).
pub(crate) fn from_answer(status: u16, body: &[u8], request_id: Option<&str>, ctx: Ctx) -> Error {
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP {status} without a Qiniu error body"));
    let (kind, detail) = classify(status, &said, ctx);
    let mut e = Error::new(kind, format!("Kodo answered \"{said}\"{detail}"))
        .with_vendor_code(status.to_string())
        .with_http_status(status);
    if let Some(id) = request_id {
        e = e.with_request_id(id);
    }
    e
}

/// The kind, and a sentence added when the kind's generic fix is not enough.
fn classify(status: u16, said: &str, ctx: Ctx) -> (ErrorKind, &'static str) {
    let lower = said.to_ascii_lowercase();
    match status {
        401 if lower.contains("expired") || lower.contains("out of date") => (
            ErrorKind::InvalidCredentials,
            ": the upload or download token expired before the request arrived; check this machine's clock and the token lifetime",
        ),
        // `uc`'s query names an unknown access key; elsewhere Qiniu answers an unknown key
        // and a wrong secret alike with 401 "bad token" (see `KodoStore::explain`).
        401 | 612 if lower.contains("accesskey") => (
            ErrorKind::InvalidCredentials,
            ": Qiniu does not know this access key",
        ),
        401 => (ErrorKind::SignatureMismatch, ""),
        403 => (ErrorKind::AccessDenied, ""),
        400 if lower.contains("incorrect region") || lower.contains("incorrect zone") => (
            ErrorKind::WrongRegion {
                bucket_region: zone_in_message(said),
            },
            "",
        ),
        404 if ctx == Ctx::Bucket => (ErrorKind::BucketNotFound, ""),
        404 => (ErrorKind::NotFound, ""),
        406 => (ErrorKind::ChecksumMismatch, ""),
        573 => (ErrorKind::RateLimited, ""),
        612 if ctx == Ctx::Upload => (ErrorKind::UploadNotFound, ""),
        612 => (ErrorKind::NotFound, ""),
        614 => (
            ErrorKind::Other,
            ": the key exists and the upload token forbids overwriting (insertOnly)",
        ),
        631 => (ErrorKind::BucketNotFound, ""),
        400 | 413 | 640 => (ErrorKind::InvalidInput, ""),
        419 => (ErrorKind::AccessDenied, ": the Qiniu account is frozen"),
        579 => (ErrorKind::Other, ": the upload callback failed"),
        s if s >= 500 => (ErrorKind::ServerError, ""),
        _ => (ErrorKind::Other, ""),
    }
}

/// `z2` from "incorrect region, please use up-z2.qiniup.com".
fn zone_in_message(said: &str) -> Option<String> {
    let host = said.split_whitespace().find(|w| w.contains(".qiniu"))?;
    let first = host.split('.').next()?;
    let (_, zone) = first.split_once('-')?;
    Some(zone.to_owned()).filter(|z| !z.is_empty())
}

/// `e` as an unknown-access-key error, keeping its context.
pub(crate) fn unknown_access_key(e: &Error, access_key: &str) -> Error {
    let message = format!(
        "{} (Qiniu's uc service does not know access key `{access_key}`)",
        e.message()
    );
    rekind(e, ErrorKind::InvalidCredentials, message)
}

/// `e` with the bucket's zone, asked from `uc` after a wrong-zone answer that did not say it.
pub(crate) fn in_zone(e: &Error, zone: String) -> Error {
    let kind = ErrorKind::WrongRegion {
        bucket_region: Some(zone),
    };
    rekind(e, kind, e.message().to_owned())
}

/// A new error of `kind` with `message` and every piece of context `e` has.
fn rekind(e: &Error, kind: ErrorKind, message: String) -> Error {
    let mut out = Error::new(kind, message);
    if let Some(b) = e.bucket() {
        out = out.with_bucket(b);
    }
    if let Some(k) = e.key() {
        out = out.with_key(k);
    }
    if let Some(c) = e.vendor_code() {
        out = out.with_vendor_code(c);
    }
    if let Some(s) = e.http_status() {
        out = out.with_http_status(s);
    }
    if let Some(r) = e.request_id() {
        out = out.with_request_id(r);
    }
    out
}

/// A transport failure: the connection broke or never opened.
pub(crate) fn from_transport(e: reqwest::Error) -> Error {
    // reqwest's Display names the URL, which for a private download carries a token:
    // strip it from the message.
    let e = e.without_url();
    if let Some(why) = stowage_core::tls::certificate_failure(&e) {
        return Error::new(
            ErrorKind::Tls,
            format!("TLS handshake with Kodo failed: {why}"),
        )
        .with_source(e);
    }
    Error::new(ErrorKind::Network, format!("request to Kodo failed: {e}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is reported when the store cannot follow (a second zone, or `uc` unreachable):
    /// the zone `uc` named, with the fix, and the key and code kept.
    #[test]
    fn a_wrong_zone_completed_from_uc_names_the_zone_and_keeps_the_context() {
        let said = serde_json::json!({ "error": "incorrect region" }).to_string();
        let e = from_answer(400, said.as_bytes(), Some("id1"), Ctx::Object).with_key("a.ts");
        let e = in_zone(&e, "as0".into());
        assert_eq!(e.bucket_region(), Some("as0"));
        assert_eq!((e.vendor_code(), e.key()), (Some("400"), Some("a.ts")));
        assert!(e.to_string().contains("region `as0`"), "{e}");
        assert!(e.to_string().contains("use that region"), "{e}");
    }

    fn kind(status: u16, said: &str, ctx: Ctx) -> ErrorKind {
        let body = serde_json::json!({ "error": said }).to_string();
        from_answer(status, body.as_bytes(), Some("id1"), ctx)
            .kind()
            .clone()
    }

    #[test]
    fn codes_to_kinds() {
        assert_eq!(
            kind(401, "bad token", Ctx::Object),
            ErrorKind::SignatureMismatch
        );
        assert_eq!(
            kind(401, "token out of date", Ctx::Object),
            ErrorKind::InvalidCredentials
        );
        assert_eq!(
            kind(612, "app/accesskey is not found", Ctx::Bucket),
            ErrorKind::InvalidCredentials
        );
        assert_eq!(
            kind(631, "no such bucket", Ctx::Object),
            ErrorKind::BucketNotFound
        );
        assert_eq!(
            kind(612, "no such file or directory", Ctx::Object),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(612, "no such uploadId", Ctx::Upload),
            ErrorKind::UploadNotFound
        );
        assert_eq!(
            kind(
                400,
                "incorrect zone, please use up-z1.qiniu.com",
                Ctx::Object
            ),
            ErrorKind::WrongRegion {
                bucket_region: Some("z1".into())
            }
        );
        assert_eq!(
            kind(
                400,
                "incorrect region, please use up-z2.qiniup.com, bucket is: rec",
                Ctx::Object
            ),
            ErrorKind::WrongRegion {
                bucket_region: Some("z2".into())
            }
        );
        assert_eq!(
            kind(599, "server error", Ctx::Object),
            ErrorKind::ServerError
        );
        assert_eq!(
            kind(573, "too many requests", Ctx::Object),
            ErrorKind::RateLimited
        );
        assert_eq!(
            kind(
                400,
                "incorrect region, please use up-z2.qiniup.com",
                Ctx::Object
            ),
            ErrorKind::WrongRegion {
                bucket_region: Some("z2".into())
            }
        );
        assert_eq!(
            kind(
                400,
                "incorrect region, please use up-cn-east-2.qiniup.com",
                Ctx::Object
            ),
            ErrorKind::WrongRegion {
                bucket_region: Some("cn-east-2".into())
            }
        );
    }

    #[test]
    fn message_has_code_request_id_and_fix() {
        let e = from_answer(
            579,
            br#"{"error":"callback failed"}"#,
            Some("rq-9"),
            Ctx::Object,
        );
        let s = e.to_string();
        assert!(
            s.contains("callback failed") && s.contains("code 579"),
            "{s}"
        );
        assert!(s.contains("request id rq-9") && s.contains("Fix:"), "{s}");
        let raw = from_answer(502, b"<html>bad gateway</html>", None, Ctx::Object);
        assert!(!raw.to_string().contains("<html>"), "{raw}");
        assert!(raw.is_retryable());
    }
}
