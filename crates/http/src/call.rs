//! One request as an adapter builds it, and a reply with its body read.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use stowage_core::payload::Payload;
use stowage_core::{Error, Result};

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

    /// Whether the request carries a body (and so a `Content-Length`).
    pub fn has_body(&self) -> bool {
        self.method != reqwest::Method::GET && self.method != reqwest::Method::HEAD
    }
}

/// A successful response with its body read.
pub struct Reply {
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

/// A 2xx response as it is; any other becomes the vendor's [`Error`] (its body read).
pub async fn check_status(
    resp: reqwest::Response,
    to_error: fn(u16, &HeaderMap, &[u8]) -> Error,
) -> Result<reqwest::Response> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    Err(to_error(status, &headers, &body))
}
