//! An Aliyun OSS emulator: a real HTTP/1.1 server on a loopback socket that speaks OSS's
//! native API (not its S3 compatibility layer) for what a recording uploader uses:
//! PutObject, GetObject (ranges), HeadObject, DeleteObject, ListObjectsV2, multipart
//! (initiate, upload part, list parts, complete, abort, list uploads), PutBucket and
//! GetBucketLocation. Objects live in memory.
//!
//! Like the real service it checks V4 and V1 signatures ([`auth`]), STS security tokens
//! (unknown or expired), the request time (15 minutes of skew allowed; the emulator's
//! clock can be moved with [`OssEmulator::set_clock_offset`]), `Content-MD5`, and the
//! region a V4 request was signed for; it answers with OSS's error XML (Code, Message,
//! RequestId, HostId, EC), with `x-oss-ec` and, for HEAD, the error XML base64-encoded in
//! `x-oss-err`, and sends `x-oss-hash-crc64ecma` (CRC-64/XZ, decimal) wherever OSS does.
//! Faults are injected by putting [`crate::proxy::FaultProxy`] in front of it.

pub mod auth;
mod handlers;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// A running OSS emulator; dropping it stops the server.
pub struct OssEmulator {
    endpoint: String,
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    state: Arc<State>,
    _thread: ServerThread,
}

impl fmt::Debug for OssEmulator {
    // Hand-written so the secret never reaches test logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OssEmulator")
            .field("endpoint", &self.endpoint)
            .field("region", &self.state.region)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl OssEmulator {
    /// Starts an emulator on `127.0.0.1:0` in [`DEFAULT_REGION`] with random credentials.
    pub fn start() -> io::Result<OssEmulator> {
        OssEmulator::start_with("127.0.0.1:0", DEFAULT_REGION)
    }

    /// Starts an emulator on `bind` (e.g. `127.0.0.1:9000`) whose buckets are in `region`.
    pub fn start_with(bind: &str, region: &str) -> io::Result<OssEmulator> {
        let access_key = format!("LTAI-stowage-{}", random_token(8));
        let secret_key = random_token(30);
        let state = Arc::new(State::new(region));
        state.keys.add(&access_key, &secret_key, None);
        let listener = StdTcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let served = Arc::clone(&state);
        let thread = ServerThread::spawn("stowage-oss", move |stop| {
            accept_until_stopped(listener, stop, move |socket| {
                serve_connection(Arc::clone(&served), socket)
            })
        })?;
        Ok(OssEmulator {
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
    pub fn shared() -> &'static OssEmulator {
        static SHARED: OnceLock<OssEmulator> = OnceLock::new();
        SHARED.get_or_init(|| {
            OssEmulator::start()
                .unwrap_or_else(|e| panic!("cannot start the shared OSS emulator: {e}"))
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
    /// domain does: `http://<host>/<key>`, signed for `/bucket/key`.
    pub fn add_custom_domain(&self, host: &str, bucket: &str) {
        self.create_bucket(bucket);
        lock(&self.state.domains).insert(host.to_string(), bucket.to_string());
    }

    /// Registers STS credentials; `expired` ones are refused with `SecurityTokenExpired`.
    pub fn add_sts_credentials(&self, expired: bool) -> StsCredentials {
        let sts = StsCredentials {
            access_key: format!("STS.stowage-{}", random_token(8)),
            secret_key: random_token(30),
            security_token: format!("CAIS-{}", random_token(40)),
        };
        self.state.keys.add_sts(sts, expired)
    }

    /// Moves the emulator's clock by `seconds` (requests more than 15 minutes off are
    /// refused with `RequestTimeTooSkewed`).
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
    /// Quoted, upper-case, as OSS sends it.
    etag: String,
    crc64: u64,
    modified: SystemTime,
    metadata: BTreeMap<String, String>,
    multipart: bool,
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
    clock: Clock,
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
            clock: Clock::default(),
            cors: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        }
    }

    fn buckets(&self) -> MutexGuard<'_, BTreeMap<String, Bucket>> {
        lock(&self.buckets)
    }

    fn request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("5F{n:022X}")
    }
}

fn serve_connection(state: Arc<State>, socket: TcpStream) {
    let service = service_fn(move |req| handle(Arc::clone(&state), req));
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service);
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
    let mut response = handlers::dispatch(&state, &parts, body, &request_id);
    answer_cors(&mut response, &parts, state.cors.load(Ordering::Relaxed));
    stamp(&mut response, "x-oss-request-id", &request_id, "AliyunOSS");
    Ok(response)
}
