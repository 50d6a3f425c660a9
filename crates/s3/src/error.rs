//! aws-sdk-s3 errors → Stowage errors: a kind from the S3 error code (or the HTTP status
//! when a HEAD response has no body), the request id, and for redirects the bucket's real
//! region. Raw XML and request details never reach the message.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response;
use stowage_core::{Error, ErrorKind};

use crate::reply::NotS3Reply;

/// Where an error happened, for its message.
pub(crate) struct Ctx<'a> {
    pub bucket: &'a str,
    pub key: Option<&'a str>,
    pub endpoint: &'a str,
}

pub(crate) fn map_sdk_error<E>(err: SdkError<E, Response>, ctx: &Ctx<'_>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let refused = refusal(&err);
    let mapped = match &err {
        SdkError::ResponseError(re) if let Some(refused) = refused => {
            refused_answer(re.raw(), refused, ctx)
        }
        SdkError::ServiceError(se) => match not_s3_answer(se.err(), se.raw(), ctx) {
            Some(unexpected) => unexpected,
            None => from_service(se.err(), se.raw()),
        },
        SdkError::TimeoutError(_) => Error::new(
            ErrorKind::Network,
            format!("request to {} timed out", ctx.endpoint),
        ),
        SdkError::DispatchFailure(df) => dispatch_failure(df, &err, ctx),
        SdkError::ResponseError(re) => Error::new(
            ErrorKind::Network,
            format!(
                "the response from {} could not be read (HTTP {})",
                ctx.endpoint,
                re.raw().status().as_u16()
            ),
        )
        .with_http_status(re.raw().status().as_u16()),
        _ => construction_failure(&err),
    };
    let mapped = mapped.with_bucket(ctx.bucket);
    match ctx.key {
        Some(k) => mapped.with_key(k),
        None => mapped,
    }
}

/// The interceptor's refusal ([`crate::reply::ReplyCheck`]), wherever the SDK put it in the
/// error's chain of sources.
fn refusal<E>(err: &SdkError<E, Response>) -> Option<&NotS3Reply>
where
    E: std::error::Error + 'static,
{
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<NotS3Reply>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// The interceptor's refusal, judged again with the endpoint named (its own judgement, made
/// without it, if the two somehow differ).
fn refused_answer(raw: &Response, refused: &NotS3Reply, ctx: &Ctx<'_>) -> Error {
    crate::reply::check(raw, Some(ctx.endpoint), refused.object, refused.head)
        .err()
        .unwrap_or_else(|| {
            Error::new(refused.error.kind().clone(), refused.error.message())
                .with_http_status(raw.status().as_u16())
        })
}

/// An answer the SDK could not read that is not S3's (S3's own errors carry a code): a 2xx
/// that is not the operation's XML (empty, an HTML page, not XML), a redirect without any
/// `x-amz-` header (a login page), a 4xx HTML page.
fn not_s3_answer<E: ProvideErrorMetadata>(e: &E, raw: &Response, ctx: &Ctx<'_>) -> Option<Error> {
    if e.code().is_some_and(|c| !c.is_empty()) {
        return None;
    }
    if raw.status().is_success() {
        return Some(crate::reply::not_xml(raw, ctx.endpoint));
    }
    crate::reply::check(raw, Some(ctx.endpoint), false, false).err()
}

fn dispatch_failure<E, R>(
    df: &aws_smithy_runtime_api::client::result::DispatchFailure,
    whole: &SdkError<E, R>,
    ctx: &Ctx<'_>,
) -> Error
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(whole).to_string();
    if looks_like_missing_credentials(&text) {
        return missing_credentials();
    }
    let connector = df.as_connector_error();
    if let Some(why) = connector.and_then(|c| stowage_core::tls::certificate_failure(c)) {
        return Error::new(
            ErrorKind::Tls,
            format!("TLS handshake with {} failed: {why}", ctx.endpoint),
        );
    }
    let what = if df.is_timeout() {
        "timed out"
    } else if df.is_io() {
        "failed (connection refused, reset or DNS failure)"
    } else {
        "failed"
    };
    Error::new(
        ErrorKind::Network,
        format!("connecting to {} {what}", ctx.endpoint),
    )
}

fn construction_failure<E, R>(err: &SdkError<E, R>) -> Error
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(err).to_string();
    if looks_like_missing_credentials(&text) {
        return missing_credentials();
    }
    Error::new(
        ErrorKind::InvalidInput,
        format!("request could not be built: {text}"),
    )
}

fn looks_like_missing_credentials(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("credentials") || t.contains("identity")
}

fn missing_credentials() -> Error {
    Error::new(
        ErrorKind::InvalidCredentials,
        "no credentials found: pass --access-key and --secret-key, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile",
    )
}

fn from_service<E: ProvideErrorMetadata>(e: &E, raw: &Response) -> Error {
    let status = raw.status().as_u16();
    let code = e.code().unwrap_or("");
    let region_header = raw.headers().get("x-amz-bucket-region").map(str::to_string);
    let kind = kind_for(code, status, region_header, e.message());
    let message = e
        .message()
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| default_message(code, status));
    let mut out = Error::new(kind, message).with_http_status(status);
    if !code.is_empty() {
        out = out.with_vendor_code(code);
    }
    if let Some(id) = raw.headers().get("x-amz-request-id") {
        out = out.with_request_id(id);
    }
    out
}

fn default_message(code: &str, status: u16) -> String {
    if code.is_empty() {
        format!("the server answered HTTP {status}")
    } else {
        format!("the server answered {code}")
    }
}

/// The Stowage kind for an S3 error code, falling back to the HTTP status.
pub(crate) fn kind_for(
    code: &str,
    status: u16,
    region_header: Option<String>,
    message: Option<&str>,
) -> ErrorKind {
    match code {
        "NoSuchKey" => ErrorKind::NotFound,
        "NoSuchBucket" => ErrorKind::BucketNotFound,
        "NoSuchUpload" => ErrorKind::UploadNotFound,
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => ErrorKind::AccessDenied,
        "InvalidAccessKeyId"
        | "NotSignedUp"
        | "ExpiredToken"
        | "InvalidToken"
        | "TokenRefreshRequired" => ErrorKind::InvalidCredentials,
        "SignatureDoesNotMatch" => ErrorKind::SignatureMismatch,
        "RequestTimeTooSkewed" | "RequestExpired" => ErrorKind::ClockSkew,
        "PermanentRedirect"
        | "Redirect"
        | "TemporaryRedirect"
        | "IllegalLocationConstraintException" => ErrorKind::WrongRegion {
            bucket_region: region_header,
        },
        "AuthorizationHeaderMalformed" => ErrorKind::WrongRegion {
            bucket_region: region_header.or_else(|| message.and_then(expected_region)),
        },
        "SlowDown" | "TooManyRequests" | "RequestLimitExceeded" | "Throttling" => {
            ErrorKind::RateLimited
        }
        "BadDigest"
        | "InvalidDigest"
        | "XAmzContentSHA256Mismatch"
        | "XAmzContentChecksumMismatch" => ErrorKind::ChecksumMismatch,
        "InternalError" | "ServiceUnavailable" => ErrorKind::ServerError,
        "NotImplemented" => ErrorKind::Unsupported,
        "InvalidArgument" | "InvalidRequest" | "EntityTooSmall" | "EntityTooLarge"
        | "InvalidPart" | "InvalidPartOrder" | "KeyTooLongError" | "InvalidBucketName"
        | "InvalidRange" => ErrorKind::InvalidInput,
        _ => kind_for_status(status, region_header),
    }
}

fn kind_for_status(status: u16, region_header: Option<String>) -> ErrorKind {
    match status {
        301 | 307 => ErrorKind::WrongRegion {
            bucket_region: region_header,
        },
        400 if region_header.is_some() => ErrorKind::WrongRegion {
            bucket_region: region_header,
        },
        403 => ErrorKind::AccessDenied,
        404 => ErrorKind::NotFound,
        429 | 503 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::Other,
    }
}

/// The region in "the region 'us-east-1' is wrong; expecting 'eu-west-1'".
fn expected_region(message: &str) -> Option<String> {
    let rest = message.split("expecting '").nth(1)?;
    Some(rest.split('\'').next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(
            kind_for("NoSuchBucket", 404, None, None),
            ErrorKind::BucketNotFound
        );
        assert_eq!(
            kind_for("SignatureDoesNotMatch", 403, None, None),
            ErrorKind::SignatureMismatch
        );
        assert_eq!(
            kind_for("InvalidAccessKeyId", 403, None, None),
            ErrorKind::InvalidCredentials
        );
        assert_eq!(
            kind_for("RequestTimeTooSkewed", 403, None, None),
            ErrorKind::ClockSkew
        );
        assert_eq!(kind_for("", 404, None, None), ErrorKind::NotFound);
        assert_eq!(kind_for("", 503, None, None), ErrorKind::RateLimited);
        assert_eq!(kind_for("Weird", 502, None, None), ErrorKind::ServerError);
    }

    #[test]
    fn redirects_carry_the_bucket_region() {
        let k = kind_for("", 301, Some("eu-west-1".into()), None);
        assert_eq!(
            k,
            ErrorKind::WrongRegion {
                bucket_region: Some("eu-west-1".into())
            }
        );
        let k = kind_for(
            "AuthorizationHeaderMalformed",
            400,
            None,
            Some(
                "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'ap-southeast-1'",
            ),
        );
        assert_eq!(
            k,
            ErrorKind::WrongRegion {
                bucket_region: Some("ap-southeast-1".into())
            }
        );
    }
}
