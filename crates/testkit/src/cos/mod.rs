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

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::request::Parts;
use tokio::net::TcpStream;

pub use crate::xml_api::multipart::Upload;
use crate::xml_api::request::Reply;
use crate::xml_api::server::{self, Api, Bucket, Emulator, serve_io};
use crate::xml_api::state::{StsCredentials, lock, random_token};

/// The region a default emulator says its buckets are in.
pub const DEFAULT_REGION: &str = "ap-guangzhou";

/// The APPID every bucket name of a default emulator ends with (`<name>-<appid>`).
pub const DEFAULT_APPID: &str = "1250000000";

/// A running COS emulator; dropping it stops the server.
pub type CosEmulator = Emulator<Cos>;

/// The COS API, as the emulator's skeleton serves it.
pub struct Cos;

/// What only the COS emulator keeps.
#[derive(Default)]
pub struct CosExtra {
    /// Every distinct `Host` header received, in order of first use.
    hosts_seen: Mutex<Vec<String>>,
    listing_lag: AtomicU32,
}

impl Api for Cos {
    type Extra = CosExtra;

    const DEFAULT_REGION: &'static str = DEFAULT_REGION;
    const VENDOR: &'static str = "COS";
    const TYPE_NAME: &'static str = "CosEmulator";
    const THREAD: &'static str = "stowage-cos";
    const REQUEST_ID_HEADER: &'static str = "x-cos-request-id";
    const SERVER: &'static str = "tencent-cos";

    fn request_id(n: u64) -> String {
        format!("NjVm{n:020}")
    }

    fn new_access_key() -> String {
        format!("AKIDstowage{}", random_token(24))
    }

    /// Expired ones are refused with `ExpiredToken`.
    fn new_sts() -> StsCredentials {
        StsCredentials {
            access_key: format!("AKIDsts{}", random_token(24)),
            secret_key: random_token(30),
            security_token: format!("cos-sts-{}", random_token(40)),
        }
    }

    fn shared_cell() -> &'static OnceLock<CosEmulator> {
        static SHARED: OnceLock<CosEmulator> = OnceLock::new();
        &SHARED
    }

    fn dispatch(state: &State, parts: &Parts, body: Bytes, request_id: &str) -> Reply {
        handlers::dispatch(state, parts, body, request_id)
    }

    fn received(state: &State, parts: &Parts) {
        let Some(host) = parts.headers.get("host").and_then(|h| h.to_str().ok()) else {
            return;
        };
        let mut seen = lock(&state.extra.hosts_seen);
        if !seen.iter().any(|h| h == host) {
            seen.push(host.to_string());
        }
    }

    /// One request per connection: see `wire` for why.
    fn serve_connection(state: Arc<State>, socket: TcpStream) {
        serve_io(state, wire::CosCase::new(socket), false);
    }
}

impl CosEmulator {
    /// Objects written from now on are missing from the next `listings` GET Bucket answers
    /// that would include them (HEAD and GET find them at once), as COS's eventually
    /// consistent listing may do. 0 (the default) turns this off.
    pub fn hide_new_objects_from_listings(&self, listings: u32) {
        self.state
            .extra
            .listing_lag
            .store(listings, Ordering::Relaxed);
    }

    /// Every distinct `Host` header received so far, in order of first use.
    pub fn hosts_seen(&self) -> Vec<String> {
        lock(&self.state.extra.hosts_seen).clone()
    }
}

type State = server::State<Cos>;
