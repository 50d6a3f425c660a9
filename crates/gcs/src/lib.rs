//! Google Cloud Storage (`gs://bucket/prefix`, Agora vendor 6), through GCS's JSON API.
//!
//! apache object_store's GCS client writes through the XML API and drops the hashes GCS
//! returns; the only GCS emulator in the registries (fake-gcs-server) serves the JSON API.
//! So the requests are ours, on our reqwest client, and object_store brings what must not
//! be written by hand: the credential chain that turns a service-account key into OAuth
//! tokens ([`token`]).
//!
//! - **put**: a multipart (metadata + media) upload whose metadata carries the `md5Hash`
//!   and `crc32c` of the bytes (GCS refuses bytes that do not match them); the object
//!   resource GCS answers with carries the MD5 and CRC-32C it computed over what it stored,
//!   and both must equal ours. They stay on the object: a HEAD proves it again later.
//! - **multipart**: each part is an object of its own (`<key>.stowage-parts/<upload id>/
//!   <part>`), uploaded and proven like a put; completion composes them into the key
//!   (32 at a time, as GCS allows), checks the composed object's CRC-32C against the
//!   parts' combined, and deletes the parts. gsutil's and gcloud's parallel composite
//!   uploads work the same way. Parts are listed back for resume, and in-progress
//!   uploads can be listed and aborted.
//! - head (object resource), get (`alt=media`, ranged), list (`objects.list`; the parts of
//!   uploads in progress are hidden), delete.

pub mod config;
mod error;
mod token;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use stowage_core::checksum::{checksum_bytes, crc32c_combine};
use stowage_core::{
    Capabilities, ChecksumAlgo, Checksums, Error, ErrorKind, GetResult, ListPage, ListRequest,
    MultipartUpload, ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, Result,
};

pub use config::{GcsAuth, GcsConfig};
use error::Context;
use token::Tokens;
use wire::{Object, ObjectList};

/// Bytes of a name kept as they are in a URL (RFC 3986 unreserved); `/` is encoded, as
/// the JSON API wants object names as one path segment.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The same, with `/` kept: a name in a URL path (signed URLs).
const KEY_IN_PATH: &AsciiSet = &ENCODE.remove(b'/');

/// Where the parts of a multipart upload wait: `<key>` + this + `<upload id>/<part>`.
pub const PARTS_MARK: &str = ".stowage-parts/";

/// GCS composes at most 32 objects in one request.
const COMPOSE_MAX: usize = 32;

/// How much of a refusal's body is read to explain it.
const PEEK: usize = 16 << 10;

/// One Google Cloud Storage bucket.
pub struct GcsStore {
    cfg: GcsConfig,
    base: String,
    origin: String,
    client: reqwest::Client,
    tokens: Tokens,
    /// object_store's client, kept where a service-account key signs download URLs (V4,
    /// `GOOG4-RSA-SHA256`).
    signer: Option<object_store::gcp::GoogleCloudStorage>,
    /// Set once the bucket answered: a 404 is then the object's.
    bucket_seen: AtomicBool,
    /// Content type and metadata of uploads this process started, given at composition; a
    /// resumed upload from another process gets its key's content type.
    pending: Mutex<HashMap<String, PutOptions>>,
}

impl std::fmt::Debug for GcsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsStore")
            .field("bucket", &self.cfg.bucket)
            .field("endpoint", &self.base)
            .field("auth", &self.cfg.auth)
            .finish_non_exhaustive()
    }
}

/// One request of ours, rebuilt for each attempt.
struct Req {
    method: Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Bytes>,
}

impl Req {
    fn new(method: Method, url: String) -> Req {
        Req {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }
}

impl GcsStore {
    /// Opens a bucket (no request is made; a service account's first token is fetched
    /// with the first request).
    pub fn new(cfg: GcsConfig) -> Result<GcsStore> {
        cfg.validate()?;
        let base = cfg.base_url()?;
        let origin = match reqwest::Url::parse(&base) {
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => base.clone(),
        };
        let client = stowage_http::client::build(
            stowage_http::client::client_builder(cfg.ca_bundle.as_ref())?
                .redirect(reqwest::redirect::Policy::none()),
        )?;
        let (tokens, signer) = Tokens::new(&cfg, &base, client.clone())?;
        Ok(GcsStore {
            cfg,
            base,
            origin,
            client,
            tokens,
            signer,
            bucket_seen: AtomicBool::new(false),
            pending: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &GcsConfig {
        &self.cfg
    }

    /// Creates the bucket in `project` (tests, and `stowage doctor`'s advice); one that
    /// exists already is fine.
    pub async fn create_bucket(&self, project: &str) -> Result<()> {
        let url = format!("{}/storage/v1/b?project={}", self.base, enc(project));
        let body = serde_json::json!({ "name": self.cfg.bucket }).to_string();
        let result = self
            .send("bucket creation", None, || {
                let mut r = Req::new(Method::POST, url.clone());
                r.headers.push(("content-type", "application/json".into()));
                r.body = Some(Bytes::from(body.clone()));
                r
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn object_url(&self, key: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.base,
            enc(&self.cfg.bucket),
            enc(key)
        )
    }

    fn ctx<'a>(&'a self, store: &'a str, what: &'a str) -> Context<'a> {
        Context {
            store,
            origin: &self.origin,
            what,
        }
    }

    /// Sends one request (with a fresh token each attempt), retried while the failure is
    /// retryable; answers ≥ 300 become errors. The answer's body is left to the caller.
    async fn send(
        &self,
        what: &str,
        key: Option<&str>,
        build: impl Fn() -> Req,
    ) -> Result<reqwest::Response> {
        let store = self.name();
        let result = self
            .cfg
            .retry
            .run(what, |_| async {
                let req = build();
                let mut rb = self.client.request(req.method, &req.url);
                if let Some(auth) = self.tokens.header().await? {
                    rb = rb.header("authorization", auth);
                }
                for (k, v) in &req.headers {
                    rb = rb.header(*k, v);
                }
                rb = match req.body {
                    Some(b) => rb.body(b),
                    None => rb.header("content-length", "0"),
                };
                let resp = rb.send().await.map_err(|e| {
                    stowage_http::errors::from_transport(e.without_url(), &self.origin)
                })?;
                let status = resp.status().as_u16();
                if status < 300 {
                    return Ok(resp);
                }
                let content_type = header(resp.headers(), "content-type").map(str::to_string);
                let body = peek(resp).await;
                Err(error::refusal(
                    &self.ctx(&store, what),
                    status,
                    content_type.as_deref(),
                    &body,
                ))
            })
            .await;
        let e = match result {
            Ok(r) => {
                self.bucket_seen.store(true, Ordering::Relaxed);
                return Ok(r);
            }
            Err(e) => e,
        };
        let e = if e.kind() == &ErrorKind::NotFound && !self.bucket_exists().await {
            error::bucket_missing(&store)
        } else {
            e
        };
        let e = e.with_bucket(&self.cfg.bucket);
        Err(match key {
            Some(k) => e.or_key(k),
            None => e,
        })
    }

    /// Whether the bucket answers (asked once a 404 comes, until it has answered).
    async fn bucket_exists(&self) -> bool {
        if self.bucket_seen.load(Ordering::Relaxed) {
            return true;
        }
        let url = format!("{}/storage/v1/b/{}", self.base, enc(&self.cfg.bucket));
        let mut rb = self.client.get(&url);
        if let Ok(Some(auth)) = self.tokens.header().await {
            rb = rb.header("authorization", auth);
        }
        match rb.send().await {
            Ok(r) if r.status().as_u16() == 404 => false,
            Ok(r) => {
                if r.status().is_success() {
                    self.bucket_seen.store(true, Ordering::Relaxed);
                }
                true
            }
            Err(_) => true,
        }
    }

    /// A JSON answer of `kind` (`storage#object`, `storage#objects`), or `UnexpectedReply`.
    async fn json<T: serde::de::DeserializeOwned + HasKind>(
        &self,
        what: &str,
        key: Option<&str>,
        resp: reqwest::Response,
    ) -> Result<T> {
        let status = resp.status().as_u16();
        let content_type = header(resp.headers(), "content-type").map(str::to_string);
        let body = resp
            .bytes()
            .await
            .map_err(|e| stowage_http::errors::from_transport(e.without_url(), &self.origin))?;
        let parsed: Option<T> = serde_json::from_slice(&body).ok();
        match parsed {
            Some(doc) if doc.kind_is_ok() => Ok(doc),
            _ => {
                let store = self.name();
                let e = error::not_gcs(
                    &self.ctx(&store, what),
                    status,
                    content_type.as_deref(),
                    &body,
                )
                .with_bucket(&self.cfg.bucket);
                Err(match key {
                    Some(k) => e.with_key(k),
                    None => e,
                })
            }
        }
    }

    /// Uploads `bytes` as `name` in one multipart (metadata + media) request whose
    /// metadata carries `sent`'s MD5 and CRC-32C; returns the object resource after
    /// checking the hashes GCS computed against them.
    async fn upload_object(
        &self,
        what: &str,
        name: &str,
        bytes: Bytes,
        sent: &Checksums,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Object> {
        let mut meta = serde_json::json!({
            "name": name,
            "contentType": content_type,
        });
        if let Some(md5) = sent.md5_base64() {
            meta["md5Hash"] = md5.into();
        }
        if let Some(crc) = sent.crc32c_base64() {
            meta["crc32c"] = crc.into();
        }
        if !metadata.is_empty() {
            meta["metadata"] = serde_json::to_value(metadata).unwrap_or_default();
        }
        let boundary = format!("stowage-{}", uuid::Uuid::new_v4().simple());
        let mut body = BytesMut::with_capacity(bytes.len() + 1024);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--{boundary}\r\ncontent-type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let body = body.freeze();
        let url = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=multipart&name={}",
            self.base,
            enc(&self.cfg.bucket),
            enc(name)
        );
        let resp = self
            .send(what, Some(name), || {
                let mut r = Req::new(Method::POST, url.clone());
                r.headers.push((
                    "content-type",
                    format!("multipart/related; boundary={boundary}"),
                ));
                r.body = Some(body.clone());
                r
            })
            .await?;
        let obj: Object = self.json(what, Some(name), resp).await?;
        let returned = obj.checksums();
        sent.verify(&returned).map_err(|e| {
            Error::new(
                ErrorKind::ChecksumMismatch,
                format!(
                    "Google Cloud Storage stored other bytes than were sent: {}",
                    e.message()
                ),
            )
            .with_key(name)
        })?;
        if obj.size() != Some(bytes.len() as u64) {
            return Err(Error::new(
                ErrorKind::ChecksumMismatch,
                format!(
                    "Google Cloud Storage reports {} bytes stored, but {} were sent",
                    obj.size().map_or("no".to_string(), |s| s.to_string()),
                    bytes.len()
                ),
            )
            .with_key(name));
        }
        Ok(obj)
    }

    async fn delete_name(&self, name: &str) -> Result<()> {
        let url = self.object_url(name);
        match self
            .send("deletion", Some(name), || {
                Req::new(Method::DELETE, url.clone())
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == &ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One page of `objects.list`, parts included.
    async fn list_raw(
        &self,
        prefix: &str,
        start_offset: Option<&str>,
        token: Option<&str>,
        max: u32,
    ) -> Result<ObjectList> {
        let mut url = format!(
            "{}/storage/v1/b/{}/o?maxResults={max}",
            self.base,
            enc(&self.cfg.bucket)
        );
        if !prefix.is_empty() {
            url.push_str(&format!("&prefix={}", enc(prefix)));
        }
        if let Some(s) = start_offset {
            url.push_str(&format!("&startOffset={}", enc(s)));
        }
        if let Some(t) = token {
            url.push_str(&format!("&pageToken={}", enc(t)));
        }
        let resp = self
            .send("listing", None, || Req::new(Method::GET, url.clone()))
            .await
            .map_err(|e| match e.kind() {
                // A listing's 404 is the bucket's.
                ErrorKind::NotFound => error::bucket_missing(&self.name()),
                _ => e,
            })?;
        self.json("listing", None, resp).await
    }

    /// Every object under `prefix`, parts included.
    async fn list_all_raw(&self, prefix: &str) -> Result<Vec<Object>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_raw(prefix, None, token.as_deref(), 1000).await?;
            out.extend(page.items);
            match page.next_page_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    fn upload_opts(&self, upload_id: &str) -> Option<PutOptions> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(upload_id)
            .cloned()
    }

    /// Composes an upload's parts into its key (in rounds of 32 through intermediate
    /// objects, named in `made`).
    async fn compose_parts(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
        made: &mut Vec<String>,
    ) -> Result<ObjectMeta> {
        let (key, id) = (upload.key.as_str(), upload.upload_id.as_str());
        let opts = self.upload_opts(id).unwrap_or_default();
        let content_type = opts.content_type_for(key);
        let mut sources: Vec<String> = parts
            .iter()
            .map(|p| part_name(key, id, p.part_number))
            .collect();
        // Rounds of 32 into intermediate objects while more remain.
        let mut round = 0;
        while sources.len() > COMPOSE_MAX {
            round += 1;
            let mut next = Vec::new();
            for (i, chunk) in sources.chunks(COMPOSE_MAX).enumerate() {
                let name = format!("{key}{PARTS_MARK}{id}/c{round}-{i:05}");
                self.compose(&name, chunk, "application/octet-stream", &BTreeMap::new())
                    .await?;
                made.push(name.clone());
                next.push(name);
            }
            sources = next;
        }
        let obj = self
            .compose(key, &sources, &content_type, &opts.metadata)
            .await?;
        Ok(obj.meta())
    }

    fn forget(&self, upload_id: &str) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(upload_id);
    }

    /// Composes `sources` (in order) into `dest`.
    async fn compose(
        &self,
        dest: &str,
        sources: &[String],
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Object> {
        let mut doc = serde_json::json!({
            "sourceObjects": sources.iter().map(|s| serde_json::json!({"name": s})).collect::<Vec<_>>(),
            "destination": {"contentType": content_type},
        });
        if !metadata.is_empty() {
            doc["destination"]["metadata"] = serde_json::to_value(metadata).unwrap_or_default();
        }
        let body = Bytes::from(doc.to_string());
        let url = format!("{}/compose", self.object_url(dest));
        let resp = self
            .send("composition of the parts", Some(dest), || {
                let mut r = Req::new(Method::POST, url.clone());
                r.headers.push(("content-type", "application/json".into()));
                r.body = Some(body.clone());
                r
            })
            .await?;
        self.json("composition of the parts", Some(dest), resp)
            .await
    }
}

/// A document whose `kind` says what it is (absent is accepted: some emulators omit it).
trait HasKind {
    fn kind_is_ok(&self) -> bool;
}

impl HasKind for Object {
    fn kind_is_ok(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == "storage#object")
    }
}

impl HasKind for ObjectList {
    fn kind_is_ok(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == "storage#objects")
    }
}

impl HasKind for wire::Bucket {
    fn kind_is_ok(&self) -> bool {
        true
    }
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

fn header<'h>(h: &'h reqwest::header::HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn peek(resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        out.extend_from_slice(&chunk);
        if out.len() >= PEEK {
            out.truncate(PEEK);
            break;
        }
    }
    out
}

/// The name of part `n` of upload `id` of `key`.
fn part_name(key: &str, id: &str, n: u32) -> String {
    format!("{key}{PARTS_MARK}{id}/{n:05}")
}

/// `(key, upload id, rest)` of a part's (or intermediate composite's) name.
fn parse_part_name(name: &str) -> Option<(&str, &str, &str)> {
    let i = name.rfind(PARTS_MARK)?;
    let (key, rest) = (&name[..i], &name[i + PARTS_MARK.len()..]);
    let (id, tail) = rest.split_once('/')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (!key.is_empty() && id_ok && !tail.is_empty() && !tail.contains('/')).then_some((key, id, tail))
}

/// The caller's user metadata, checked against what GCS takes.
fn check_metadata(key: &str, opts: &PutOptions) -> Result<()> {
    for k in opts.metadata.keys() {
        if k.is_empty() || k.len() > 1024 {
            return Err(Error::invalid_input(format!(
                "metadata name `{k}` is not allowed on Google Cloud Storage (1 to 1024 bytes)"
            ))
            .with_key(key));
        }
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for GcsStore {
    fn name(&self) -> String {
        format!("gs://{}", self.cfg.bucket)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            multipart: true,
            list_multipart_uploads: true,
            range_get: true,
            min_part_size: 1,
            // Each part is an object read into memory to be hashed and sent.
            max_part_size: 5 << 30,
            // Composed 32 at a time, in rounds; GCS sets no limit on components.
            max_parts: 10_000,
            verified_on_upload: vec![ChecksumAlgo::Md5, ChecksumAlgo::Crc32c],
            returned_by_head: vec![ChecksumAlgo::Md5, ChecksumAlgo::Crc32c],
            part_etag_is_md5: true,
            signed_urls: self.signer.is_some(),
            copies_files: false,
        }
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        check_metadata(key, opts)?;
        let bytes = body.bytes().await.map_err(|e| e.or_key(key))?;
        let mut sent = checksum_bytes(&bytes, &[ChecksumAlgo::Md5, ChecksumAlgo::Crc32c]);
        // The caller's hashes were taken from the file before this read: sending them
        // makes GCS refuse bytes that changed since.
        if let Some(given) = &opts.checksums {
            sent.md5 = given.md5.or(sent.md5);
            sent.crc32c = given.crc32c.or(sent.crc32c);
        }
        let obj = self
            .upload_object(
                "upload",
                key,
                bytes,
                &sent,
                &opts.content_type_for(key),
                &opts.metadata,
            )
            .await?;
        Ok(obj.meta())
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let url = self.object_url(key);
        let resp = self
            .send("metadata read", Some(key), || {
                Req::new(Method::GET, url.clone())
            })
            .await?;
        let obj: Object = self.json("metadata read", Some(key), resp).await?;
        Ok(obj.meta())
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        if let Some(r) = range.as_ref().filter(|r| r.is_empty()) {
            let meta = self.head(key).await?;
            return stowage_http::get::empty_range(meta, r, key);
        }
        let url = format!("{}?alt=media", self.object_url(key));
        let resp = self
            .send("download", Some(key), || {
                let mut r = Req::new(Method::GET, url.clone());
                if let Some(range) = &range {
                    r.headers
                        .push(("range", stowage_http::get::range_header(range)));
                }
                // The stored bytes as they are (no transcoding of gzip-encoded objects).
                r.headers.push(("accept-encoding", "identity".into()));
                r
            })
            .await
            .map_err(|e| match e.http_status() {
                Some(416) => Error::invalid_input(format!(
                    "range {:?} is outside the object",
                    range.clone().unwrap_or_default()
                ))
                .with_key(key),
                _ => e,
            })?;
        let h = resp.headers().clone();
        let status = resp.status().as_u16();
        // A media download from GCS (and fake-gcs-server) names the generation it served.
        if header(&h, "x-goog-generation").is_none() && header(&h, "x-goog-hash").is_none() {
            let store = self.name();
            let content_type = header(&h, "content-type").map(str::to_string);
            let body = peek(resp).await;
            return Err(error::not_gcs(
                &self.ctx(&store, "download"),
                status,
                content_type.as_deref(),
                &body,
            )
            .with_key(key));
        }
        let length: u64 = header(&h, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (size, got) = match (status, &range) {
            (206, Some(r)) => {
                match stowage_core::payload::parse_content_range(header(&h, "content-range")) {
                    Some((got, total)) => (total, got),
                    None => (r.end, r.clone()),
                }
            }
            (200, None) => (length, 0..length),
            (200, Some(r)) if r.start == 0 && r.end >= length => (length, 0..length),
            (s, _) => {
                return Err(Error::new(
                    ErrorKind::UnexpectedReply,
                    format!(
                        "Google Cloud Storage answered a range request with HTTP {s} instead of 206"
                    ),
                )
                .with_key(key));
            }
        };
        let mut checksums = Checksums::default();
        if let Some(hash) = header(&h, "x-goog-hash") {
            for part in hash.split(',') {
                match part.trim().split_once('=') {
                    Some(("crc32c", v)) => checksums.crc32c = Checksums::parse_crc32c_base64(v),
                    Some(("md5", v)) => checksums.md5 = Checksums::parse_md5_base64(v),
                    _ => {}
                }
            }
        }
        let metadata = h
            .iter()
            .filter_map(|(k, v)| {
                let name = k.as_str().strip_prefix("x-goog-meta-")?;
                Some((name.to_string(), v.to_str().ok()?.to_string()))
            })
            .collect();
        let meta = ObjectMeta {
            key: key.to_string(),
            size,
            etag: header(&h, "etag").map(|e| e.trim_matches('"').to_string()),
            last_modified: stowage_http::check::parse_time(header(&h, "last-modified")),
            content_type: header(&h, "content-type").map(str::to_string),
            checksums,
            metadata,
        };
        let origin = self.origin.clone();
        let body = resp
            .bytes_stream()
            .map_err(move |e| stowage_http::errors::from_transport(e.without_url(), &origin))
            .boxed();
        Ok(GetResult {
            meta,
            range: got,
            body,
        })
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        let max = req.max_keys.unwrap_or(1000).clamp(1, 1000);
        let mut token = req.continuation.clone();
        loop {
            let page = self
                .list_raw(
                    &req.prefix,
                    // startOffset is inclusive: the key itself is dropped below.
                    req.start_after.as_deref().filter(|_| token.is_none()),
                    token.as_deref(),
                    max,
                )
                .await?;
            let listed = page.items.len();
            let next = page.next_page_token.filter(|t| !t.is_empty());
            let objects: Vec<ObjectMeta> = page
                .items
                .iter()
                .filter(|o| parse_part_name(&o.name).is_none())
                .map(Object::meta)
                .filter(|o| {
                    req.start_after
                        .as_deref()
                        .is_none_or(|after| o.key.as_str() > after)
                })
                .collect();
            // A page of parts only is not the end: the keys after it follow.
            if objects.is_empty() && listed > 0 && next.is_some() {
                token = next;
                continue;
            }
            return Ok(ListPage { objects, next });
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.delete_name(key).await
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        check_metadata(key, opts)?;
        // GCS keeps no upload object: the parts are objects named after the upload.
        let upload_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(upload_id.clone(), opts.clone());
        Ok(MultipartUpload {
            key: key.to_string(),
            upload_id,
            initiated: Some(time::OffsetDateTime::now_utc()),
        })
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        let key = upload.key.as_str();
        let bytes = body.bytes().await.map_err(|e| e.or_key(key))?;
        // One pass: the MD5 and CRC-32C GCS checks, and the CRC-64s of the same bytes
        // (what the parts combine to before completion).
        let sent = checksum_bytes(
            &bytes,
            &[
                ChecksumAlgo::Md5,
                ChecksumAlgo::Crc32c,
                ChecksumAlgo::Crc64Nvme,
                ChecksumAlgo::Crc64Ecma,
            ],
        );
        let name = part_name(key, &upload.upload_id, part_number);
        let size = bytes.len() as u64;
        self.upload_object(
            &format!("upload of part {part_number}"),
            &name,
            bytes,
            &sent,
            "application/octet-stream",
            &BTreeMap::new(),
        )
        .await
        .map_err(|e| e.with_key(key))?;
        Ok(PartInfo {
            part_number,
            etag: sent.get(ChecksumAlgo::Md5).unwrap_or_default(),
            size,
            checksums: sent,
        })
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        let prefix = format!("{}{PARTS_MARK}{}/", upload.key, upload.upload_id);
        let objects = self
            .list_all_raw(&prefix)
            .await
            .map_err(|e| e.or_key(&upload.key))?;
        let mut parts: Vec<PartInfo> = objects
            .iter()
            .filter_map(|o| {
                let (_, _, tail) = parse_part_name(&o.name)?;
                let n: u32 = tail.parse().ok()?;
                let checksums = o.checksums();
                Some(PartInfo {
                    part_number: n,
                    etag: checksums.get(ChecksumAlgo::Md5)?,
                    size: o.size()?,
                    checksums,
                })
            })
            .collect();
        parts.sort_by_key(|p| p.part_number);
        if parts.is_empty() && self.upload_opts(&upload.upload_id).is_none() {
            return Err(Error::new(
                ErrorKind::UploadNotFound,
                format!(
                    "no parts of upload {} are stored in {} (never sent, aborted, or completed)",
                    upload.upload_id,
                    self.name()
                ),
            )
            .with_key(&upload.key));
        }
        Ok(parts)
    }

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        let key = upload.key.as_str();
        let id = upload.upload_id.as_str();
        if parts.is_empty() {
            return Err(
                Error::invalid_input(format!("upload {id} has no parts to compose")).with_key(key),
            );
        }
        // What the composite must be: the parts' CRC-32Cs combined in order, their sizes summed.
        let want = parts.iter().all(|p| p.checksums.crc32c.is_some()).then(|| {
            parts.iter().fold(0u32, |crc, p| {
                crc32c_combine(crc, p.checksums.crc32c.unwrap_or_default(), p.size)
            })
        });
        let size: u64 = parts.iter().map(|p| p.size).sum();
        let mut made = Vec::new();
        let meta = match self.compose_parts(upload, parts, &mut made).await {
            Ok(meta) => meta,
            // A part may be gone (GCS: 404; fake-gcs-server: 500): the upload may have been
            // completed already, by a run whose answer was lost. The key then holds exactly
            // these parts: their CRC-32C combined and their size.
            Err(e) => {
                let done = match (want, self.head(key).await) {
                    (Some(w), Ok(head))
                        if head.checksums.crc32c == Some(w) && head.size == size =>
                    {
                        Some(head)
                    }
                    _ => None,
                };
                match done {
                    Some(head) => head,
                    None if e.kind() == &ErrorKind::NotFound => {
                        return Err(Error::new(
                            ErrorKind::UploadNotFound,
                            format!(
                                "the parts of upload {id} are no longer stored (aborted, or completed into another object): {}",
                                e.message()
                            ),
                        )
                        .with_key(key));
                    }
                    None => return Err(e),
                }
            }
        };
        // The composed object's CRC-32C must be the parts' combined, in order: it is made
        // of exactly the parts GCS verified.
        if let Some(want) = want
            && (meta.checksums.crc32c != Some(want) || meta.size != size)
        {
            return Err(Error::new(
                    ErrorKind::ChecksumMismatch,
                    format!(
                        "the object composed from upload {id}'s {} parts has CRC-32C {} and {} bytes, but the parts combine to {} and {size} bytes",
                        parts.len(),
                        meta.checksums.crc32c_base64().unwrap_or_else(|| "none".into()),
                        meta.size,
                        Checksums { crc32c: Some(want), ..Default::default() }.crc32c_base64().unwrap_or_default(),
                    ),
                )
                .with_key(key));
        }
        self.forget(id);
        // The parts are no longer needed; one left behind is listed as an upload in
        // progress and removed by an abort.
        let leftovers: Vec<String> = parts
            .iter()
            .map(|p| part_name(key, id, p.part_number))
            .chain(made)
            .collect();
        let results: Vec<Result<()>> = futures::stream::iter(leftovers)
            .map(|n| async move { self.delete_name(&n).await })
            .buffer_unordered(8)
            .collect()
            .await;
        if let Some(e) = results.into_iter().find_map(|r| r.err()) {
            tracing::warn!(%key, upload_id = %id, error = %e, "a part was not deleted after composition");
        }
        Ok(meta)
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.forget(&upload.upload_id);
        let prefix = format!("{}{PARTS_MARK}{}/", upload.key, upload.upload_id);
        let objects = self
            .list_all_raw(&prefix)
            .await
            .map_err(|e| e.or_key(&upload.key))?;
        let names: Vec<String> = objects.into_iter().map(|o| o.name).collect();
        let results: Vec<Result<()>> = futures::stream::iter(names)
            .map(|n| async move { self.delete_name(&n).await })
            .buffer_unordered(8)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        let objects = self.list_all_raw(prefix).await?;
        let mut uploads: BTreeMap<(String, String), Option<time::OffsetDateTime>> = BTreeMap::new();
        for o in &objects {
            if let Some((key, id, _)) = parse_part_name(&o.name) {
                let when = o.meta().last_modified;
                let entry = uploads
                    .entry((key.to_string(), id.to_string()))
                    .or_insert(when);
                if let (Some(a), Some(b)) = (*entry, when) {
                    *entry = Some(a.min(b));
                }
            }
        }
        Ok(uploads
            .into_iter()
            .map(|((key, upload_id), initiated)| MultipartUpload {
                key,
                upload_id,
                initiated,
            })
            .collect())
    }

    async fn signed_get_url(&self, key: &str, expires: std::time::Duration) -> Result<String> {
        stowage_core::check_signed_url_expiry(
            &self.name(),
            expires,
            Some(stowage_core::MAX_SIGNED_URL_EXPIRY),
        )?;
        let Some(signer) = &self.signer else {
            return Err(Error::unsupported(format!(
                "{} signs download URLs only with a service-account key (its private key signs them): set {} to the key file",
                self.name(),
                config::CREDENTIALS_ENV
            )));
        };
        // object_store signs the URL's path as it is: given the name percent-encoded as
        // GCS's canonical request wants it (all but RFC 3986's unreserved and `/`, as
        // Google's SDKs do), the path signed is the path GCS checks. Given the raw name, it
        // would sign `+`, `(`, `)`… unencoded, and GCS would refuse the URL.
        let encoded = utf8_percent_encode(key, KEY_IN_PATH).to_string();
        let path = object_store::path::Path::parse(&encoded).map_err(|_| {
            Error::invalid_input(
                "keys with empty segments (`//`, a leading or trailing `/`) or `.`/`..` segments cannot be signed on Google Cloud Storage",
            )
            .with_key(key)
        })?;
        use object_store::signer::Signer as _;
        let url = signer
            .signed_url(http::Method::GET, &path, expires)
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidCredentials,
                    format!(
                        "cannot sign a download URL with the service-account key: {}",
                        e.to_string().lines().next().unwrap_or_default()
                    ),
                )
                .with_key(key)
            })?;
        Ok(url.to_string())
    }

    async fn bucket_region(&self) -> Result<Option<String>> {
        let url = format!("{}/storage/v1/b/{}", self.base, enc(&self.cfg.bucket));
        let resp = self
            .send("bucket read", None, || Req::new(Method::GET, url.clone()))
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => error::bucket_missing(&self.name()),
                _ => e,
            })?;
        let b: wire::Bucket = self.json("bucket read", None, resp).await?;
        Ok(b.location.map(|l| l.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_round_trip_and_never_match_plain_keys() {
        let n = part_name("rec/a b.mp4", "0123456789abcdef", 7);
        assert_eq!(n, "rec/a b.mp4.stowage-parts/0123456789abcdef/00007");
        assert_eq!(
            parse_part_name(&n),
            Some(("rec/a b.mp4", "0123456789abcdef", "00007"))
        );
        assert_eq!(parse_part_name("rec/a.mp4"), None);
        assert_eq!(parse_part_name("rec/.stowage-parts/x/1"), None);
    }

    #[test]
    fn names_are_one_path_segment() {
        assert_eq!(enc("rec/a b+c.ts"), "rec%2Fa%20b%2Bc.ts");
    }
}
