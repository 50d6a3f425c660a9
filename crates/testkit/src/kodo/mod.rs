//! A Qiniu Kodo emulator on loopback sockets: form upload, resumable upload v2, `rs` stat and
//! delete, `rsf` list, `uc` `/v4/query` and `/v2/domains`, and downloads through a bucket
//! "domain" with private-URL tokens. Upload tokens and management signatures (v1 `QBox`, v2
//! `Qiniu`) are verified from Qiniu's documentation ([`auth`]); every answer that carries a
//! `hash` carries the object's qetag (v1, or v2 for multipart objects with unaligned parts);
//! errors are Qiniu's `{"error": "…"}` JSON with Qiniu's status codes (401, 400, 406, 612,
//! 614, 631, …).
//!
//! One endpoint serves every host (`up`, `rs`, `rsf`, `uc`, `io`) for buckets of any zone.
//! Each zone also has its own port, whose answers for a bucket of another zone are Qiniu's
//! "incorrect region" error: that is how a client configured for the wrong zone is tested.
//! State is in memory. Faults come from putting a [`crate::proxy::FaultProxy`] in front,
//! with [`qiniu_error`] for Qiniu-shaped error answers.

pub mod auth;
mod form;
mod service;

use std::collections::BTreeMap;
use std::io;
use std::net::TcpListener as StdTcpListener;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use rand::Rng as _;
use rand::distributions::Alphanumeric;

use crate::proxy::Fault;
use crate::s3s_server::ServerThread;
use auth::Account;

/// The zones that get a port of their own (Qiniu's region ids).
pub const ZONES: [&str; 6] = ["z0", "z1", "z2", "na0", "as0", "cn-east-2"];

/// A running emulator; dropping it stops every listener.
pub struct KodoEmulator {
    endpoint: String,
    zone_endpoints: BTreeMap<String, String>,
    state: Arc<State>,
    _thread: ServerThread,
}

impl std::fmt::Debug for KodoEmulator {
    // Hand-written so the secret key never reaches a test log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KodoEmulator")
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.state.account.access_key)
            .finish_non_exhaustive()
    }
}

pub(crate) struct State {
    account: Account,
    buckets: Mutex<BTreeMap<String, Bucket>>,
    clock_offset: AtomicI64,
    zone_hosts: BTreeMap<String, String>,
}

#[derive(Default)]
pub(crate) struct Bucket {
    zone: String,
    private: bool,
    objects: BTreeMap<String, Object>,
    uploads: BTreeMap<String, Upload>,
}

#[derive(Clone)]
pub(crate) struct Object {
    data: Bytes,
    hash: String,
    /// Only for direct (form) uploads, as on Qiniu.
    md5: Option<String>,
    mime: String,
    /// 100-ns units since the epoch.
    put_time: i64,
    meta: BTreeMap<String, String>,
}

pub(crate) struct Upload {
    key: String,
    expire_at: i64,
    parts: BTreeMap<u32, Part>,
}

pub(crate) struct Part {
    data: Bytes,
    etag: String,
    put_time: i64,
}

impl State {
    fn now(&self) -> i64 {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        secs + self.clock_offset.load(Ordering::Relaxed)
    }

    fn buckets(&self) -> MutexGuard<'_, BTreeMap<String, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl KodoEmulator {
    /// Starts an emulator with random credentials and no buckets.
    pub fn start() -> io::Result<KodoEmulator> {
        Self::start_with(Account {
            access_key: format!("stowage-kodo-ak-{}", random_token(8)),
            secret_key: random_token(40),
        })
    }

    /// Starts an emulator that accepts this key pair.
    pub fn start_with(account: Account) -> io::Result<KodoEmulator> {
        Self::start_on(0, account)
    }

    /// Like [`KodoEmulator::start_with`], its all-zones endpoint on `port` (0: any free one).
    pub fn start_on(port: u16, account: Account) -> io::Result<KodoEmulator> {
        let main = StdTcpListener::bind(("127.0.0.1", port))?;
        let endpoint = format!("http://{}", main.local_addr()?);
        let mut listeners = vec![(None, main)];
        let mut zone_hosts = BTreeMap::new();
        for zone in ZONES {
            let l = StdTcpListener::bind("127.0.0.1:0")?;
            zone_hosts.insert(zone.to_owned(), l.local_addr()?.to_string());
            listeners.push((Some(zone.to_owned()), l));
        }
        let state = Arc::new(State {
            account,
            buckets: Mutex::default(),
            clock_offset: AtomicI64::new(0),
            zone_hosts: zone_hosts.clone(),
        });
        let serving = state.clone();
        let thread = ServerThread::spawn("stowage-kodo", move |stop| {
            service::serve(listeners, serving, stop)
        })?;
        let zone_endpoints = zone_hosts
            .into_iter()
            .map(|(z, h)| (z, format!("http://{h}")))
            .collect();
        Ok(KodoEmulator {
            endpoint,
            zone_endpoints,
            state,
            _thread: thread,
        })
    }

    /// `http://127.0.0.1:<port>`: every host, every zone.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The endpoint that acts as `zone`'s hosts only.
    pub fn zone_endpoint(&self, zone: &str) -> Option<&str> {
        self.zone_endpoints.get(zone).map(String::as_str)
    }

    pub fn access_key(&self) -> &str {
        &self.state.account.access_key
    }

    pub fn secret_key(&self) -> &str {
        &self.state.account.secret_key
    }

    /// Creates an empty private bucket in `zone` (no-op if it exists).
    pub fn create_bucket(&self, name: &str, zone: &str) {
        let mut buckets = self.state.buckets();
        buckets.entry(name.to_owned()).or_insert_with(|| Bucket {
            zone: zone.to_owned(),
            private: true,
            ..Default::default()
        });
    }

    /// Makes downloads from `bucket` need a signed URL (`true`, the default) or not.
    pub fn set_private(&self, bucket: &str, private: bool) {
        if let Some(b) = self.state.buckets().get_mut(bucket) {
            b.private = private;
        }
    }

    /// Moves the server's clock by `secs` (tokens and uploads expire against it).
    pub fn advance_clock(&self, secs: i64) {
        self.state.clock_offset.fetch_add(secs, Ordering::Relaxed);
    }

    /// The stored bytes of `bucket/key`.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Bytes> {
        let buckets = self.state.buckets();
        Some(buckets.get(bucket)?.objects.get(key)?.data.clone())
    }

    /// How many resumable uploads are open in `bucket`.
    pub fn open_uploads(&self, bucket: &str) -> usize {
        self.state
            .buckets()
            .get(bucket)
            .map_or(0, |b| b.uploads.len())
    }
}

/// A Qiniu-shaped error answer for a [`crate::proxy::FaultProxy`] rule.
pub fn qiniu_error(status: u16, message: &str) -> Fault {
    Fault::Status {
        status,
        body: serde_json::json!({ "error": message }).to_string(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-reqid".to_owned(), "stowage-proxy".to_owned()),
        ],
    }
}

fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
