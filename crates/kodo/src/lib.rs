//! Qiniu Kodo, on Kodo's native API: upload tokens scoped to `bucket:key`, form upload for
//! `put`, resumable upload v2 for multipart (caller-owned part numbers, like every store),
//! `rs` stat and delete and `rsf` listing with the `Qiniu` (v2) authorization, downloads
//! through the bucket's domain with signed private URLs, and the zone found through
//! `uc /v4/query`. Every upload's returned `hash` is compared with the local qetag (v1, or
//! v2 for multipart objects whose parts are not 4 MiB), and listings carry each object's
//! qetag, so a verifier needs no extra request per object.

mod body;
mod config;
mod error;
mod sign;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use stowage_core::retry::RetryPolicy;
use stowage_core::{
    Capabilities, ChecksumAlgo, Checksums, Error, ErrorKind, GetResult, ListPage, ListRequest,
    MultipartUpload, ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, Result,
};
use stowage_http::follow::Followed;
use stowage_http::reply::{self, Format, Unexpected, Vendor};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use body::{Source, request_body};
pub use config::{ACCESS_KEY_ENV, DEFAULT_UC_HOST, KodoConfig, SECRET_KEY_ENV};
use config::{Hosts, with_scheme};
use error::{Ctx, from_answer, from_transport};
pub use sign::Signer;
pub use wire::combine_part_qetags;
use wire::{
    InitReply, ListReply, PartReply, PartsReply, StatReply, UploadReply, file_name, from_put_time,
    listed_meta, meta_from_download, now_unix, qetag_sums,
};

const MIN_PART: u64 = 1 << 20;
const MAX_PART: u64 = 1 << 30;

/// Key bytes kept as they are in a download URL path (RFC 3986 unreserved, and `/`).
const KEY_IN_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The hosts requests go to, and the zone they serve (unknown behind an explicit endpoint).
#[derive(Debug, Default)]
struct Place {
    zone: Option<String>,
    hosts: Hosts,
}

impl Place {
    fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }
}

/// One Kodo bucket.
pub struct KodoStore {
    cfg: KodoConfig,
    signer: Signer,
    /// The up/rs/rsf hosts: the configured zone's (or endpoint's), until Qiniu says the
    /// bucket is in another zone (see [`KodoStore::follow_zone`]).
    place: Followed<Place>,
    http: reqwest::Client,
    retry: RetryPolicy,
    /// The download base URL, found once on first use.
    download_base: OnceCell<String>,
    /// Content type and metadata of uploads this process started, given at completion
    /// (Kodo takes them there, not at initiation).
    pending: Mutex<HashMap<String, PutOptions>>,
}

impl std::fmt::Debug for KodoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KodoStore")
            .field("bucket", &self.cfg.bucket)
            .field("zone", &self.cfg.zone)
            .field("hosts", &self.hosts())
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

/// Qiniu Kodo: every answer of its API carries `X-Reqid`.
const KODO: Vendor = Vendor {
    name: "Qiniu Kodo",
    article: "a",
    mark: "x-reqid",
};

/// One successful answer, read whole (Kodo's API answers are small JSON).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    /// Where the request went (scheme, host and port), for messages.
    origin: String,
}

impl KodoStore {
    /// Opens a bucket. Without `zone` or `endpoint` the zone is asked from `uc` now.
    pub async fn new(cfg: KodoConfig) -> Result<KodoStore> {
        let signer = Signer::new(cfg.resolve_credentials()?);
        let http = stowage_http::client::build(
            stowage_http::client::client_builder(cfg.ca_bundle.as_ref())?
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60)),
        )?;
        let mut store = KodoStore {
            place: Followed::new(Place::default()),
            retry: RetryPolicy {
                max_attempts: cfg.max_attempts.max(1),
                ..RetryPolicy::default()
            },
            signer,
            http,
            download_base: OnceCell::new(),
            pending: Mutex::default(),
            cfg,
        };
        let hosts = match (&store.cfg.endpoint, &store.cfg.zone) {
            (Some(ep), _) => Hosts::single(ep),
            (None, Some(zone)) => Hosts::for_zone(zone, store.cfg.accelerated, store.cfg.https),
            (None, None) => store.discover_hosts().await?,
        };
        store.place = Followed::new(Place {
            zone: store.cfg.zone.clone(),
            hosts,
        });
        Ok(store)
    }

    /// The bucket's zone (`z0`, `z2`, `na0`, …), from `uc /v4/query`.
    pub async fn bucket_zone(&self) -> Result<String> {
        let answer = self.query_bucket().await?;
        answer["region"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.bad_answer("uc /v4/query", "no region"))
    }

    /// The object's URL on the bucket's download domain, unsigned: it works for public
    /// buckets only.
    pub async fn public_url(&self, key: &str) -> Result<String> {
        let base = self.download_base().await?;
        Ok(format!("{base}/{}", utf8_percent_encode(key, KEY_IN_PATH)))
    }

    /// The object's URL signed for a private bucket (`e=<deadline>&token=…`), valid for `ttl`.
    pub async fn private_url(&self, key: &str, ttl: Duration) -> Result<String> {
        let url = self.public_url(key).await?;
        Ok(self
            .signer
            .private_url(&url, now_unix() + ttl.as_secs() as i64))
    }

    // ------------------------------------------------------------ requests

    /// Sends a request (built anew for each attempt) and returns a 2xx answer; other
    /// answers become errors of `ctx`, retried when retryable.
    async fn call<F>(&self, what: &str, ctx: Ctx, build: F) -> Result<Answer>
    where
        F: Fn() -> Result<RequestBuilder>,
    {
        match self.call_retried(what, ctx, &build).await {
            Err(e) => {
                let e = self.explain(e).await;
                if !self.follow_zone(&e).await {
                    return Err(e);
                }
                match self.call_retried(what, ctx, &build).await {
                    Err(e) => Err(self.explain(e).await),
                    ok => ok,
                }
            }
            ok => ok,
        }
    }

    fn hosts(&self) -> Hosts {
        self.place.now().hosts.clone()
    }

    /// On Qiniu's "incorrect region" (the bucket is in another zone than the hosts used),
    /// moves this store once to the hosts `uc` names for the bucket, so that a wrong
    /// `--region` still lands (with a warning naming the zone to set). Requests that hit the
    /// same answer meanwhile are sent again; a second, different zone is not followed. True
    /// when the request is worth sending again.
    async fn follow_zone(&self, e: &Error) -> bool {
        let Some(zone) = e.bucket_region() else {
            return false;
        };
        if self.place.now().zone.as_deref() == Some(zone) {
            return true; // another request already moved the store
        }
        let Ok(hosts) = self.discover_hosts().await else {
            return false;
        };
        self.place.follow(e, Place::zone, |zone| {
            Some(Place {
                zone: Some(zone.to_owned()),
                hosts,
            })
        })
    }

    /// Completes what Qiniu's answer leaves open, with one `uc` query: an unknown access key
    /// and a wrong secret both get 401 "bad token" (`uc` names an unknown key), and a
    /// wrong-zone answer does not always name the bucket's zone.
    async fn explain(&self, e: Error) -> Error {
        match e.kind() {
            ErrorKind::SignatureMismatch => match self.query_bucket().await {
                Err(q) if q.kind() == &ErrorKind::InvalidCredentials => {
                    error::unknown_access_key(&e, self.signer.access_key())
                }
                _ => e,
            },
            ErrorKind::WrongRegion {
                bucket_region: None,
            } => match self.bucket_zone().await {
                Ok(zone) => error::in_zone(&e, zone),
                Err(_) => e,
            },
            _ => e,
        }
    }

    async fn call_retried<F>(&self, what: &str, ctx: Ctx, build: F) -> Result<Answer>
    where
        F: Fn() -> Result<RequestBuilder>,
    {
        self.retry
            .run(what, |_| async {
                let request = build()?.build().map_err(from_transport)?;
                let origin = origin(request.url());
                let resp = self.http.execute(request).await.map_err(from_transport)?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.bytes().await.map_err(from_transport)?;
                // Not Kodo's at all (a page, a login redirect): say so, whatever the status.
                let answer = reply::Answer::from_headers(&KODO, status, &headers, false, &body);
                unexpected(&origin)
                    .check(&answer, false)
                    .map_err(|e| e.with_bucket(&self.cfg.bucket))?;
                if (200..300).contains(&status) {
                    return Ok(Answer {
                        status,
                        headers,
                        body,
                        origin,
                    });
                }
                let id = headers.get("x-reqid").and_then(|v| v.to_str().ok());
                Err(from_answer(status, &body, id, ctx).with_bucket(&self.cfg.bucket))
            })
            .await
    }

    /// A management request to `base` (rs, rsf or uc) with the `Qiniu` authorization.
    fn management(
        &self,
        method: Method,
        base: &str,
        path_and_query: &str,
    ) -> Result<RequestBuilder> {
        let url = format!("{base}{path_and_query}");
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| Error::invalid_input(format!("Kodo URL {url}: {e}")))?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(Error::invalid_input(format!("Kodo URL {url} has no host"))),
        };
        let pq = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        let auth = self
            .signer
            .management(method.as_str(), &pq, &host, sign::FORM, b"");
        Ok(self
            .http
            .request(method, parsed)
            .header("content-type", sign::FORM)
            .header("authorization", auth))
    }

    fn upload_token(&self, key: &str) -> String {
        let deadline = now_unix() + self.cfg.token_ttl.as_secs() as i64;
        self.signer.upload_token(&self.cfg.bucket, key, deadline)
    }

    /// `urlsafe_b64("bucket:key")`, Qiniu's EncodedEntryURI.
    fn entry(&self, key: &str) -> String {
        URL_SAFE.encode(format!("{}:{key}", self.cfg.bucket))
    }

    /// `{up}/buckets/<bucket>/objects/<urlsafe_b64(key)>/uploads[/…]`
    fn uploads_url(&self, key: &str, rest: &str) -> String {
        format!(
            "{}/buckets/{}/objects/{}/uploads{rest}",
            self.hosts().up,
            self.cfg.bucket,
            URL_SAFE.encode(key)
        )
    }

    /// JSON that lacks what Kodo's answer to `what` always has.
    fn bad_answer(&self, what: &str, why: &str) -> Error {
        Error::new(
            ErrorKind::UnexpectedReply,
            format!(
                "the answer to Kodo {what} is JSON but not the one Qiniu Kodo sends ({why}): the endpoint may not be a Qiniu Kodo server (or something answers in its place)"
            ),
        )
        .with_bucket(&self.cfg.bucket)
    }

    /// A 2xx answer's JSON; an empty body, a page, or other JSON is an unexpected reply.
    fn json<T: for<'de> Deserialize<'de>>(&self, what: &str, answer: &Answer) -> Result<T> {
        serde_json::from_slice(&answer.body).map_err(|e| {
            let shown = reply::Answer::from_headers(
                &KODO,
                answer.status,
                &answer.headers,
                false,
                &answer.body,
            );
            unexpected(&answer.origin)
                .not_document(what, Format::Json, &shown, Some(&e.to_string()))
                .with_bucket(&self.cfg.bucket)
        })
    }

    // ------------------------------------------------------------ uc

    /// The bucket's entry in `uc /v4/query` (`{"region", "up": {"domains"}, …}`).
    async fn query_bucket(&self) -> Result<Value> {
        let base = self.uc_base();
        let url = format!(
            "{base}/v4/query?ak={}&bucket={}",
            utf8_percent_encode(self.signer.access_key(), NON_ALPHANUMERIC),
            utf8_percent_encode(&self.cfg.bucket, NON_ALPHANUMERIC)
        );
        let answer = self
            .call_retried("uc /v4/query", Ctx::Bucket, || Ok(self.http.get(&url)))
            .await?;
        let body: Value = self.json("uc /v4/query", &answer)?;
        body["hosts"]
            .get(0)
            .cloned()
            .ok_or_else(|| self.bad_answer("uc /v4/query", "no hosts"))
    }

    fn uc_base(&self) -> String {
        match &self.cfg.endpoint {
            Some(ep) => ep.trim_end_matches('/').to_owned(),
            None => self.cfg.uc_host.trim_end_matches('/').to_owned(),
        }
    }

    /// The hosts `uc` names for the bucket (its zone's).
    async fn discover_hosts(&self) -> Result<Hosts> {
        let entry = self.query_bucket().await?;
        let first = |service: &str| {
            entry[service]["domains"][0]
                .as_str()
                .map(|h| with_scheme(h, self.cfg.https))
                .ok_or_else(|| self.bad_answer("uc /v4/query", &format!("no {service} host")))
        };
        Ok(Hosts {
            up: first("up")?,
            rs: first("rs")?,
            rsf: first("rsf")?,
        })
    }

    async fn download_base(&self) -> Result<&String> {
        self.download_base
            .get_or_try_init(|| async {
                if let Some(d) = &self.cfg.download_domain {
                    return Ok(with_scheme(d, self.cfg.https));
                }
                let pq = format!("/v2/domains?tbl={}", utf8_percent_encode(&self.cfg.bucket, NON_ALPHANUMERIC));
                let base = self.uc_base();
                let answer = self
                    .call("uc /v2/domains", Ctx::Bucket, || self.management(Method::GET, &base, &pq))
                    .await?;
                let domains: Vec<String> = self.json("uc /v2/domains", &answer)?;
                let first = domains.first().ok_or_else(|| {
                    Error::invalid_input(format!(
                        "Kodo bucket {} has no download domain: bind one in the Qiniu console (or pass it as download_domain)",
                        self.cfg.bucket
                    ))
                })?;
                Ok(with_scheme(first, self.cfg.https && self.cfg.endpoint.is_none()))
            })
            .await
    }

    // ------------------------------------------------------------ uploads

    /// Form upload of `body`; returns Kodo's `hash`.
    async fn form_upload(&self, key: &str, body: &Source, opts: &PutOptions) -> Result<String> {
        let content_type = opts.content_type_for(key);
        let answer = self
            .call(&format!("upload {key}"), Ctx::Object, || {
                let file =
                    reqwest::multipart::Part::stream_with_length(request_body(body)?, body.len())
                        .file_name(file_name(key))
                        .mime_str(&content_type)
                        .map_err(|e| {
                            Error::invalid_input(format!("content type {content_type:?}: {e}"))
                        })?;
                let mut form = reqwest::multipart::Form::new()
                    .text("token", self.upload_token(key))
                    .text("key", key.to_owned());
                for (k, v) in &opts.metadata {
                    form = form.text(format!("x-qn-meta-{k}"), v.clone());
                }
                let url = format!("{}/", self.hosts().up);
                Ok(self.http.post(url).multipart(form.part("file", file)))
            })
            .await?;
        let reply: UploadReply = self.json("form upload", &answer)?;
        Ok(reply.hash)
    }

    /// The whole object's qetag expected from parts' sizes and qetags, when all are known.
    fn expected_multipart_hash(parts: &[PartInfo]) -> Option<String> {
        let pieces: Option<Vec<(u64, String)>> = parts
            .iter()
            .map(|p| p.checksums.qetag.clone().map(|q| (p.size, q)))
            .collect();
        combine_part_qetags(&pieces?)
    }

    fn check_hash(&self, key: &str, local: Option<&str>, stored: &str) -> Result<()> {
        match local {
            Some(l) if l != stored => Err(Error::new(
                ErrorKind::ChecksumMismatch,
                format!("qetag differs: local {l} but Kodo stored {stored}"),
            )
            .with_bucket(&self.cfg.bucket)
            .with_key(key)),
            _ => Ok(()),
        }
    }

    fn pending_opts(&self, upload_id: &str) -> Option<PutOptions> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(upload_id)
            .cloned()
    }

    fn forget_upload(&self, upload_id: &str) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(upload_id);
    }

    /// One page of `rsf /list`.
    async fn list_page(&self, prefix: &str, marker: Option<&str>, limit: u32) -> Result<ListReply> {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut pq = format!("/list?bucket={}&limit={limit}", enc(&self.cfg.bucket));
        if !prefix.is_empty() {
            pq.push_str(&format!("&prefix={}", enc(prefix)));
        }
        if let Some(m) = marker {
            pq.push_str(&format!("&marker={}", enc(m)));
        }
        let answer = self
            .call("rsf /list", Ctx::Object, || {
                self.management(Method::GET, &self.hosts().rsf, &pq)
            })
            .await?;
        self.json("rsf /list", &answer)
    }

    async fn get_range(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        let url = self.private_url(key, self.cfg.token_ttl).await?;
        let mut req = self.http.get(&url);
        if let Some(r) = &range {
            req = req.header("range", format!("bytes={}-{}", r.start, r.end - 1));
        }
        let resp = req.send().await.map_err(from_transport)?;
        let status = resp.status();
        if !status.is_success() {
            let id = resp
                .headers()
                .get("x-reqid")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = resp.bytes().await.unwrap_or_default();
            let e = from_answer(status.as_u16(), &body, id.as_deref(), Ctx::Object);
            return Err(self.explain(e).await);
        }
        let meta = meta_from_download(key, resp.headers());
        let served = match (range, status) {
            (Some(r), StatusCode::PARTIAL_CONTENT) => r,
            _ => 0..meta.size,
        };
        let body = resp
            .bytes_stream()
            .map_err({
                let key = key.to_owned();
                move |e| from_transport(e).with_key(&key)
            })
            .boxed();
        Ok(GetResult {
            meta,
            range: served,
            body,
        })
    }
}

/// The errors for answers that are not Kodo's, naming `origin`.
fn unexpected(origin: &str) -> Unexpected<'_> {
    Unexpected {
        vendor: KODO,
        endpoint: Some(origin),
    }
}

/// `scheme://host[:port]` of a request URL: never its path or query (tokens travel there).
fn origin(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", url.scheme()),
        (Some(h), None) => format!("{}://{h}", url.scheme()),
        (None, _) => url.scheme().to_owned(),
    }
}

#[async_trait]
impl ObjectStore for KodoStore {
    fn name(&self) -> String {
        format!("kodo://{}", self.cfg.bucket)
    }

    /// The bucket's zone (`z0`, `na0`, …) from `uc /v4/query`.
    async fn bucket_region(&self) -> Result<Option<String>> {
        self.bucket_zone().await.map(Some)
    }

    /// The private download URL ([`KodoStore::private_url`]); Kodo sets no upper limit.
    async fn signed_get_url(&self, key: &str, expires: Duration) -> Result<String> {
        stowage_core::check_signed_url_expiry(&self.name(), expires, None)?;
        self.private_url(key, expires).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            multipart: true,
            // Resumable v2 has no call listing a bucket's open uploads.
            list_multipart_uploads: false,
            range_get: true,
            min_part_size: MIN_PART,
            max_part_size: MAX_PART,
            max_parts: 10_000,
            // Kodo checks nothing we send on a form upload; every upload's returned qetag
            // is compared with the local one instead.
            verified_on_upload: vec![ChecksumAlgo::Qetag],
            // Stat returns `md5` for objects from a direct (form) upload, which `put` is;
            // multipart objects have the qetag only.
            returned_by_head: vec![ChecksumAlgo::Qetag, ChecksumAlgo::Md5],
            // A part's etag is its qetag, listed by ListParts; resume compares that.
            part_etag_is_md5: false,
            signed_urls: true,
            copies_files: false,
        }
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        let known = opts.checksums.as_ref().and_then(|c| c.qetag.clone());
        let (body, qetag) = match (known, body) {
            (Some(q), body @ (PutBody::Bytes(_) | PutBody::File { .. })) => (body, q),
            (_, body) => {
                let (body, sums) = body
                    .checksums(&[ChecksumAlgo::Qetag])
                    .await
                    .map_err(|e| e.or_key(key))?;
                (body, sums.qetag.unwrap_or_default())
            }
        };
        let size = body.len();
        let body = Source::from_body(body).await.map_err(|e| e.or_key(key))?;
        let hash = self
            .form_upload(key, &body, opts)
            .await
            .map_err(|e| e.or_key(key))?;
        self.check_hash(key, Some(&qetag), &hash)?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size,
            etag: Some(hash.clone()),
            content_type: Some(opts.content_type_for(key)),
            checksums: qetag_sums(hash),
            metadata: opts.metadata.clone(),
            last_modified: None,
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let pq = format!("/stat/{}", self.entry(key));
        let answer = self
            .call("rs /stat", Ctx::Object, || {
                self.management(Method::GET, &self.hosts().rs, &pq)
            })
            .await
            .map_err(|e| e.or_key(key))?;
        let s: StatReply = self.json("rs /stat", &answer)?;
        let mut checksums = qetag_sums(s.hash.clone());
        if let Some(md5) = &s.md5 {
            checksums.set(ChecksumAlgo::Md5, md5);
        }
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: s.fsize,
            etag: Some(s.hash),
            last_modified: s.put_time.and_then(from_put_time),
            content_type: s.mime_type,
            checksums,
            metadata: s.meta,
        })
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        if let Some(r) = range.as_ref().filter(|r| r.is_empty()) {
            // No HTTP range names zero bytes.
            let meta = self.head(key).await?;
            let body = futures::stream::empty().boxed();
            return Ok(GetResult {
                meta,
                range: r.clone(),
                body,
            });
        }
        self.get_range(key, range)
            .await
            .map_err(|e| e.with_bucket(&self.cfg.bucket).or_key(key))
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        let limit = req.max_keys.unwrap_or(1000).clamp(1, 1000);
        let mut marker = req.continuation.clone();
        // Kodo has no start-after: skip keys up to it, page by page.
        loop {
            let page = self
                .list_page(&req.prefix, marker.as_deref(), limit)
                .await?;
            let next = page.marker.filter(|m| !m.is_empty());
            let objects: Vec<ObjectMeta> = page
                .items
                .into_iter()
                .filter(|i| req.start_after.as_ref().is_none_or(|s| i.key > *s))
                .map(listed_meta)
                .collect();
            if !objects.is_empty() || next.is_none() {
                return Ok(ListPage { objects, next });
            }
            marker = next;
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let pq = format!("/delete/{}", self.entry(key));
        match self
            .call("rs /delete", Ctx::Object, || {
                self.management(Method::POST, &self.hosts().rs, &pq)
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == &ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.or_key(key)),
        }
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        let answer = self
            .call("initiate resumable upload", Ctx::Object, || {
                Ok(self.http.post(self.uploads_url(key, "")).header(
                    "authorization",
                    format!("UpToken {}", self.upload_token(key)),
                ))
            })
            .await
            .map_err(|e| e.or_key(key))?;
        let init: InitReply = self.json("initiate", &answer)?;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(init.upload_id.clone(), opts.clone());
        Ok(MultipartUpload {
            key: key.to_owned(),
            upload_id: init.upload_id,
            initiated: Some(OffsetDateTime::now_utc()),
        })
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        let key = upload.key.as_str();
        // A part's bytes in memory (parts are at most a few tens of MiB in practice).
        let data = body.bytes().await.map_err(|e| e.or_key(key))?;
        // The CRC-64 comes from the same bytes as the MD5 Kodo checks, so the caller can
        // combine the parts' CRCs into the file's.
        let sums = stowage_core::checksum::checksum_bytes(
            &data,
            &[
                ChecksumAlgo::Md5,
                ChecksumAlgo::Qetag,
                ChecksumAlgo::Crc64Ecma,
            ],
        );
        let md5_hex = sums.get(ChecksumAlgo::Md5).unwrap_or_default();
        let rest = format!("/{}/{part_number}", upload.upload_id);
        let answer = self
            .call(&format!("part {part_number} of {key}"), Ctx::Upload, || {
                Ok(self
                    .http
                    .put(self.uploads_url(key, &rest))
                    .header(
                        "authorization",
                        format!("UpToken {}", self.upload_token(key)),
                    )
                    .header("content-type", "application/octet-stream")
                    .header("content-md5", &md5_hex)
                    .body(data.clone()))
            })
            .await
            .map_err(|e| e.or_key(key))?;
        let reply: PartReply = self.json("upload part", &answer)?;
        if let Some(md5) = reply
            .md5
            .as_deref()
            .filter(|m| !m.eq_ignore_ascii_case(&md5_hex))
        {
            return Err(Error::new(
                ErrorKind::ChecksumMismatch,
                format!("part {part_number}: md5 differs: local {md5_hex} but Kodo stored {md5}"),
            )
            .with_key(key));
        }
        let mut checksums = sums;
        if checksums.qetag.as_deref().is_none_or(|q| q != reply.etag) {
            // An etag that is not the part's qetag proves nothing locally; keep the MD5 only.
            checksums.qetag = None;
        }
        Ok(PartInfo {
            part_number,
            etag: reply.etag,
            size: data.len() as u64,
            checksums,
        })
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        let key = upload.key.as_str();
        let mut out = Vec::new();
        let mut marker = 0u32;
        loop {
            // Qiniu's docs (kodo/6858) and java-sdk spell the marker `part-number-marker`,
            // go-sdk's generated storagev2 `part-number_marker`: send both, the server reads
            // the one it knows.
            let mut query = format!("/{}?max-parts=1000", upload.upload_id);
            if marker > 0 {
                query.push_str(&format!(
                    "&part-number-marker={marker}&part-number_marker={marker}"
                ));
            }
            let answer = self
                .call("list parts", Ctx::Upload, || {
                    Ok(self.http.get(self.uploads_url(key, &query)).header(
                        "authorization",
                        format!("UpToken {}", self.upload_token(key)),
                    ))
                })
                .await
                .map_err(|e| e.or_key(key))?;
            let page: PartsReply = self.json("list parts", &answer)?;
            out.extend(page.parts.into_iter().map(|p| {
                let mut checksums = Checksums::default();
                // The listed etag is the part's qetag: what a resume compares.
                checksums.set(ChecksumAlgo::Qetag, &p.etag);
                PartInfo {
                    part_number: p.part_number,
                    etag: p.etag,
                    size: p.size,
                    checksums,
                }
            }));
            if page.marker == 0 {
                return Ok(out);
            }
            marker = page.marker;
        }
    }

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        let key = upload.key.as_str();
        let opts = self.pending_opts(&upload.upload_id).unwrap_or_default();
        let content_type = opts.content_type_for(key);
        let metadata: BTreeMap<String, String> = opts
            .metadata
            .iter()
            .map(|(k, v)| (format!("x-qn-meta-{k}"), v.clone()))
            .collect();
        let body = json!({
            "parts": parts.iter().map(|p| json!({ "partNumber": p.part_number, "etag": p.etag })).collect::<Vec<_>>(),
            "fname": file_name(key),
            // Qiniu's docs and Python SDK name it `mimeType`, go-sdk's storagev2 `mime_type`:
            // send both, the server reads the one it knows.
            "mimeType": content_type,
            "mime_type": content_type,
            "metadata": metadata,
        })
        .to_string();
        let rest = format!("/{}", upload.upload_id);
        let answer = self
            .call("complete resumable upload", Ctx::Upload, || {
                Ok(self
                    .http
                    .post(self.uploads_url(key, &rest))
                    .header(
                        "authorization",
                        format!("UpToken {}", self.upload_token(key)),
                    )
                    .header("content-type", "application/json")
                    .body(body.clone()))
            })
            .await
            .map_err(|e| e.or_key(key))?;
        let reply: UploadReply = self.json("complete", &answer)?;
        self.forget_upload(&upload.upload_id);
        let expected = Self::expected_multipart_hash(parts);
        self.check_hash(key, expected.as_deref(), &reply.hash)?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: parts.iter().map(|p| p.size).sum(),
            etag: Some(reply.hash.clone()),
            content_type: Some(content_type),
            checksums: qetag_sums(reply.hash),
            metadata: opts.metadata,
            last_modified: None,
        })
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        let key = upload.key.as_str();
        let rest = format!("/{}", upload.upload_id);
        self.call("abort resumable upload", Ctx::Upload, || {
            Ok(self.http.delete(self.uploads_url(key, &rest)).header(
                "authorization",
                format!("UpToken {}", self.upload_token(key)),
            ))
        })
        .await
        .map_err(|e| e.or_key(key))?;
        self.forget_upload(&upload.upload_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_encoding_keeps_slashes_and_unreserved() {
        let enc = utf8_percent_encode("a b/段+~.ts", KEY_IN_PATH).to_string();
        assert_eq!(enc, "a%20b/%E6%AE%B5%2B~.ts");
    }
}
