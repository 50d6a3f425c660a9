//! State the OSS and COS emulators keep alike: the keys they accept (long-term and STS),
//! their movable clock, and the plumbing around one request (body, request id, `Date`).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use http::request::Parts;
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use rand::Rng as _;
use rand::distributions::Alphanumeric;

use super::request::Reply;

/// STS credentials the emulator accepts (or, when expired, refuses as the vendor does).
#[derive(Clone)]
pub struct StsCredentials {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: String,
}

impl fmt::Debug for StsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// `len` random letters and digits.
pub fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A poisoned lock only means another request panicked; the maps are still consistent.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct TokenState {
    pub value: String,
    pub expired: bool,
}

pub struct KeyState {
    pub secret: String,
    pub token: Option<TokenState>,
}

/// Access key → its secret and, for STS keys, the token that must come with it.
#[derive(Default)]
pub struct Keys(Mutex<HashMap<String, KeyState>>);

impl Keys {
    pub fn add(&self, access_key: &str, secret: &str, token: Option<TokenState>) {
        let key = KeyState {
            secret: secret.to_string(),
            token,
        };
        lock(&self.0).insert(access_key.to_string(), key);
    }

    /// Registers `sts` (its token `expired` or not) and returns it.
    pub fn add_sts(&self, sts: StsCredentials, expired: bool) -> StsCredentials {
        let token = TokenState {
            value: sts.security_token.clone(),
            expired,
        };
        self.add(&sts.access_key, &sts.secret_key, Some(token));
        sts
    }

    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, KeyState>> {
        lock(&self.0)
    }
}

/// The emulator's clock: the real one moved by an offset, and whether requests' times are
/// checked against it.
pub struct Clock {
    offset: AtomicI64,
    check: AtomicBool,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset: AtomicI64::new(0),
            check: AtomicBool::new(true),
        }
    }
}

impl Clock {
    /// The emulator's notion of now.
    pub fn now(&self) -> time::OffsetDateTime {
        let offset = self.offset.load(Ordering::Relaxed);
        time::OffsetDateTime::now_utc() + time::Duration::seconds(offset)
    }

    pub fn set_offset(&self, seconds: i64) {
        self.offset.store(seconds, Ordering::Relaxed);
    }

    pub fn set_check(&self, on: bool) {
        self.check.store(on, Ordering::Relaxed);
    }

    pub fn checked(&self) -> bool {
        self.check.load(Ordering::Relaxed)
    }
}

/// The request's head and whole body (an error when the client went away mid-body:
/// nothing to answer then).
pub async fn read_request(req: Request<Incoming>) -> io::Result<(Parts, Bytes)> {
    let (parts, body) = req.into_parts();
    match body.collect().await {
        Ok(b) => Ok((parts, b.to_bytes())),
        Err(e) => Err(io::Error::other(e)),
    }
}

/// Adds the headers every answer carries: the request id (under the vendor's name), the
/// date and the vendor's `Server`.
pub fn stamp(
    response: &mut Reply,
    id_header: &'static str,
    request_id: &str,
    server: &'static str,
) {
    let headers = response.headers_mut();
    if let Ok(v) = request_id.parse() {
        headers.insert(id_header, v);
    }
    if let Ok(v) = httpdate::fmt_http_date(SystemTime::now()).parse() {
        headers.insert("date", v);
    }
    headers.insert("server", hyper::header::HeaderValue::from_static(server));
}

/// What a bucket CORS rule allowing GET from any origin adds (PutBucketCors on OSS, COS):
/// `Access-Control-Allow-Origin: *` on answers to requests that carry an `Origin`.
pub fn answer_cors(response: &mut Reply, request: &http::request::Parts, rule_on: bool) {
    if rule_on && request.headers.contains_key("origin") {
        response.headers_mut().insert(
            "access-control-allow-origin",
            hyper::header::HeaderValue::from_static("*"),
        );
    }
}
