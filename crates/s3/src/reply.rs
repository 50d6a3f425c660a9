//! Answers that are not S3's: an `--endpoint` that is a web server, a reverse proxy or a
//! captive portal answers `200 OK` with an HTML page, which the SDK reads as a successful
//! PutObject (its output is headers only). [`ReplyCheck`], an interceptor on every client,
//! refuses a 2xx HTML page where the API answers (not GetObject's bytes or HeadObject's
//! headers, whose content type is the object's), and a HeadBucket typed HTML without any
//! `x-amz-` header. Answers the SDK itself fails to read (a redirect to a login page, a 4xx
//! page, an empty or non-XML 2xx where XML is due) are judged in [`crate::error`] from the
//! raw response, by the same rules ([`stowage_http::reply`]).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::config_bag::ConfigBag;
use stowage_core::Error;
use stowage_http::reply::{Answer, Format, Unexpected, Vendor};

/// S3: its answers carry `x-amz-` headers (request id, bucket region, checksums).
pub(crate) const S3: Vendor = Vendor {
    name: "S3",
    article: "an",
    mark: "x-amz-",
};

/// The interceptor's refusal, found again in the SDK's error by [`crate::error`]: the
/// interceptor's own judgement, and whether the answer was an object's (for judging the raw
/// response again with the endpoint named).
#[derive(Debug)]
pub(crate) struct NotS3Reply {
    pub(crate) object: bool,
    pub(crate) head: bool,
    pub(crate) error: Error,
}

impl std::fmt::Display for NotS3Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for NotS3Reply {}

/// Refuses successful answers that are not S3's (see the module's doc).
#[derive(Debug, Default)]
pub(crate) struct ReplyCheck;

impl Intercept for ReplyCheck {
    fn name(&self) -> &'static str {
        "StowageReplyCheck"
    }

    /// After deserialization: the body of every non-streaming answer is in memory then, so a
    /// page is seen whatever its `Content-Type`. Answers that already failed are left to the
    /// error mapping (replacing their error here would only hide it).
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.output_or_error().is_err() {
            return Ok(());
        }
        let operation = cfg.load::<Metadata>().map(Metadata::name);
        let object = matches!(operation, Some("GetObject" | "HeadObject"));
        let head = matches!(operation, Some("HeadObject" | "HeadBucket"));
        let raw = context.response();
        match check(raw, None, object, head) {
            Ok(()) => Ok(()),
            Err(error) => Err(Box::new(NotS3Reply {
                object,
                head,
                error,
            })),
        }
    }
}

/// `Err` when `raw` is not S3's answer ([`Unexpected::check`]).
pub(crate) fn check(
    raw: &Response,
    endpoint: Option<&str>,
    object: bool,
    head: bool,
) -> Result<(), Error> {
    let body = raw.body().bytes().unwrap_or_default();
    unexpected(endpoint).check(&answer(raw, head, body), object)
}

/// A 2xx the SDK could not read as the operation's XML: an HTML page, an empty body, not
/// XML, or another document.
pub(crate) fn not_xml(raw: &Response, endpoint: &str) -> Error {
    let body = raw.body().bytes().unwrap_or_default();
    unexpected(Some(endpoint)).not_document(
        "the request",
        Format::Xml,
        &answer(raw, false, body),
        None,
    )
}

fn unexpected(endpoint: Option<&str>) -> Unexpected<'_> {
    Unexpected {
        vendor: S3,
        endpoint,
    }
}

fn answer<'a>(raw: &'a Response, head: bool, body: &'a [u8]) -> Answer<'a> {
    let headers = raw.headers();
    Answer {
        status: raw.status().as_u16(),
        content_type: headers.get("content-type"),
        location: headers.get("location"),
        marked: S3.marks(headers.iter().map(|(name, _)| name)),
        head,
        body,
    }
}
