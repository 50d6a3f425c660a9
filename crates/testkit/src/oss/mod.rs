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

use std::sync::OnceLock;

use bytes::Bytes;
use http::request::Parts;

pub use crate::xml_api::multipart::Upload;
use crate::xml_api::ops::Object;
use crate::xml_api::request::Reply;
use crate::xml_api::server::{self, Api, Bucket, Emulator};
use crate::xml_api::state::{StsCredentials, random_token};

/// The region a default emulator says its buckets are in.
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// A running OSS emulator; dropping it stops the server.
pub type OssEmulator = Emulator<Oss>;

/// The OSS API, as the emulator's skeleton serves it.
pub struct Oss;

impl Api for Oss {
    type Extra = ();

    const DEFAULT_REGION: &'static str = DEFAULT_REGION;
    const VENDOR: &'static str = "OSS";
    const TYPE_NAME: &'static str = "OssEmulator";
    const THREAD: &'static str = "stowage-oss";
    const REQUEST_ID_HEADER: &'static str = "x-oss-request-id";
    const SERVER: &'static str = "AliyunOSS";

    fn request_id(n: u64) -> String {
        format!("5F{n:022X}")
    }

    fn new_access_key() -> String {
        format!("LTAI-stowage-{}", random_token(8))
    }

    /// Expired ones are refused with `SecurityTokenExpired`.
    fn new_sts() -> StsCredentials {
        StsCredentials {
            access_key: format!("STS.stowage-{}", random_token(8)),
            secret_key: random_token(30),
            security_token: format!("CAIS-{}", random_token(40)),
        }
    }

    fn shared_cell() -> &'static OnceLock<OssEmulator> {
        static SHARED: OnceLock<OssEmulator> = OnceLock::new();
        &SHARED
    }

    fn dispatch(state: &State, parts: &Parts, body: Bytes, request_id: &str) -> Reply {
        handlers::dispatch(state, parts, body, request_id)
    }
}

type State = server::State<Oss>;
