//! A static HTTP server over a directory: a stand-in for a bucket's public endpoint or a CDN
//! in front of it, for the verifier's playback check. What a misconfigured bucket gets wrong
//! can be switched on: a generic Content-Type, no CORS header, or a query token required.

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

use crate::s3s_server::{ServerThread, accept_until_stopped};

/// How the server answers.
#[derive(Debug, Clone)]
pub struct StaticOptions {
    /// Content types by extension (as `stowage upload` stores them); `false` answers every file
    /// as `application/octet-stream`, like a bucket whose objects were uploaded without one.
    pub content_types: bool,
    /// `Access-Control-Allow-Origin: *` on every answer.
    pub cors: bool,
    /// When set, requests without `?token=<this>` get 403 (a CDN's URL auth).
    pub token: Option<String>,
}

impl Default for StaticOptions {
    fn default() -> Self {
        StaticOptions {
            content_types: true,
            cors: true,
            token: None,
        }
    }
}

/// Serves `root` on 127.0.0.1 until dropped.
pub struct StaticServer {
    addr: SocketAddr,
    _thread: ServerThread,
}

impl StaticServer {
    pub fn start(root: impl Into<PathBuf>, opts: StaticOptions) -> io::Result<StaticServer> {
        let listener = StdTcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new((root.into(), opts));
        let thread = ServerThread::spawn("stowage-static", move |stop| async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            accept_until_stopped(listener, stop, |socket| {
                let state = state.clone();
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(answer(&state.0, &state.1, &req)) }
                });
                let conn = http
                    .serve_connection(TokioIo::new(socket), service)
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            })
            .await;
        })?;
        Ok(StaticServer {
            addr,
            _thread: thread,
        })
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn answer(
    root: &std::path::Path,
    opts: &StaticOptions,
    req: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let uri = req.uri();
    if let Some(token) = &opts.token {
        let wanted = format!("token={token}");
        if !uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == wanted))
        {
            return status(StatusCode::FORBIDDEN, opts);
        }
    }
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|s| s == ".." || s.starts_with('.')) {
        return status(StatusCode::NOT_FOUND, opts);
    }
    let Ok(data) = std::fs::read(root.join(rel)) else {
        return status(StatusCode::NOT_FOUND, opts);
    };
    let content_type = if opts.content_types {
        stowage_core::content_type::for_key(rel)
    } else {
        "application/octet-stream".to_string()
    };
    let (code, body) = match byte_range(req, data.len()) {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, data[a..=b].to_vec()),
        None => (StatusCode::OK, data),
    };
    let mut resp = Response::builder()
        .status(code)
        .header("content-type", content_type);
    if opts.cors {
        resp = resp.header("access-control-allow-origin", "*");
    }
    resp.body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// `Range: bytes=a-b` within the file, inclusive.
fn byte_range(req: &Request<Incoming>, len: usize) -> Option<(usize, usize)> {
    let spec = req.headers().get("range")?.to_str().ok()?;
    let (a, b) = spec.strip_prefix("bytes=")?.split_once('-')?;
    let a: usize = a.parse().ok()?;
    let b: usize = b.parse::<usize>().ok()?.min(len.checked_sub(1)?);
    (a <= b).then_some((a, b))
}

fn status(code: StatusCode, opts: &StaticOptions) -> Response<Full<Bytes>> {
    let mut resp = Response::builder().status(code);
    if opts.cors {
        resp = resp.header("access-control-allow-origin", "*");
    }
    resp.body(Full::new(Bytes::new()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
