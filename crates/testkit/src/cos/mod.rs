//! A Tencent COS emulator: a real HTTP/1.1 server on a loopback socket that speaks COS's
//! XML API for what a recording uploader uses: PUT Object, GET Object (ranges), HEAD
//! Object, DELETE Object, GET Bucket (marker paging), HEAD Bucket (`x-cos-bucket-region`),
//! multipart (initiate, upload part, list parts, complete, abort, list uploads) and PUT
//! Bucket. Objects live in memory.
//!
//! Like the real service it checks `q-sign-algorithm=sha1` signatures ([`auth`]), STS
//! tokens (`x-cos-security-token`, unknown or expired), the signature's time window (the
//! emulator's clock can be moved with [`CosEmulator::set_clock_offset`]), `Content-MD5`,
//! and the region named in a virtual-hosted `Host`; it answers with COS's error XML (Code,
//! Message, Resource, RequestId, TraceId) and `x-cos-request-id`, and sends
//! `x-cos-hash-crc64ecma` (CRC-64/XZ, decimal) wherever COS does.
//!
//! Addressing: `<bucket>.cos.<region>.myqcloud.com` (or `.tencentcos.cn`, or the accelerate
//! host) by `Host`, a bound custom domain, or path style (`/<bucket>/<key>`, for clients
//! that cannot set `Host`). COS's GET Bucket is eventually consistent:
//! [`CosEmulator::hide_new_objects_from_listings`] makes new objects miss the next listings.
//! Faults are injected by putting [`crate::proxy::FaultProxy`] in front of it.

pub mod auth;
mod handlers;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::s3s_server::{ServerThread, accept_until_stopped};
pub use crate::xml_api::multipart::Upload;
use crate::xml_api::state::StsCredentials;
use crate::xml_api::state::{Clock, Keys, answer_cors, lock, random_token, read_request, stamp};

/// The region a default emulator says its buckets are in.
pub const DEFAULT_REGION: &str = "ap-guangzhou";

/// The APPID every bucket name of a default emulator ends with (`<name>-<appid>`).
pub const DEFAULT_APPID: &str = "1250000000";

/// A running COS emulator; dropping it stops the server.
pub struct CosEmulator {
    endpoint: String,
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    state: Arc<State>,
    _thread: ServerThread,
}

impl fmt::Debug for CosEmulator {
    // Hand-written so the secret never reaches test logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosEmulator")
            .field("endpoint", &self.endpoint)
            .field("region", &self.state.region)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl CosEmulator {
    /// Starts an emulator on `127.0.0.1:0` in [`DEFAULT_REGION`] with random credentials.
    pub fn start() -> io::Result<CosEmulator> {
        CosEmulator::start_with("127.0.0.1:0", DEFAULT_REGION)
    }

    /// Starts an emulator on `bind` (e.g. `127.0.0.1:9000`) whose buckets are in `region`.
    pub fn start_with(bind: &str, region: &str) -> io::Result<CosEmulator> {
        let access_key = format!("AKIDstowage{}", random_token(24));
        let secret_key = random_token(30);
        let state = Arc::new(State::new(region));
        state.keys.add(&access_key, &secret_key, None);
        let listener = StdTcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let served = Arc::clone(&state);
        let thread = ServerThread::spawn("stowage-cos", move |stop| {
            accept_until_stopped(listener, stop, move |socket| {
                serve_connection(Arc::clone(&served), socket)
            })
        })?;
        Ok(CosEmulator {
            endpoint: format!("http://{addr}"),
            addr,
            access_key,
            secret_key,
            state,
            _thread: thread,
        })
    }

    /// One emulator per test process, started on first use.
    ///
    /// # Panics
    /// If no loopback socket can be bound: no test could proceed.
    pub fn shared() -> &'static CosEmulator {
        static SHARED: OnceLock<CosEmulator> = OnceLock::new();
        SHARED.get_or_init(|| {
            CosEmulator::start()
                .unwrap_or_else(|e| panic!("cannot start the shared COS emulator: {e}"))
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (path style; virtual-hosted requests work
    /// when the Host header starts with `<bucket>.`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn region(&self) -> &str {
        &self.state.region
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Creates an empty bucket (idempotent).
    pub fn create_bucket(&self, name: &str) {
        self.state.buckets().entry(name.to_string()).or_default();
    }

    /// Accepts another long-term key pair (e.g. fixed ones for a client under test).
    pub fn add_credentials(&self, access_key: &str, secret_key: &str) {
        self.state.keys.add(access_key, secret_key, None);
    }

    /// Serves `bucket` at `host` (the `Host` header, port included) as a bound custom
    /// domain does: `http://<host>/<key>`.
    pub fn add_custom_domain(&self, host: &str, bucket: &str) {
        self.create_bucket(bucket);
        lock(&self.state.domains).insert(host.to_string(), bucket.to_string());
    }

    /// Registers STS credentials; `expired` ones are refused with `ExpiredToken`.
    pub fn add_sts_credentials(&self, expired: bool) -> StsCredentials {
        let sts = StsCredentials {
            access_key: format!("AKIDsts{}", random_token(24)),
            secret_key: random_token(30),
            security_token: format!("cos-sts-{}", random_token(40)),
        };
        self.state.keys.add_sts(sts, expired)
    }

    /// Moves the emulator's clock by `seconds`: a signature whose window has passed is
    /// refused with `AccessDenied` "Request has expired", one whose window starts more than
    /// 15 minutes ahead with `RequestTimeTooSkewed`.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.state.clock.set_offset(seconds);
    }

    /// Like a CORS rule (PutBucketCors) allowing GET from any origin on every bucket:
    /// requests with `Origin` get `Access-Control-Allow-Origin: *`, which web players need.
    /// Off by default, as on a new bucket.
    pub fn set_cors_allow_any_origin(&self, on: bool) {
        self.state.cors.store(on, Ordering::Relaxed);
    }

    /// Turns the request-time check on (the default) or off.
    pub fn set_clock_check(&self, on: bool) {
        self.state.clock.set_check(on);
    }

    /// Objects written from now on are missing from the next `listings` GET Bucket answers
    /// that would include them (HEAD and GET find them at once), as COS's eventually
    /// consistent listing may do. 0 (the default) turns this off.
    pub fn hide_new_objects_from_listings(&self, listings: u32) {
        self.state.listing_lag.store(listings, Ordering::Relaxed);
    }

    /// Every distinct `Host` header received so far, in order of first use.
    pub fn hosts_seen(&self) -> Vec<String> {
        lock(&self.state.hosts_seen).clone()
    }

    /// The bytes of an object, read directly (for tests).
    pub fn object_bytes(&self, bucket: &str, key: &str) -> Option<Bytes> {
        let buckets = self.state.buckets();
        Some(buckets.get(bucket)?.objects.get(key)?.data.clone())
    }
}

/// One stored object.
#[derive(Clone)]
struct Object {
    data: Bytes,
    content_type: String,
    /// Quoted, lower-case hex, as COS sends it.
    etag: String,
    crc64: u64,
    modified: SystemTime,
    metadata: BTreeMap<String, String>,
    /// Listings this object is still left out of (eventual consistency).
    hidden_listings: u32,
}

#[derive(Default)]
struct Bucket {
    objects: BTreeMap<String, Object>,
    uploads: BTreeMap<String, Upload>,
}

struct State {
    region: String,
    keys: Keys,
    buckets: Mutex<BTreeMap<String, Bucket>>,
    /// Custom domain (Host header) → bucket.
    domains: Mutex<HashMap<String, String>>,
    /// Every distinct `Host` header received, in order of first use.
    hosts_seen: Mutex<Vec<String>>,
    clock: Clock,
    listing_lag: AtomicU32,
    /// A bucket CORS rule allowing GET from any origin (for every bucket).
    cors: AtomicBool,
    next_id: AtomicU64,
}

impl State {
    fn new(region: &str) -> State {
        State {
            region: region.to_string(),
            keys: Keys::default(),
            buckets: Mutex::new(BTreeMap::new()),
            domains: Mutex::new(HashMap::new()),
            hosts_seen: Mutex::new(Vec::new()),
            clock: Clock::default(),
            cors: AtomicBool::new(false),
            listing_lag: AtomicU32::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    fn buckets(&self) -> MutexGuard<'_, BTreeMap<String, Bucket>> {
        lock(&self.buckets)
    }

    fn request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("NjVm{n:020}")
    }

    fn note_host(&self, headers: &http::HeaderMap) {
        let Some(host) = headers.get("host").and_then(|h| h.to_str().ok()) else {
            return;
        };
        let mut seen = lock(&self.hosts_seen);
        if !seen.iter().any(|h| h == host) {
            seen.push(host.to_string());
        }
    }
}

fn serve_connection(state: Arc<State>, socket: TcpStream) {
    let service = service_fn(move |req| handle(Arc::clone(&state), req));
    // One request per connection: see `wire` for why.
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(wire::CosCase::new(socket)), service);
    tokio::spawn(async move {
        let _ = conn.await;
    });
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, io::Error> {
    let (parts, body) = read_request(req).await?;
    let request_id = state.request_id();
    state.note_host(&parts.headers);
    let mut response = handlers::dispatch(&state, &parts, body, &request_id);
    answer_cors(&mut response, &parts, state.cors.load(Ordering::Relaxed));
    stamp(
        &mut response,
        "x-cos-request-id",
        &request_id,
        "tencent-cos",
    );
    Ok(response)
}
