//! The emulators' common skeleton: a loopback HTTP/1.1 server over in-memory buckets, the
//! keys, clock, custom domains and CORS rule every emulator keeps, and the methods tests
//! call on a running one. An emulator ([`Api`]) supplies its names, what it stores per
//! object, any state of its own and its handlers (signatures, addressing, XML, errors).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use http::request::Parts;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::multipart::Upload;
use super::ops::Object;
use super::request::Reply;
use super::state::{
    Clock, Keys, StsCredentials, answer_cors, lock, random_token, read_request, stamp,
};
use crate::s3s_server::{ServerThread, accept_until_stopped};

/// One emulated vendor API.
pub trait Api: Sized + Send + Sync + 'static {
    /// State only this emulator keeps.
    type Extra: Default + Send + Sync + 'static;

    /// The region buckets are in unless started with another.
    const DEFAULT_REGION: &'static str;
    /// The vendor, as messages name it (`OSS`).
    const VENDOR: &'static str;
    /// The emulator's type, as `Debug` names it (`OssEmulator`).
    const TYPE_NAME: &'static str;
    /// The server thread's name.
    const THREAD: &'static str;
    /// The header carrying the request id (`x-oss-request-id`).
    const REQUEST_ID_HEADER: &'static str;
    /// The `Server` header.
    const SERVER: &'static str;

    /// A request id in the vendor's form, the `n`th of this emulator.
    fn request_id(n: u64) -> String;
    /// A new random long-term access key id in the vendor's form.
    fn new_access_key() -> String;
    /// New random STS credentials in the vendor's form.
    fn new_sts() -> StsCredentials;
    /// The emulator started by [`Emulator::shared`].
    fn shared_cell() -> &'static OnceLock<Emulator<Self>>;

    /// The answer to one request (the vendor's signature checks, routing, XML and errors).
    fn dispatch(state: &State<Self>, parts: &Parts, body: Bytes, request_id: &str) -> Reply;

    /// Notes a request before it is answered (what tests may ask about later).
    fn received(_state: &State<Self>, _parts: &Parts) {}

    /// Serves one accepted connection.
    fn serve_connection(state: Arc<State<Self>>, socket: TcpStream) {
        serve_io(state, socket, true);
    }
}

/// One bucket: its objects and the multipart uploads in progress.
#[derive(Default)]
pub struct Bucket {
    pub objects: BTreeMap<String, Object>,
    pub uploads: BTreeMap<String, Upload>,
}

/// What a running emulator keeps.
pub struct State<A: Api> {
    pub region: String,
    pub keys: Keys,
    buckets: Mutex<BTreeMap<String, Bucket>>,
    /// Custom domain (Host header) → bucket.
    pub domains: Mutex<HashMap<String, String>>,
    pub clock: Clock,
    /// A bucket CORS rule allowing GET from any origin (for every bucket).
    cors: AtomicBool,
    next_id: AtomicU64,
    /// The emulator's own.
    pub extra: A::Extra,
}

impl<A: Api> State<A> {
    fn new(region: &str) -> Self {
        State {
            region: region.to_string(),
            keys: Keys::default(),
            buckets: Mutex::new(BTreeMap::new()),
            domains: Mutex::new(HashMap::new()),
            clock: Clock::default(),
            cors: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            extra: A::Extra::default(),
        }
    }

    pub fn buckets(&self) -> MutexGuard<'_, BTreeMap<String, Bucket>> {
        lock(&self.buckets)
    }

    fn request_id(&self) -> String {
        A::request_id(self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}

/// Serves HTTP/1.1 on `io` (kept alive between requests or not), each request answered by
/// the emulator, then stamped and given the CORS rule's header.
pub fn serve_io<A, I>(state: Arc<State<A>>, io: I, keep_alive: bool)
where
    A: Api,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let state = Arc::clone(&state);
        async move {
            let (parts, body) = read_request(req).await?;
            Ok::<_, io::Error>(answer(&state, &parts, body))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(keep_alive)
        .serve_connection(TokioIo::new(io), service);
    tokio::spawn(async move {
        let _ = conn.await;
    });
}

fn answer<A: Api>(state: &State<A>, parts: &Parts, body: Bytes) -> Reply {
    let request_id = state.request_id();
    A::received(state, parts);
    let mut response = A::dispatch(state, parts, body, &request_id);
    answer_cors(&mut response, parts, state.cors.load(Ordering::Relaxed));
    stamp(&mut response, A::REQUEST_ID_HEADER, &request_id, A::SERVER);
    response
}

/// A running emulator; dropping it stops the server.
pub struct Emulator<A: Api> {
    endpoint: String,
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    pub(crate) state: Arc<State<A>>,
    _thread: ServerThread,
}

impl<A: Api> fmt::Debug for Emulator<A> {
    // Hand-written so the secret never reaches test logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(A::TYPE_NAME)
            .field("endpoint", &self.endpoint)
            .field("region", &self.state.region)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl<A: Api> Emulator<A> {
    /// Starts an emulator on `127.0.0.1:0` in the vendor's default region with random
    /// credentials.
    pub fn start() -> io::Result<Self> {
        Self::start_with("127.0.0.1:0", A::DEFAULT_REGION)
    }

    /// Starts an emulator on `bind` (e.g. `127.0.0.1:9000`) whose buckets are in `region`,
    /// with random credentials.
    pub fn start_with(bind: &str, region: &str) -> io::Result<Self> {
        let access_key = A::new_access_key();
        let secret_key = random_token(30);
        let state = Arc::new(State::new(region));
        state.keys.add(&access_key, &secret_key, None);
        let listener = StdTcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let served = Arc::clone(&state);
        let thread = ServerThread::spawn(A::THREAD, move |stop| {
            accept_until_stopped(listener, stop, move |socket| {
                A::serve_connection(Arc::clone(&served), socket)
            })
        })?;
        Ok(Emulator {
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
    pub fn shared() -> &'static Self {
        A::shared_cell().get_or_init(|| {
            Self::start()
                .unwrap_or_else(|e| panic!("cannot start the shared {} emulator: {e}", A::VENDOR))
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

    /// Registers STS credentials; `expired` ones are refused with the vendor's code.
    pub fn add_sts_credentials(&self, expired: bool) -> StsCredentials {
        self.state.keys.add_sts(A::new_sts(), expired)
    }

    /// Moves the emulator's clock by `seconds` (requests too far off it are refused as the
    /// vendor refuses them).
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
