//! GCS's refusals turned into Stowage's kinds, with the cause and the fix; never a raw
//! document, never a token.

use stowage_core::{Error, ErrorKind};
use stowage_http::reply::{is_html_page, page_title};

use crate::wire::ErrorDoc;

/// What a refused request was, for the message.
pub(crate) struct Context<'a> {
    /// `gs://bucket`.
    pub store: &'a str,
    /// `scheme://host[:port]` of the endpoint.
    pub origin: &'a str,
    /// What was being done ("upload", "list").
    pub what: &'a str,
}

/// The error for an answer with status ≥ 300. `body` is at most a few KiB of it.
pub(crate) fn refusal(
    ctx: &Context<'_>,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Error {
    let doc: Option<ErrorDoc> = serde_json::from_slice(body).ok();
    let Some(doc) = doc else {
        return plain_text(ctx, status, content_type, body)
            .unwrap_or_else(|| not_gcs(ctx, status, content_type, body));
    };
    let reason = doc
        .error
        .errors
        .iter()
        .find_map(|e| e.reason.clone())
        .unwrap_or_default();
    let said = doc
        .error
        .message
        .as_deref()
        .map(short)
        .unwrap_or_else(|| reason.clone());
    let (kind, msg) = match status {
        400 if mentions_hash(&said) => (
            ErrorKind::ChecksumMismatch,
            format!(
                "Google Cloud Storage refused the {}: the bytes it received do not have the MD5/CRC-32C sent with them ({said}); the local file may have changed while being read",
                ctx.what
            ),
        ),
        400 => (
            ErrorKind::InvalidInput,
            format!(
                "Google Cloud Storage refused the {} as invalid: {said}",
                ctx.what
            ),
        ),
        401 => (
            ErrorKind::InvalidCredentials,
            format!(
                "Google Cloud Storage refused the credentials for {} ({said}): the OAuth token is missing, expired or revoked. Set GOOGLE_APPLICATION_CREDENTIALS to an active service-account key file of the bucket's project",
                ctx.store
            ),
        ),
        403 => (
            ErrorKind::AccessDenied,
            format!(
                "Google Cloud Storage denied the {} on {} ({said}): grant the service account a role with storage.objects.create, get, list and delete on the bucket (roles/storage.objectAdmin)",
                ctx.what, ctx.store
            ),
        ),
        404 => (
            ErrorKind::NotFound,
            format!("{} has no such object ({said})", ctx.store),
        ),
        408 | 429 => (
            ErrorKind::RateLimited,
            format!(
                "Google Cloud Storage asked to slow down ({said}); the {} is retried",
                ctx.what
            ),
        ),
        s if s >= 500 => (
            ErrorKind::ServerError,
            format!(
                "Google Cloud Storage failed the {} with HTTP {s} ({said})",
                ctx.what
            ),
        ),
        s => (
            ErrorKind::Other,
            format!(
                "Google Cloud Storage refused the {} with HTTP {s} ({said})",
                ctx.what
            ),
        ),
    };
    let mut e = Error::new(kind, msg).with_http_status(status);
    if !reason.is_empty() {
        e = e.with_vendor_code(reason);
    }
    e
}

/// A short plain-text refusal (GCS answers media downloads that way: `No such object:
/// …`), by its status; `None` for anything else (an HTML page, a long body).
fn plain_text(
    ctx: &Context<'_>,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<Error> {
    let text_plain = content_type.is_some_and(|t| t.starts_with("text/plain"));
    if !text_plain || body.len() > 300 || is_html_page(content_type, body) || status < 400 {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let said = short(text.lines().next().unwrap_or_default());
    let kind = match status {
        400 if mentions_hash(&said) => ErrorKind::ChecksumMismatch,
        400 => ErrorKind::InvalidInput,
        401 => ErrorKind::InvalidCredentials,
        408 => ErrorKind::RateLimited,
        s => stowage_http::errors::kind_by_status(s),
    };
    let msg = match kind {
        ErrorKind::NotFound => format!("{} has no such object ({said})", ctx.store),
        _ => format!(
            "Google Cloud Storage refused the {} with HTTP {status} ({said})",
            ctx.what
        ),
    };
    Some(Error::new(kind, msg).with_http_status(status))
}

/// The bucket itself is missing.
pub(crate) fn bucket_missing(store: &str) -> Error {
    Error::new(
        ErrorKind::BucketNotFound,
        format!(
            "{store} does not exist: check the bucket's name (and the project), or create it (gcloud storage buckets create {store})"
        ),
    )
    .with_http_status(404)
}

/// An answer that is not in GCS's JSON: an HTML page, an empty body, a proxy's text.
pub(crate) fn not_gcs(
    ctx: &Context<'_>,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Error {
    let what = if is_html_page(content_type, body) {
        match page_title(body) {
            Some(t) => format!("an HTML page titled {:?}", short(&t)),
            None => "an HTML page".to_string(),
        }
    } else if body.is_empty() {
        "an empty body".to_string()
    } else {
        format!(
            "{} bytes of {}",
            body.len(),
            content_type.unwrap_or("untyped content")
        )
    };
    let kind = if status >= 500 {
        ErrorKind::ServerError
    } else {
        ErrorKind::UnexpectedReply
    };
    Error::new(
        kind,
        format!(
            "the endpoint {} answered the {} with HTTP {status} and {what}, not Google Cloud Storage's JSON: it is not a Google Cloud Storage server (a wrong endpoint, a proxy or a captive portal answers in its place)",
            ctx.origin, ctx.what
        ),
    )
    .with_http_status(status)
}

fn mentions_hash(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("md5") || m.contains("crc32c") || m.contains("hash") || m.contains("checksum")
}

/// At most 300 characters of a server's sentence.
fn short(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Context<'static> = Context {
        store: "gs://rec",
        origin: "https://storage.googleapis.com",
        what: "upload",
    };

    #[test]
    fn refusals_become_kinds_with_the_fix() {
        let doc = br#"{"error":{"code":400,"message":"Provided MD5 hash \"AAAA\" doesn't match calculated MD5 hash \"XUFA\".","errors":[{"domain":"global","reason":"invalid","message":"x"}]}}"#;
        let e = refusal(&CTX, 400, Some("application/json"), doc);
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch);
        assert_eq!(e.vendor_code(), Some("invalid"));
        let doc = br#"{"error":{"code":401,"message":"Invalid Credentials","errors":[{"reason":"authError"}]}}"#;
        let e = refusal(&CTX, 401, Some("application/json"), doc);
        assert_eq!(e.kind(), &ErrorKind::InvalidCredentials);
        assert!(
            e.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{e}"
        );
        let doc = br#"{"error":{"code":403,"message":"sa@p.iam.gserviceaccount.com does not have storage.objects.create access","errors":[{"reason":"forbidden"}]}}"#;
        let e = refusal(&CTX, 403, Some("application/json"), doc);
        assert_eq!(e.kind(), &ErrorKind::AccessDenied);
        assert!(e.to_string().contains("roles/storage.objectAdmin"), "{e}");
        let e = refusal(&CTX, 429, None, br#"{"error":{"message":"slow"}}"#);
        assert_eq!(e.kind(), &ErrorKind::RateLimited);
        assert!(e.is_retryable());
    }

    #[test]
    fn pages_that_are_not_gcs_are_named_not_dumped() {
        let page =
            b"<html><head><title>Hotel WiFi login</title></head><body>secret form</body></html>";
        let e = refusal(&CTX, 200, Some("text/html"), page);
        assert_eq!(e.kind(), &ErrorKind::UnexpectedReply);
        assert!(e.to_string().contains("Hotel WiFi login"), "{e}");
        assert!(!e.to_string().contains("secret form"), "{e}");
        let e = refusal(&CTX, 502, None, b"bad gateway");
        assert_eq!(e.kind(), &ErrorKind::ServerError);
    }
}
