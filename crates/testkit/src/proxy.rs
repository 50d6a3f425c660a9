//! A fault-injecting HTTP/1.1 proxy, put between a client and a real server to prove that
//! retries, redirects and failure handling actually happen.
//!
//! Requests are forwarded byte-for-byte in meaning: method, path and query, and every header
//! including `Host` (SigV4 signs it, so rewriting it would break every signature). Like the
//! servers in [`crate::s3s_server`], the proxy runs on its own thread and runtime so that it
//! outlives each `#[tokio::test]` runtime.
//!
//! What a [`FaultRule`] can do to the requests it matches ([`Fault`]):
//! - answer itself: a vendor's error ([`Fault::s3_error`], [`Fault::permanent_redirect`]),
//!   something that is not the vendor at all ([`Fault::html_page`]: a captive portal's HTML
//!   page, with a `Location` to its login page on a 3xx; [`Fault::empty`]: no body, no
//!   `Content-Type`), or any status, headers and body ([`Fault::Status`]);
//! - break the connection ([`Fault::Reset`]);
//! - forward, after a delay ([`Fault::Delay`]) or after running the test's closure
//!   ([`Fault::Run`], e.g. to rewrite a local file between two multipart parts).
//!
//! Every request's method, path and query and headers are recorded ([`FaultProxy::recorded`]),
//! so tests can check a client's addressing and headers (the S3-compatible presets').

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::net::TcpStream;

use crate::s3s_server::{ServerThread, accept_until_stopped};

/// Which requests a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Every request.
    Any,
    /// Requests whose method equals `method` (any method if `None`; case-insensitive) and
    /// whose path-and-query contains `path_contains`.
    Request {
        method: Option<String>,
        path_contains: String,
    },
}

impl Match {
    /// E.g. `Match::request("PUT", "partNumber=2")`.
    pub fn request(method: &str, path_contains: &str) -> Match {
        Match::Request {
            method: Some(method.to_owned()),
            path_contains: path_contains.to_owned(),
        }
    }

    /// Any method, path-and-query containing `path_contains`.
    pub fn path(path_contains: &str) -> Match {
        Match::Request {
            method: None,
            path_contains: path_contains.to_owned(),
        }
    }

    fn matches(&self, method: &str, path_and_query: &str) -> bool {
        match self {
            Match::Any => true,
            Match::Request {
                method: want,
                path_contains,
            } => {
                want.as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                    && path_and_query.contains(path_contains)
            }
        }
    }
}

/// What happens to a request a rule fires on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer directly, without forwarding.
    Status {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Close the connection without any response.
    Reset,
    /// Wait, then forward as usual.
    Delay(Duration),
    /// Forward at once and read the whole answer, then wait before passing it on: the
    /// server has done the work, the client has not heard (a client killed meanwhile never
    /// learns that its request succeeded).
    HoldAnswer(Duration),
    /// Run the closure (on the proxy's thread, once per request the rule fires on, before
    /// the request is forwarded), then forward as usual.
    Run(Hook),
}

/// A caller's closure for [`Fault::Run`]. Two hooks are equal when they are the same
/// closure (pointer equality), so that [`Fault`] stays comparable.
#[derive(Clone)]
pub struct Hook(Arc<dyn Fn() + Send + Sync>);

impl Hook {
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Hook {
        Hook(Arc::new(f))
    }

    fn run(&self) {
        (self.0)()
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hook({:p})", Arc::as_ptr(&self.0).cast::<()>())
    }
}

impl PartialEq for Hook {
    fn eq(&self, other: &Hook) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Hook {}

/// A captive portal's page, as hotel and airport networks answer any HTTP request with
/// (a web server's welcome page looks the same to a client: HTML where XML or JSON is due).
const PORTAL_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Guest Wi-Fi - Sign in to continue</title>
  <style>body { font-family: sans-serif; margin: 4em auto; max-width: 32em; }</style>
</head>
<body>
  <h1>Welcome to Guest Wi-Fi</h1>
  <p>Please accept the terms of use to access the Internet.</p>
  <form method="post" action="/login">
    <label><input type="checkbox" name="accept" required> I accept the terms of use</label>
    <button type="submit">Connect</button>
  </form>
</body>
</html>
"#;

/// Where [`Fault::html_page`]'s redirects send the client.
pub const PORTAL_LOGIN: &str = "http://login.portal.invalid/guest?continue=1";

impl Fault {
    /// Runs `f` (once per matching request the rule fires on), then forwards the request.
    pub fn run(f: impl Fn() + Send + Sync + 'static) -> Fault {
        Fault::Run(Hook::new(f))
    }

    /// A captive portal's HTML page (`Content-Type: text/html; charset=utf-8`, `Server:
    /// nginx`) with `status`; a 3xx also carries `Location:` [`PORTAL_LOGIN`]. What a client
    /// gets when its endpoint is a web server, a reverse proxy or a hotel network.
    pub fn html_page(status: u16) -> Fault {
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "text/html; charset=utf-8".to_owned(),
            ),
            ("server".to_owned(), "nginx".to_owned()),
        ];
        if (300..400).contains(&status) {
            headers.push(("location".to_owned(), PORTAL_LOGIN.to_owned()));
        }
        Fault::Status {
            status,
            body: PORTAL_PAGE.to_owned(),
            headers,
        }
    }

    /// `status` with an empty body and no `Content-Type` (only `Content-Length: 0`).
    pub fn empty(status: u16) -> Fault {
        Fault::Status {
            status,
            body: String::new(),
            headers: Vec::new(),
        }
    }

    /// An S3-style XML error response, e.g. `Fault::s3_error(503, "SlowDown", "Please reduce your request rate.")`.
    pub fn s3_error(status: u16, code: &str, message: &str) -> Fault {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>stowage-proxy</RequestId></Error>"
        );
        let headers = vec![("content-type".to_owned(), "application/xml".to_owned())];
        Fault::Status {
            status,
            body,
            headers,
        }
    }

    /// What S3 answers when a bucket is used through the wrong region's endpoint.
    pub fn permanent_redirect(bucket_region: &str) -> Fault {
        let message = "The bucket you are attempting to access must be addressed using the specified endpoint.";
        let mut fault = Fault::s3_error(301, "PermanentRedirect", message);
        if let Fault::Status { headers, .. } = &mut fault {
            headers.push(("x-amz-bucket-region".to_owned(), bucket_region.to_owned()));
        }
        fault
    }
}

/// How often a rule fires on the requests it matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Times {
    /// The first `n` matching requests, then never.
    First(usize),
    Always,
    /// Each matching request with this probability, from a PRNG seeded with `seed`: the same
    /// sequence of requests gets the same faults on every run.
    Rate {
        probability: f64,
        seed: u64,
    },
}

/// One fault rule; the first rule (in order) that matches and fires decides the request.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub matcher: Match,
    pub fault: Fault,
    pub times: Times,
}

impl FaultRule {
    pub fn new(matcher: Match, fault: Fault, times: Times) -> FaultRule {
        FaultRule {
            matcher,
            fault,
            times,
        }
    }
}

/// One request as the proxy received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names lower-case, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running fault-injecting proxy; dropping it stops it.
pub struct FaultProxy {
    endpoint: String,
    addr: SocketAddr,
    state: Arc<State>,
    _thread: ServerThread,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("endpoint", &self.endpoint)
            .field("upstream", &self.state.upstream)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` in front of `upstream`, given as `http://host:port`,
    /// `host:port` or a `SocketAddr`. HTTPS upstreams are not supported.
    pub fn start(upstream: impl fmt::Display, rules: Vec<FaultRule>) -> io::Result<FaultProxy> {
        let upstream = resolve_upstream(&upstream.to_string())?;
        let state = Arc::new(State {
            upstream,
            rules: Mutex::new(rule_states(rules)),
            requests_seen: AtomicUsize::new(0),
            faults_injected: AtomicUsize::new(0),
            recorded: Mutex::new(Vec::new()),
        });
        let listener = StdTcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let served = Arc::clone(&state);
        let thread = ServerThread::spawn("stowage-proxy", move |stop| {
            accept_until_stopped(listener, stop, move |socket| {
                serve_connection(Arc::clone(&served), socket)
            })
        })?;
        Ok(FaultProxy {
            endpoint: format!("http://{addr}"),
            addr,
            state,
            _thread: thread,
        })
    }

    /// Base URL to give the client instead of the upstream's.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests received so far (forwarded or not).
    pub fn requests_seen(&self) -> usize {
        self.state.requests_seen.load(Ordering::SeqCst)
    }

    /// Every request received so far, in arrival order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Faults applied so far, across all rules (including delays and hooks run).
    pub fn faults_injected(&self) -> usize {
        self.state.faults_injected.load(Ordering::SeqCst)
    }

    /// Requests that matched rule `index`'s matcher, whether or not it fired (0 if no such
    /// rule). Counts only requests that reached the rule, i.e. no earlier rule fired.
    pub fn matched(&self, index: usize) -> usize {
        self.state.lock_rules().get(index).map_or(0, |r| r.matched)
    }

    /// Times rule `index` fired (0 if no such rule).
    pub fn injected(&self, index: usize) -> usize {
        self.state.lock_rules().get(index).map_or(0, |r| r.injected)
    }

    /// Replaces the rules; per-rule counters restart from zero, global counters do not.
    pub fn set_rules(&self, rules: Vec<FaultRule>) {
        *self.state.lock_rules() = rule_states(rules);
    }
}

/// Turns `http://host:port/`, `host:port` or `ip:port` into one socket address.
fn resolve_upstream(upstream: &str) -> io::Result<SocketAddr> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("upstream {upstream:?}: {why}"),
        )
    };
    let authority = match upstream.split_once("://") {
        Some(("http", rest)) => rest.trim_end_matches('/'),
        Some(_) => return Err(invalid("only http:// is supported")),
        None => upstream,
    };
    if authority.contains('/') {
        return Err(invalid("expected no path"));
    }
    authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| invalid("resolves to no address"))
}

struct State {
    upstream: SocketAddr,
    rules: Mutex<Vec<RuleState>>,
    requests_seen: AtomicUsize,
    faults_injected: AtomicUsize,
    recorded: Mutex<Vec<Recorded>>,
}

struct RuleState {
    rule: FaultRule,
    matched: usize,
    injected: usize,
    rng: StdRng,
}

fn rule_states(rules: Vec<FaultRule>) -> Vec<RuleState> {
    let seeded = |rule: &FaultRule| match rule.times {
        Times::Rate { seed, .. } => StdRng::seed_from_u64(seed),
        _ => StdRng::seed_from_u64(0),
    };
    rules
        .into_iter()
        .map(|rule| RuleState {
            rng: seeded(&rule),
            rule,
            matched: 0,
            injected: 0,
        })
        .collect()
}

impl RuleState {
    /// Counts a matching request and decides whether the fault fires on it.
    fn fires(&mut self) -> bool {
        self.matched += 1;
        let fire = match self.rule.times {
            Times::First(n) => self.injected < n,
            Times::Always => true,
            // `gen::<f64>()` is in [0, 1): never panics, p <= 0 never fires, p >= 1 always does.
            Times::Rate { probability, .. } => self.rng.r#gen::<f64>() < probability,
        };
        self.injected += usize::from(fire);
        fire
    }
}

impl State {
    /// A poisoned lock only means a test thread panicked mid-update; the counters are
    /// still meaningful, so keep going.
    fn lock_rules(&self) -> MutexGuard<'_, Vec<RuleState>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault for this request, if any, updating all counters.
    fn decide(&self, method: &str, path_and_query: &str) -> Option<Fault> {
        self.requests_seen.fetch_add(1, Ordering::SeqCst);
        let mut rules = self.lock_rules();
        let rule = rules.iter_mut().find_map(|r| {
            (r.rule.matcher.matches(method, path_and_query) && r.fires()).then_some(r)
        })?;
        self.faults_injected.fetch_add(1, Ordering::SeqCst);
        Some(rule.rule.fault.clone())
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

fn serve_connection(state: Arc<State>, socket: TcpStream) {
    let service = service_fn(move |req| handle(Arc::clone(&state), req));
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service);
    tokio::spawn(async move {
        // Errors here are mostly our own injected resets.
        let _ = conn.await;
    });
}

/// Applies the first firing rule's fault, or forwards. Returning `Err` makes hyper drop the
/// connection without writing a response, which is how `Fault::Reset` is delivered.
async fn handle(state: Arc<State>, req: Request<Incoming>) -> io::Result<Response<ProxyBody>> {
    let path_and_query = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_string(), value)
        })
        .collect();
    state
        .recorded
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Recorded {
            method: req.method().as_str().to_string(),
            target: path_and_query.to_string(),
            headers,
        });
    match state.decide(req.method().as_str(), path_and_query) {
        None => Ok(forward(state.upstream, req).await),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(forward(state.upstream, req).await)
        }
        Some(Fault::Run(hook)) => {
            hook.run();
            Ok(forward(state.upstream, req).await)
        }
        Some(Fault::HoldAnswer(hold)) => {
            let answer = forward(state.upstream, req).await;
            let (parts, body) = answer.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            tokio::time::sleep(hold).await;
            Ok(Response::from_parts(
                parts,
                Full::new(body).map_err(|e| match e {}).boxed(),
            ))
        }
        Some(Fault::Status {
            status,
            body,
            headers,
        }) => Ok(canned(status, &headers, body)),
        Some(Fault::Reset) => Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "injected reset",
        )),
    }
}

/// Sends the request, unchanged, over a fresh upstream connection; 502 if that fails.
async fn forward(upstream: SocketAddr, req: Request<Incoming>) -> Response<ProxyBody> {
    match try_forward(upstream, req).await {
        Ok(response) => response.map(BodyExt::boxed),
        Err(e) => text_response(
            502,
            format!("stowage FaultProxy: upstream {upstream} failed: {e}"),
        ),
    }
}

async fn try_forward(
    upstream: SocketAddr,
    req: Request<Incoming>,
) -> io::Result<Response<Incoming>> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await.map_err(io::Error::other)
}

fn canned(status: u16, headers: &[(String, String)], body: String) -> Response<ProxyBody> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(full(body)).unwrap_or_else(|e| {
        text_response(500, format!("stowage FaultProxy: invalid fault rule: {e}"))
    })
}

fn text_response(status: u16, text: String) -> Response<ProxyBody> {
    let mut response = Response::new(full(text));
    // Both statuses used here are valid; fall back to 500's default otherwise.
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

fn full(body: String) -> ProxyBody {
    Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed()
}

/// Raw, blocking HTTP/1.1 client for this crate's tests: exact control over every header
/// (including `Host`), and a connection closed without a response shows up as an error.
#[cfg(test)]
pub(crate) mod test_http {
    use std::io::{self, Read as _, Write as _};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    #[derive(Debug)]
    pub(crate) struct Reply {
        pub status: u16,
        /// Header lines, names lowercased: `name: value`.
        pub headers: Vec<String>,
        pub body: String,
    }

    impl Reply {
        pub(crate) fn header(&self, name: &str) -> Option<&str> {
            let prefix = format!("{name}: ");
            self.headers.iter().find_map(|h| h.strip_prefix(&prefix))
        }
    }

    /// Sends one request with `Connection: close` and reads the whole reply. `Host` defaults
    /// to `addr` unless given in `headers`.
    pub(crate) fn request(
        addr: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Reply> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            head.push_str(&format!("Host: {addr}\r\n"));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_reply(&String::from_utf8_lossy(&raw))
    }

    fn parse_reply(raw: &str) -> io::Result<Reply> {
        let bad =
            |why: &str| io::Error::new(io::ErrorKind::UnexpectedEof, format!("{why}: {raw:?}"));
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .ok_or_else(|| bad("no complete response"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status"))?;
        let headers: Vec<String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| format!("{}: {}", n.to_ascii_lowercase(), v.trim()))
            .collect();
        let chunked = headers.iter().any(|h| h == "transfer-encoding: chunked");
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn dechunk(mut rest: &str) -> String {
        let mut out = String::new();
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || after.len() < size {
                break;
            }
            out.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::test_http::request;
    use super::*;
    use std::time::Instant;

    /// An upstream that echoes what it received: `METHOD target host=HOST body=BODY`.
    fn start_echo() -> (ServerThread, SocketAddr) {
        let listener = StdTcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = ServerThread::spawn("echo", move |stop| {
            accept_until_stopped(listener, stop, |socket| {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service_fn(echo));
                tokio::spawn(conn);
            })
        })
        .unwrap();
        (thread, addr)
    }

    async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
        let head = format!(
            "{} {} host={}",
            req.method(),
            req.uri(),
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("-")
        );
        let body = req.into_body().collect().await?.to_bytes();
        let text = format!("{head} body={}", String::from_utf8_lossy(&body));
        Ok(Response::builder()
            .header("x-echo", "yes")
            .body(Full::new(Bytes::from(text)))
            .unwrap())
    }

    fn slow_down() -> Fault {
        Fault::s3_error(503, "SlowDown", "Please reduce your request rate.")
    }

    #[test]
    fn passes_requests_through_unchanged() {
        let (_upstream, up) = start_echo();
        let proxy = FaultProxy::start(format!("http://{up}/"), vec![]).unwrap();
        let host = [("Host", "bkt.s3.example.test:9000")];
        let reply = request(
            proxy.addr(),
            "PUT",
            "/bkt/a%20b?partNumber=2&uploadId=x",
            &host,
            b"hello",
        )
        .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.body,
            "PUT /bkt/a%20b?partNumber=2&uploadId=x host=bkt.s3.example.test:9000 body=hello"
        );
        assert_eq!(reply.header("x-echo"), Some("yes"));
        assert_eq!((proxy.requests_seen(), proxy.faults_injected()), (1, 0));
        assert!(proxy.endpoint().starts_with("http://127.0.0.1:"));
    }

    #[test]
    fn first_n_then_pass_through() {
        let (_upstream, up) = start_echo();
        let proxy = FaultProxy::start(
            up,
            vec![FaultRule::new(Match::Any, slow_down(), Times::First(2))],
        )
        .unwrap();
        let statuses: Vec<u16> = (0..3)
            .map(|_| request(proxy.addr(), "GET", "/", &[], b"").unwrap().status)
            .collect();
        assert_eq!(statuses, [503, 503, 200]);
        assert_eq!((proxy.requests_seen(), proxy.faults_injected()), (3, 2));
        assert_eq!(
            (proxy.matched(0), proxy.injected(0), proxy.matched(7)),
            (3, 2, 0)
        );
    }

    #[test]
    fn s3_error_and_redirect_bodies() {
        let (_upstream, up) = start_echo();
        let rule = FaultRule::new(
            Match::request("put", "partNumber=2"),
            slow_down(),
            Times::Always,
        );
        let proxy = FaultProxy::start(up, vec![rule]).unwrap();
        assert_eq!(
            request(proxy.addr(), "GET", "/k?partNumber=2", &[], b"")
                .unwrap()
                .status,
            200
        );
        assert_eq!(
            request(proxy.addr(), "PUT", "/k?partNumber=1", &[], b"")
                .unwrap()
                .status,
            200
        );
        let reply = request(proxy.addr(), "PUT", "/k?partNumber=2", &[], b"x").unwrap();
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("content-type"), Some("application/xml"));
        assert!(
            reply
                .body
                .contains("<Error><Code>SlowDown</Code><Message>Please reduce"),
            "{reply:?}"
        );
        assert!(reply.body.contains("<RequestId>stowage-proxy</RequestId>"));
        assert_eq!(proxy.matched(0), 1);

        let redirect = FaultRule::new(
            Match::Any,
            Fault::permanent_redirect("eu-west-1"),
            Times::Always,
        );
        proxy.set_rules(vec![redirect]);
        let reply = request(proxy.addr(), "HEAD", "/bkt", &[], b"").unwrap();
        assert_eq!(reply.status, 301);
        assert_eq!(reply.header("x-amz-bucket-region"), Some("eu-west-1"));
        proxy.set_rules(vec![]);
        assert_eq!(
            request(proxy.addr(), "GET", "/", &[], b"").unwrap().status,
            200
        );
        assert_eq!(
            (
                proxy.requests_seen(),
                proxy.faults_injected(),
                proxy.matched(0)
            ),
            (5, 2, 0)
        );
    }

    #[test]
    fn reset_closes_the_connection_without_a_response() {
        let (_upstream, up) = start_echo();
        let proxy = FaultProxy::start(
            up,
            vec![FaultRule::new(Match::Any, Fault::Reset, Times::First(1))],
        )
        .unwrap();
        let err = request(proxy.addr(), "GET", "/", &[], b"").unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
        assert_eq!(
            request(proxy.addr(), "GET", "/", &[], b"").unwrap().status,
            200
        );
        assert_eq!(proxy.faults_injected(), 1);
    }

    #[test]
    fn delay_delays_then_forwards() {
        let (_upstream, up) = start_echo();
        let delay = Duration::from_millis(300);
        let proxy = FaultProxy::start(
            up,
            vec![FaultRule::new(
                Match::Any,
                Fault::Delay(delay),
                Times::Always,
            )],
        )
        .unwrap();
        let started = Instant::now();
        let reply = request(proxy.addr(), "GET", "/slow", &[], b"").unwrap();
        assert!(started.elapsed() >= delay);
        assert_eq!(reply.body, format!("GET /slow host={} body=", proxy.addr()));
    }

    #[test]
    fn html_pages_and_empty_answers_are_not_forwarded() {
        let (_upstream, up) = start_echo();
        let rules = vec![
            FaultRule::new(
                Match::path("redirect"),
                Fault::html_page(302),
                Times::Always,
            ),
            FaultRule::new(Match::path("empty"), Fault::empty(200), Times::Always),
            FaultRule::new(Match::Any, Fault::html_page(200), Times::Always),
        ];
        let proxy = FaultProxy::start(up, rules).unwrap();
        let page = request(proxy.addr(), "PUT", "/bkt/a.ts", &[], b"x").unwrap();
        assert_eq!(page.status, 200);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(page.body.starts_with("<!DOCTYPE html>"), "{page:?}");
        assert!(page.body.contains("<title>Guest Wi-Fi"), "{page:?}");
        assert_eq!(
            (page.header("x-echo"), page.header("location")),
            (None, None)
        );
        let moved = request(proxy.addr(), "GET", "/redirect", &[], b"").unwrap();
        assert_eq!(moved.status, 302);
        assert_eq!(moved.header("location"), Some(PORTAL_LOGIN));
        let empty = request(proxy.addr(), "GET", "/bkt?empty", &[], b"").unwrap();
        assert_eq!((empty.status, empty.body.as_str()), (200, ""));
        assert_eq!(empty.header("content-type"), None);
        assert_eq!(empty.header("content-length"), Some("0"));
        assert_eq!(proxy.faults_injected(), 3);
    }

    /// The hook runs once per firing, on the matched request only, and that request is then
    /// forwarded unchanged.
    #[test]
    fn run_calls_the_hook_on_the_matched_request_then_forwards() {
        let (_upstream, up) = start_echo();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let hook = Fault::run(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(hook, hook.clone(), "a hook equals itself");
        assert_ne!(hook, Fault::run(|| ()), "and no other closure");
        let rule = FaultRule::new(Match::request("PUT", "partNumber=2"), hook, Times::First(1));
        let proxy = FaultProxy::start(up, vec![rule]).unwrap();
        let send = |target: &str| request(proxy.addr(), "PUT", target, &[], b"part").unwrap();
        assert_eq!(send("/k?partNumber=1").status, 200);
        assert_eq!(runs.load(Ordering::SeqCst), 0, "not on another part");
        let second = send("/k?partNumber=2");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            second.body,
            format!("PUT /k?partNumber=2 host={} body=part", proxy.addr()),
            "forwarded after the hook"
        );
        assert_eq!(send("/k?partNumber=2").status, 200);
        assert_eq!(runs.load(Ordering::SeqCst), 1, "Times::First(1): once");
        assert_eq!((proxy.matched(0), proxy.injected(0)), (2, 1));
    }

    #[test]
    fn rate_is_deterministic_per_seed() {
        let (_upstream, up) = start_echo();
        let run = |seed| {
            let rate = Times::Rate {
                probability: 0.5,
                seed,
            };
            let proxy =
                FaultProxy::start(up, vec![FaultRule::new(Match::Any, slow_down(), rate)]).unwrap();
            let statuses: Vec<u16> = (0..40)
                .map(|_| request(proxy.addr(), "GET", "/", &[], b"").unwrap().status)
                .collect();
            assert_eq!(
                statuses.iter().filter(|&&s| s == 503).count(),
                proxy.faults_injected()
            );
            statuses
        };
        let first = run(42);
        let faults = first.iter().filter(|&&s| s == 503).count();
        assert!((5..=35).contains(&faults), "{faults} faults");
        assert_eq!(run(42), first);
    }

    #[test]
    fn unreachable_upstream_is_502_and_bad_upstreams_are_rejected() {
        let dead = StdTcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let proxy = FaultProxy::start(dead, vec![]).unwrap();
        assert_eq!(
            request(proxy.addr(), "GET", "/", &[], b"").unwrap().status,
            502
        );
        assert!(FaultProxy::start("https://127.0.0.1:1", vec![]).is_err());
        assert!(FaultProxy::start("http://127.0.0.1:1/path", vec![]).is_err());
    }
}
