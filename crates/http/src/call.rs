//! One request as an adapter builds it, and a reply with its body read.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use stowage_core::payload::Payload;
use stowage_core::{Error, Result};

use crate::check::Dialect;
use crate::errors::from_transport;
use crate::reply::Answer;

/// One request: method, object key (`None`: the bucket), query and headers in the order
/// given (they are signed that way), and the body.
pub struct Call<'a> {
    pub method: reqwest::Method,
    pub key: Option<&'a str>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub payload: Payload,
}

impl<'a> Call<'a> {
    pub fn new(method: reqwest::Method, key: Option<&'a str>) -> Self {
        Call {
            method,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            payload: Payload::Empty,
        }
    }

    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }

    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    pub fn payload(mut self, payload: Payload) -> Self {
        self.payload = payload;
        self
    }

    /// Whether the answer is an object's own (GET or HEAD of a key, no subresource): its
    /// content type and body are the object's, not the API's.
    pub fn answers_with_object(&self) -> bool {
        let read = self.method == reqwest::Method::GET || self.method == reqwest::Method::HEAD;
        read && self.key.is_some() && self.query.is_empty()
    }

    /// Whether the request carries a body (and so a `Content-Length`).
    pub fn has_body(&self) -> bool {
        self.method != reqwest::Method::GET && self.method != reqwest::Method::HEAD
    }
}

/// A successful response with its body read.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_str(&self.headers, name)
    }
}

/// A header's value, when present and visible ASCII.
pub fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A 2xx response as it is; any other becomes the vendor's [`Error`] (its body read), or an
/// [`ErrorKind::UnexpectedReply`](stowage_core::ErrorKind::UnexpectedReply) when it is not
/// the vendor's at all (a redirect without the vendor's headers, a 4xx HTML page: see
/// [`crate::reply`]). `endpoint` names the server in that message.
pub async fn check_status(
    resp: reqwest::Response,
    dialect: &Dialect,
    endpoint: &str,
    to_error: fn(u16, &HeaderMap, &[u8]) -> Error,
) -> Result<reqwest::Response> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    let answer = Answer::from_headers(&dialect.vendor, status, &headers, false, &body);
    dialect.unexpected(endpoint).check(&answer, false)?;
    Err(to_error(status, &headers, &body))
}

/// Reads a 2xx answer to `call` whole, refusing one that is not the vendor's: an HTML page
/// where the API answers, a HEAD of the bucket typed HTML without the vendor's headers, and
/// an upload (PUT) answered with none of the vendor's headers (no request id, CRC-64 or
/// ETag). An object's own answer (GET or HEAD of a key) keeps its content type.
pub async fn read_reply(
    resp: reqwest::Response,
    call: &Call<'_>,
    dialect: &Dialect,
    endpoint: &str,
) -> Result<Reply> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .bytes()
        .await
        .map_err(|e| from_transport(e, endpoint))?;
    let head = call.method == reqwest::Method::HEAD;
    let answer = Answer::from_headers(&dialect.vendor, status, &headers, head, &body);
    let unexpected = dialect.unexpected(endpoint);
    unexpected.check(&answer, call.answers_with_object())?;
    let upload = call.method == reqwest::Method::PUT && call.key.is_some();
    let proof = headers.contains_key(dialect.crc64_header) || headers.contains_key("etag");
    if upload && !answer.marked && !proof {
        return Err(unexpected.unmarked_upload(&answer, dialect.crc64_header));
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}
