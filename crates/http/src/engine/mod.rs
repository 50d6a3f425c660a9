//! One engine for the vendors whose native APIs are S3-like XML over HTTP (OSS, COS): the
//! skeleton every such store shares, in the spirit of OpenDAL's per-service template over a
//! shared core. [`XmlStore`] sends requests (signed by the vendor, retried, following the
//! bucket to its own region once), puts with the returned checksums checked, hashes parts
//! as they go out, pages through listings, parts and uploads, and checks a completed
//! upload against its parts' combined CRC-64. A vendor ([`XmlVendor`]) supplies only what
//! is its own: configuration, signing and sending, addressing, its error table, signed
//! URLs and bucket location, with its header names as a [`Dialect`] and the rest of its
//! differences as data ([`Quirks`]).

mod multipart;
mod objects;
pub(crate) mod shapes;
mod store;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use stowage_core::payload::{Payload, file_stream};
use stowage_core::retry::RetryPolicy;
use stowage_core::{Error, Hasher, Result};

use crate::encode::{encode_path, encode_query};
use crate::follow::{Followed, run_following};
use crate::{Call, Dialect, PartCrcs, Reply, check_status, read_reply};

pub use objects::Listing;

/// What a vendor's API does differently from the shared skeleton, as data.
#[derive(Debug, Clone, Copy)]
pub struct Quirks {
    /// Smallest part but the last (OSS: 100 KB, COS: 1 MB).
    pub min_part: u64,
    /// How the bucket listing pages.
    pub listing: Listing,
    /// Whether ListParts carries each part's CRC-64 (OSS does, COS does not): then a
    /// completion of parts another process sent lists them first to predict the CRC.
    pub listed_parts_carry_crc: bool,
    /// Whether CompleteMultipartUpload names the parts' ETags in upper case (OSS).
    pub upper_case_part_etags: bool,
    /// Whether a HEAD error without the vendor's code (no body, so no XML) is explained by
    /// a one-byte GET of the same key, whose error carries the vendor's XML (COS).
    pub probe_bodiless_head_errors: bool,
}

/// What [`XmlVendor::open`] makes of a configuration.
pub struct Opened<V: XmlVendor> {
    pub vendor: V,
    pub bucket: String,
    /// Where requests go first.
    pub place: V::Place,
    pub max_attempts: u32,
}

/// A vendor of the engine: what is its own, everything else is [`XmlStore`]'s.
#[async_trait]
pub trait XmlVendor: fmt::Debug + Send + Sync + Sized + 'static {
    /// The vendor's configuration (`OssConfig`).
    type Config: Send;
    /// Where requests go: hosts, signing region, client. Moved once to the bucket's region.
    type Place: fmt::Debug + Send + Sync + 'static;
    /// What [`XmlStore::bucket_location`] answers.
    type Location: Into<Option<String>> + Send;

    /// The URL scheme naming the store (`oss`).
    const SCHEME: &'static str;
    /// Who answers and its header names.
    const DIALECT: Dialect;
    const QUIRKS: Quirks;

    /// Checks the configuration and resolves credentials, region and hosts, before any
    /// request.
    fn open(cfg: Self::Config) -> Result<Opened<Self>>;

    /// The region a place is in, when known.
    fn region_of(place: &Self::Place) -> Option<&str>;

    /// The place for the bucket's own region, once the vendor named it (`None`: stay).
    fn place_for_region(&self, region: &str) -> Option<Self::Place>;

    /// Called when requests follow the bucket to its region.
    fn followed(&self) {}

    /// The URL prefix of the place (`…/`, before the encoded key).
    fn base(&self, place: &Self::Place) -> String;

    /// One attempt: signs `call` and sends it to [`XmlStore::url`], its body through
    /// [`body`] (hashed into `hasher` as it streams). Any status is returned as it is.
    async fn send(
        &self,
        store: &XmlStore<Self>,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Response>;

    /// The vendor's error table: a non-2xx answer (its error XML) → an [`Error`] with the fix.
    fn error_from(status: u16, headers: &HeaderMap, body: &[u8]) -> Error;

    /// A GET URL for `key` signed in its query, valid for `expires`.
    async fn signed_get_url(
        &self,
        store: &XmlStore<Self>,
        key: &str,
        expires: Duration,
    ) -> Result<String>;

    /// The bucket's region as the vendor's API states it.
    async fn bucket_location(store: &XmlStore<Self>) -> Result<Self::Location>;
}

/// A bucket of an XML-API vendor.
pub struct XmlStore<V: XmlVendor> {
    vendor: V,
    bucket: String,
    /// Where requests go: the configured place, until the vendor names the bucket's region.
    place: Followed<V::Place>,
    retry: RetryPolicy,
    /// Per upload id, the CRC-64 and size of each part sent (or listed), to predict the
    /// whole object's CRC at completion.
    part_crcs: PartCrcs,
}

impl<V: XmlVendor> fmt::Debug for XmlStore<V> {
    // The vendor's own Debug hides the secret and token; nothing else is sensitive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmlStore")
            .field("bucket", &self.bucket)
            .field("place", &self.place())
            .field("vendor", &self.vendor)
            .finish_non_exhaustive()
    }
}

impl<V: XmlVendor> XmlStore<V> {
    /// Builds a store from the vendor's configuration; fails before any request on what
    /// the vendor checks (missing region or credentials, a malformed bucket name).
    pub fn new(cfg: V::Config) -> Result<Self> {
        let opened = V::open(cfg)?;
        Ok(XmlStore {
            vendor: opened.vendor,
            bucket: opened.bucket,
            place: Followed::new(opened.place),
            retry: RetryPolicy {
                max_attempts: opened.max_attempts.max(1),
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
            },
            part_crcs: PartCrcs::default(),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn vendor(&self) -> &V {
        &self.vendor
    }

    /// The place requests go now.
    pub fn place(&self) -> Arc<V::Place> {
        self.place.now()
    }

    /// The URL prefix requests go to now.
    pub fn base(&self) -> String {
        self.vendor.base(&self.place())
    }

    /// The bucket's region as the vendor's API states it.
    pub async fn bucket_location(&self) -> Result<V::Location> {
        V::bucket_location(self).await
    }

    /// Where `call` goes: the base, the encoded key and the query in the order given.
    pub fn url(&self, call: &Call<'_>) -> String {
        let mut url = self.base();
        if let Some(k) = call.key {
            url.push_str(&encode_path(k));
        }
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&crate::xml::query_string(&call.query, encode_query));
        }
        url
    }

    /// On the vendor's answer that the bucket lives in another region, moves this store
    /// there once, so that an upload with a wrong `--region` still lands (with a warning
    /// naming the right one). True when the request is worth sending again.
    pub fn follow_region(&self, e: &Error) -> bool {
        let moved = self.place.follow(e, V::region_of, |region| {
            self.vendor.place_for_region(region)
        });
        if moved {
            self.vendor.followed();
        }
        moved
    }

    /// `op` with the store's retries, and once more after following the bucket's region.
    async fn run_following<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        run_following(&self.retry, what, |e| self.follow_region(e), op).await
    }

    /// One attempt: sign and send; a non-2xx answer becomes an [`Error`] (its body read).
    async fn respond(
        &self,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Response> {
        let resp = self.vendor.send(self, call, hasher).await?;
        check_status(resp, &V::DIALECT, &self.base(), V::error_from).await
    }

    /// One attempt, with the reply's body read.
    async fn send_once(
        &self,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<Reply> {
        let resp = self.respond(call, hasher).await?;
        read_reply(resp, call, &V::DIALECT, &self.base()).await
    }

    /// Sends `call`, retrying retryable failures; errors carry the bucket and key.
    pub async fn execute(&self, call: Call<'_>) -> Result<Reply> {
        let what = format!("{} {}", call.method, call.key.unwrap_or("/"));
        self.run_following(&what, || self.send_once(&call, None))
            .await
            .map_err(|e| self.context(e, call.key))
    }

    /// A 2xx reply's XML, whose root must be `root` (else an unexpected-reply error).
    pub fn parse<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        root: &str,
        reply: &Reply,
        key: Option<&str>,
    ) -> Result<T> {
        V::DIALECT
            .parse(what, root, reply)
            .map_err(|e| self.context(e, key))
    }

    /// The error with this store's bucket (unless it names one) and `key` (unless it has one).
    fn context(&self, e: Error, key: Option<&str>) -> Error {
        let e = if e.bucket().is_none() {
            e.with_bucket(&self.bucket)
        } else {
            e
        };
        match key {
            Some(k) => e.or_key(k),
            None => e,
        }
    }
}

/// A request body: bytes as they are, a file range streamed (and hashed into `hasher`).
pub async fn body(payload: &Payload, hasher: Option<Arc<Mutex<Hasher>>>) -> Result<reqwest::Body> {
    match payload {
        Payload::Empty => Ok(reqwest::Body::from(Bytes::new())),
        Payload::Bytes(b) => Ok(reqwest::Body::from(b.clone())),
        Payload::File { path, offset, len } => {
            let stream = file_stream(path.clone(), *offset, *len, hasher).await?;
            Ok(reqwest::Body::wrap_stream(stream))
        }
    }
}
