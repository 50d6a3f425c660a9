//! The HTTP client object_store sends through (its `HttpConnector`), and this crate's own
//! requests too: our reqwest 0.12 client (rustls, the `--ca-bundle` roots, no redirects
//! followed), so object_store brings no second HTTP stack.
//!
//! Every answer is judged here, once, for every request:
//! - an answer without any `x-ms-` header (Azure and Azurite send `x-ms-request-id` on
//!   every answer, errors included) is not Azure's: an HTML page, an empty 200, a login
//!   redirect → [`ErrorKind::UnexpectedReply`]; 5xx excepted (a load balancer's 5xx page
//!   is worth a retry);
//! - a 3xx or 4xx from Azure → Azure's code turned into its kind ([`crate::error`]);
//! - 5xx goes back to the caller as an answer, so object_store's retries (and ours) see it.
//!
//! The errors travel inside object_store's as the source of an `HttpError`;
//! [`crate::error::from_object_store`] finds them again.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::BodyExt;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use stowage_core::{Error, ErrorKind};
use stowage_http::reply::{Answer, Unexpected, Vendor};

use crate::error::{AuthKind, Refusal};

/// Azure Blob: every answer of its API carries `x-ms-request-id`.
pub(crate) const AZURE: Vendor = Vendor {
    name: "Azure Blob",
    article: "an",
    mark: "x-ms-",
};

/// How much of an unexpected answer is read to name it (an HTML page's title).
const PEEK: usize = 64 << 10;

/// The client, shared by object_store's requests and ours.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    inner: Arc<Service>,
}

#[derive(Debug)]
pub(crate) struct Service {
    client: reqwest::Client,
    /// `scheme://host[:port]` of the endpoint, for messages.
    origin: String,
    auth: AuthKind,
}

impl Connector {
    pub(crate) fn new(client: reqwest::Client, origin: String, auth: AuthKind) -> Connector {
        Connector {
            inner: Arc::new(Service {
                client,
                origin,
                auth,
            }),
        }
    }

    /// Sends one request (already signed) and judges the answer; a 5xx comes back as an
    /// answer.
    pub(crate) async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.inner.call(req).await
    }
}

impl HttpConnector for Connector {
    fn connect(&self, _options: &object_store::ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(SharedService(self.inner.clone())))
    }
}

#[derive(Debug)]
struct SharedService(Arc<Service>);

#[async_trait]
impl HttpService for SharedService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.0.call(req).await
    }
}

#[async_trait]
impl HttpService for Service {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = req.into_parts();
        let head = parts.method == http::Method::HEAD;
        let body: Bytes = body.collect().await?.to_bytes();
        let reply = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = reply.status().as_u16();
        let marked = AZURE.marks(reply.headers().keys().map(|k| k.as_str()));
        if status >= 500 || (marked && status < 300) {
            return Ok(into_response(reply));
        }
        let headers = reply.headers().clone();
        // A HEAD's refusal has no body: Azure's sentence is in the status line.
        let reason = reply
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .and_then(|r| std::str::from_utf8(r.as_bytes()).ok())
            .map(str::to_string);
        let body = peek(reply).await;
        let err = if marked {
            let mut refusal = Refusal::read(status, &headers, &body);
            if refusal.message.is_none() {
                refusal.message = reason;
            }
            refusal.into_error(self.auth)
        } else {
            self.not_azure(status, &headers, head, &body)
        };
        Err(HttpError::new(HttpErrorKind::Unknown, err))
    }
}

impl Service {
    /// A transport failure, kept retryable where object_store would retry it; the URL
    /// (which may carry a SAS signature) is dropped.
    fn transport(&self, e: reqwest::Error) -> HttpError {
        let kind = if e.is_timeout() {
            HttpErrorKind::Timeout
        } else if e.is_connect() {
            HttpErrorKind::Connect
        } else if e.is_body() || e.is_decode() {
            HttpErrorKind::Interrupted
        } else {
            HttpErrorKind::Request
        };
        let ours = stowage_http::errors::from_transport(e.without_url(), &self.origin);
        HttpError::new(kind, ours)
    }

    fn not_azure(&self, status: u16, headers: &http::HeaderMap, head: bool, body: &[u8]) -> Error {
        let answer = Answer::from_headers(&AZURE, status, headers, head, body);
        let unexpected = Unexpected {
            vendor: AZURE,
            endpoint: Some(&self.origin),
        };
        if let Err(e) = unexpected.check(&answer, false) {
            return e;
        }
        let what = if body.is_empty() {
            "an empty body".to_string()
        } else {
            format!("{} bytes", body.len())
        };
        Error::new(
            ErrorKind::UnexpectedReply,
            format!(
                "the endpoint {} answered HTTP {status} with {what} and none of Azure Blob's x-ms- headers (no request id): it is not an Azure Blob server (or a proxy or captive portal answers in its place)",
                self.origin
            ),
        )
        .with_http_status(status)
    }
}

async fn peek(reply: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = reply.bytes_stream();
    use futures::StreamExt as _;
    while let Some(Ok(chunk)) = stream.next().await {
        out.extend_from_slice(&chunk);
        if out.len() >= PEEK {
            out.truncate(PEEK);
            break;
        }
    }
    out
}

fn into_response(reply: reqwest::Response) -> HttpResponse {
    let response: http::Response<reqwest::Body> = reply.into();
    response.map(|body| {
        HttpResponseBody::new(body.map_err(|e| {
            let e = e.without_url();
            let kind = if e.is_timeout() {
                HttpErrorKind::Timeout
            } else {
                HttpErrorKind::Interrupted
            };
            HttpError::new(kind, e)
        }))
    })
}

/// The Stowage error inside an [`HttpError`] from [`Connector::send`], or a network error.
pub(crate) fn error_of(e: HttpError) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(ours) = s.downcast_ref::<Error>() {
            return crate::error::copy_of(ours);
        }
        source = s.source();
    }
    Error::new(
        ErrorKind::Network,
        format!(
            "the request failed: {}",
            crate::error::redact(&e.to_string())
        ),
    )
}
