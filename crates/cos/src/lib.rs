//! Tencent COS store for Stowage on COS's XML API: `q-sign-algorithm=sha1` signing (through
//! reqsign-tencent-cos), STS tokens; `<bucket>-<appid>.cos.<region>.myqcloud.com` hosts, the
//! accelerate host, custom domains, path style for local servers, and the `.tencentcos.cn`
//! fallback on redirects the official SDK makes; every upload checked against the CRC-64/XZ
//! COS returns (`x-cos-hash-crc64ecma`): PUT Object (also sent with `Content-MD5`), each
//! part, and the completed multipart object (predicted from the parts' CRCs).
//!
//! COS's GET Bucket listing is eventually consistent (a just-written object may be missing
//! from it); HEAD and GET are not. Callers that confirm uploads (the verifier) HEAD any
//! expected key a listing lacks before calling it missing.
//!
//! Requests go out through reqwest (rustls); bodies are streamed from files; each request
//! is retried on throttling, 5xx and broken connections.

pub mod config;
mod error;
mod sign;
mod xml;

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::payload::{Payload, file_stream, take_hasher};
use stowage_core::retry::RetryPolicy;
use stowage_core::{
    Capabilities, ChecksumAlgo, Credentials, Error, GetResult, Hasher, ListPage, ListRequest,
    MultipartUpload, ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, Result,
};
use stowage_http::errors::from_transport;
use stowage_http::follow::{Followed, run_following};
use stowage_http::get::{empty_range, range_header};
use stowage_http::parts::check_combined;
use stowage_http::reply::Vendor;
use stowage_http::{
    Call, Dialect, PartCrcs, Reply, check_status, parse_time, part_crc, read_reply, unquote,
};
use time::OffsetDateTime;

pub use config::{Addressing, CosConfig, validate_bucket};

use crate::sign::Signer;

/// Smallest part but the last (COS: 1 MB).
pub const MIN_PART: u64 = 1024 * 1024;
const ALGOS: [ChecksumAlgo; 2] = [ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma];
/// COS (its answers carry `x-cos-` headers), its CRC-64 and user-metadata headers.
const DIALECT: Dialect = Dialect {
    vendor: Vendor {
        name: "COS",
        article: "a",
        mark: "x-cos-",
    },
    crc64_header: "x-cos-hash-crc64ecma",
    meta_prefix: "x-cos-meta-",
};

/// A COS bucket.
pub struct CosStore {
    bucket: String,
    /// Where requests go: the configured region's hosts, until COS names the bucket's own
    /// region (see [`CosStore::follow_region`]).
    place: Followed<Place>,
    /// The configuration, to build the hosts of another region.
    cfg: CosConfig,
    credentials: Credentials,
    signer: Signer,
    /// Set once a redirect without `x-cos-request-id` moved requests to the fallback host.
    use_fallback: AtomicBool,
    retry: RetryPolicy,
    /// Per upload id, the CRC-64 and size of each part sent (or listed), to predict the
    /// whole object's CRC at completion.
    part_crcs: PartCrcs,
}

impl fmt::Debug for CosStore {
    // The credentials' own Debug hides the secret and token; nothing else is sensitive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosStore")
            .field("bucket", &self.bucket)
            .field("region", &self.place_now().region)
            .field("base", &self.place_now().base)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl CosStore {
    /// Builds a store; fails on a bucket name without `-<APPID>`, a missing region (when
    /// the host needs it) or missing credentials, before any request.
    pub fn new(cfg: CosConfig) -> Result<CosStore> {
        validate_bucket(&cfg.bucket)?;
        cfg.check_endpoint()?;
        let credentials = cfg.resolve_credentials()?;
        let place = Place::for_config(&cfg)?;
        Ok(CosStore {
            signer: Signer::new(&credentials),
            bucket: cfg.bucket.clone(),
            place: Followed::new(place),
            credentials,
            use_fallback: AtomicBool::new(false),
            retry: RetryPolicy {
                max_attempts: cfg.max_attempts.max(1),
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
            },
            part_crcs: PartCrcs::default(),
            cfg,
        })
    }

    fn place_now(&self) -> Arc<Place> {
        self.place.now()
    }

    /// On COS's answer that the bucket lives in another region (`x-cos-bucket-region` on a
    /// redirect or a NoSuchBucket), moves this store to that region's hosts once, so that an
    /// upload with a wrong `--region` still lands (with a warning naming the right one). A
    /// regional COS host becomes the same host of the bucket's region (scheme, port and
    /// domain kept); any other endpoint is the user's own and stays.
    fn follow_region(&self, e: &Error) -> bool {
        let moved = self.place.follow(e, Place::region_id, |region| {
            let mut cfg = self.cfg.clone();
            cfg.region = Some(region.to_string());
            if let Some(ep) = &cfg.endpoint
                && let Some(old) = config::region_of_endpoint(ep)
            {
                cfg.endpoint = Some(ep.replacen(&format!(".{old}."), &format!(".{region}."), 1));
            }
            Place::for_config(&cfg).ok()
        });
        if moved {
            self.use_fallback.store(false, Ordering::Relaxed);
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

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The bucket's region (`ap-guangzhou`) from `HEAD /`'s `x-cos-bucket-region`.
    pub async fn bucket_location(&self) -> Result<Option<String>> {
        let reply = self.execute(Call::new(reqwest::Method::HEAD, None)).await?;
        Ok(reply.header("x-cos-bucket-region").map(str::to_string))
    }

    /// The URL prefix in use: the configured one, or its `.tencentcos.cn` twin after a
    /// redirect without `x-cos-request-id`.
    fn base(&self) -> String {
        let place = self.place_now();
        match (&place.fallback, self.use_fallback.load(Ordering::Relaxed)) {
            (Some(f), true) => f.clone(),
            _ => place.base.clone(),
        }
    }

    fn url(&self, call: &Call<'_>) -> String {
        let mut url = self.base();
        if let Some(k) = call.key {
            url.push_str(&xml::encode_path(k));
        }
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&xml::query_string(&call.query));
        }
        url
    }

    async fn body(
        &self,
        payload: &Payload,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Body> {
        match payload {
            Payload::Empty => Ok(reqwest::Body::from(Bytes::new())),
            Payload::Bytes(b) => Ok(reqwest::Body::from(b.clone())),
            Payload::File { path, offset, len } => {
                let stream = file_stream(path.clone(), *offset, *len, hasher).await?;
                Ok(reqwest::Body::wrap_stream(stream))
            }
        }
    }

    /// One attempt: sign and send; a non-2xx answer becomes an [`Error`] (its body read).
    /// A redirect without `x-cos-request-id` on a `myqcloud.com` host (not COS answering)
    /// moves this and later requests to the `.tencentcos.cn` host, as the official SDK does.
    async fn respond(
        &self,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Response> {
        let resp = self.send_signed(call, hasher.clone()).await?;
        let status = resp.status().as_u16();
        if matches!(status, 301 | 302 | 307)
            && !resp.headers().contains_key("x-cos-request-id")
            && self.place_now().fallback.is_some()
            && !self.use_fallback.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                from = %self.place_now().base,
                to = self.base(),
                "redirect without x-cos-request-id: switching to the tencentcos.cn host"
            );
            let resp = self.send_signed(call, hasher).await?;
            return check_status(resp, &DIALECT, &self.base(), error::from_response).await;
        }
        check_status(resp, &DIALECT, &self.base(), error::from_response).await
    }

    async fn send_signed(
        &self,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Response> {
        let url = self.url(call);
        let mut headers = call.headers.clone();
        let has_body = call.method != reqwest::Method::GET && call.method != reqwest::Method::HEAD;
        if has_body {
            headers.push(("content-length".into(), call.payload.len().to_string()));
        }
        let signed = self.signer.sign(&call.method, &url, &headers).await?;
        let mut req = self.place_now().client.request(call.method.clone(), &url);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        if has_body {
            req = req.body(self.body(&call.payload, hasher).await?);
        }
        req.send()
            .await
            .map_err(|e| from_transport(e, &self.base()))
    }

    /// One attempt, with the reply's body read.
    async fn send_once(
        &self,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<Reply> {
        let resp = self.respond(call, hasher).await?;
        read_reply(resp, call, &DIALECT, &self.base()).await
    }

    /// Sends `call`, retrying retryable failures; errors carry the bucket and key.
    async fn execute(&self, call: Call<'_>) -> Result<Reply> {
        let what = format!("{} {}", call.method, call.key.unwrap_or("/"));
        self.run_following(&what, || self.send_once(&call, None))
            .await
            .map_err(|e| self.context(e, call.key))
    }

    /// A 2xx reply's XML, whose root must be `root` (else an unexpected-reply error).
    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        root: &str,
        reply: &Reply,
        key: Option<&str>,
    ) -> Result<T> {
        DIALECT
            .parse(what, root, reply)
            .map_err(|e| self.context(e, key))
    }

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

    /// A HEAD error has no body, so no COS code: a 403 could be a wrong key or a missing
    /// permission, a 404 a missing key or a missing bucket. On that error path only, the
    /// same object is asked for one byte with GET, whose error carries COS's XML.
    async fn explain_head_error(&self, key: &str, head_error: Error) -> Error {
        let unexplained = head_error.vendor_code().is_none()
            && head_error
                .http_status()
                .is_some_and(|s| (400..500).contains(&s));
        if !unexplained {
            return head_error;
        }
        let probe = Call::new(reqwest::Method::GET, Some(key)).header("range", "bytes=0-0");
        match self.execute(probe).await {
            Err(e) if e.vendor_code().is_some() => e,
            _ => head_error,
        }
    }

    async fn upload_part_once(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        payload: &Payload,
    ) -> Result<PartInfo> {
        let call = Call::new(reqwest::Method::PUT, Some(&upload.key))
            .query("partNumber", part_number.to_string())
            .query("uploadId", upload.upload_id.clone())
            .payload(payload.clone());
        // Hash the bytes as they go out: one read of the file, no second pass.
        let hasher = Arc::new(Mutex::new(Hasher::new(&ALGOS)));
        let reply = self.send_once(&call, Some(hasher.clone())).await?;
        let local = match payload {
            Payload::Bytes(b) => checksum_bytes(b, &ALGOS),
            _ => take_hasher(&hasher, payload.len())?,
        };
        let returned = DIALECT.returned_crc(&reply.headers);
        let etag = unquote(reply.header("etag"));
        DIALECT
            .check_upload(&local, &returned, etag.as_deref())
            .map_err(|e| {
                Error::new(
                    e.kind().clone(),
                    format!("part {part_number}: {}", e.message()),
                )
            })?;
        if let Some(crc) = local.crc64ecma {
            self.part_crcs
                .remember(&upload.upload_id, part_number, crc, payload.len());
        }
        Ok(PartInfo {
            part_number,
            etag: etag.unwrap_or_default(),
            size: payload.len(),
            checksums: part_crc(local.crc64ecma),
        })
    }
}

/// A region's hosts, and the client that reaches them.
#[derive(Debug)]
struct Place {
    region: Option<String>,
    base: String,
    /// The `.tencentcos.cn` twin of `base`, for `myqcloud.com` hosts.
    fallback: Option<String>,
    client: reqwest::Client,
}

impl Place {
    fn region_id(&self) -> Option<&str> {
        self.region.as_deref()
    }

    fn for_config(cfg: &CosConfig) -> Result<Place> {
        let region = cfg.resolve_region()?;
        let base = cfg.base(region.as_deref());
        let fallback = match cfg.addressing {
            Addressing::VirtualHosted => config::tencentcos_fallback(&base),
            _ => None,
        };
        let client = build_client(cfg, &[Some(&base), fallback.as_ref()])?;
        Ok(Place {
            region,
            base,
            fallback,
            client,
        })
    }
}

/// The HTTP client: no automatic redirects (a COS redirect is an answer to read), and the
/// bucket's hosts pinned to `resolve_to` when set.
fn build_client(cfg: &CosConfig, bases: &[Option<&String>]) -> Result<reqwest::Client> {
    let mut builder = stowage_http::client::client_builder(cfg.ca_bundle.as_ref())?
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(addr) = cfg.resolve_to {
        for base in bases.iter().flatten() {
            if let Some(host) = host_of(base) {
                builder = builder.resolve(host, addr);
            }
        }
    }
    stowage_http::client::build(builder)
}

/// `http://h.example:8080/x/` → `h.example`.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    rest.split(['/', ':']).next()
}

#[async_trait]
impl ObjectStore for CosStore {
    fn name(&self) -> String {
        format!("cos://{}", self.bucket)
    }

    /// A GET URL signed in its query (COS documents no upper limit on its lifetime),
    /// addressed like every request of this store (its host, accelerate host, custom
    /// domain or path style, and the `.tencentcos.cn` twin once switched to it).
    async fn signed_get_url(&self, key: &str, expires: Duration) -> Result<String> {
        stowage_core::check_signed_url_expiry(&self.name(), expires, None)?;
        let url = self.url(&Call::new(reqwest::Method::GET, Some(key)));
        self.signer
            .presign_get(&url, expires)
            .await
            .map_err(|e| e.with_key(key))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            multipart: true,
            list_multipart_uploads: true,
            range_get: true,
            min_part_size: MIN_PART,
            max_part_size: 5 << 30,
            max_parts: 10_000,
            verified_on_upload: vec![ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma],
            returned_by_head: vec![ChecksumAlgo::Crc64Ecma],
            part_etag_is_md5: true,
            signed_urls: true,
        }
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        let given = opts
            .checksums
            .clone()
            .filter(|c| ALGOS.iter().all(|a| c.get(*a).is_some()));
        let (body, sent) = match (body, given) {
            (body @ (PutBody::Bytes(_) | PutBody::File { .. }), Some(c)) => (body, c),
            (body, _) => body.checksums(&ALGOS).await.map_err(|e| e.or_key(key))?,
        };
        let payload = Payload::from_put_body(body)
            .await
            .map_err(|e| e.or_key(key))?;
        let content_type = opts.content_type_for(key);
        let call = Call::new(reqwest::Method::PUT, Some(key))
            .header("content-type", content_type.clone())
            .header("content-md5", sent.md5_base64().unwrap_or_default())
            .payload(payload.clone());
        let reply = self.execute(DIALECT.with_metadata(call, opts)).await?;
        let returned = DIALECT.returned_crc(&reply.headers);
        let etag = unquote(reply.header("etag"));
        DIALECT
            .check_upload(&sent, &returned, etag.as_deref())
            .map_err(|e| self.context(e, Some(key)))?;
        Ok(ObjectMeta {
            key: key.to_string(),
            size: payload.len(),
            etag,
            last_modified: None,
            content_type: Some(content_type),
            checksums: returned,
            metadata: opts.metadata.clone(),
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let reply = match self
            .execute(Call::new(reqwest::Method::HEAD, Some(key)))
            .await
        {
            Ok(reply) => reply,
            Err(e) => return Err(self.explain_head_error(key, e).await),
        };
        let size = reply
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(DIALECT.meta_from_headers(key, &reply.headers, size))
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        if let Some(r) = &range
            && r.start >= r.end
        {
            return empty_range(self.head(key).await?, r, key);
        }
        let mut call = Call::new(reqwest::Method::GET, Some(key));
        if let Some(r) = &range {
            call = call.header("range", range_header(r));
        }
        let resp = self
            .run_following("GET", || self.respond(&call, None))
            .await
            .map_err(|e| self.context(e, Some(key)))?;
        DIALECT.get_result(key, range.as_ref(), resp, self.base())
    }

    /// GET Bucket with `marker` paging. COS's listing is eventually consistent: an object
    /// written moments ago may be missing (HEAD finds it).
    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        let mut call = Call::new(reqwest::Method::GET, None)
            .query("prefix", req.prefix.clone())
            .query("encoding-type", "url")
            .query(
                "max-keys",
                req.max_keys.unwrap_or(1000).min(1000).to_string(),
            );
        if let Some(marker) = req.continuation.as_ref().or(req.start_after.as_ref()) {
            call = call.query("marker", marker.clone());
        }
        let reply = self.execute(call).await?;
        let result: xml::ListBucketResult =
            self.parse("GET Bucket", "ListBucketResult", &reply, None)?;
        let url = result.encoding_type.as_deref() == Some("url");
        let objects: Vec<ObjectMeta> = result
            .contents
            .into_iter()
            .map(|c| ObjectMeta {
                key: xml::decode_if(url, c.key),
                size: c.size,
                etag: unquote(c.etag.as_deref()),
                last_modified: parse_time(c.last_modified.as_deref()),
                ..Default::default()
            })
            .collect();
        // Without a delimiter NextMarker may be absent: the last key is the marker then.
        let next = match result.is_truncated {
            true => result
                .next_marker
                .map(|m| xml::decode_if(url, m))
                .or_else(|| objects.last().map(|o| o.key.clone())),
            false => None,
        };
        Ok(ListPage { objects, next })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.execute(Call::new(reqwest::Method::DELETE, Some(key)))
            .await
            .map(|_| ())
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        let call = Call::new(reqwest::Method::POST, Some(key))
            .query("uploads", "")
            .header("content-type", opts.content_type_for(key));
        let reply = self.execute(DIALECT.with_metadata(call, opts)).await?;
        let result: xml::InitiateResult = self.parse(
            "InitiateMultipartUpload",
            "InitiateMultipartUploadResult",
            &reply,
            Some(key),
        )?;
        Ok(MultipartUpload {
            key: key.to_string(),
            upload_id: result.upload_id,
            initiated: Some(OffsetDateTime::now_utc()),
        })
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        let payload = Payload::from_put_body(body)
            .await
            .map_err(|e| e.or_key(&upload.key))?;
        let what = format!("part {part_number} of {}", upload.key);
        self.run_following(&what, || {
            self.upload_part_once(upload, part_number, &payload)
        })
        .await
        .map_err(|e| self.context(e, Some(&upload.key)))
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        let mut parts = Vec::new();
        let mut marker = 0u32;
        loop {
            let call = Call::new(reqwest::Method::GET, Some(&upload.key))
                .query("uploadId", upload.upload_id.clone())
                .query("max-parts", "1000")
                .query("part-number-marker", marker.to_string());
            let reply = self.execute(call).await?;
            let page: xml::ListPartsResult =
                self.parse("ListParts", "ListPartsResult", &reply, Some(&upload.key))?;
            for p in page.parts {
                let known = self
                    .part_crcs
                    .known(&upload.upload_id, p.part_number, p.size);
                parts.push(PartInfo {
                    part_number: p.part_number,
                    etag: p.etag.trim_matches('"').to_ascii_lowercase(),
                    size: p.size,
                    checksums: part_crc(known),
                });
            }
            match page.next_part_number_marker {
                Some(next) if page.is_truncated && next > marker => marker = next,
                _ => return Ok(parts),
            }
        }
    }

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        // Known when this process sent every part (COS's ListParts carries no CRC).
        let expected = self.part_crcs.predicted(&upload.upload_id, parts);
        let etags: Vec<String> = parts.iter().map(|p| p.etag.clone()).collect();
        let body = xml::complete_body(
            parts
                .iter()
                .zip(&etags)
                .map(|(p, e)| (p.part_number, e.as_str())),
        );
        let md5 = checksum_bytes(body.as_bytes(), &[ChecksumAlgo::Md5]).md5_base64();
        let call = Call::new(reqwest::Method::POST, Some(&upload.key))
            .query("uploadId", upload.upload_id.clone())
            .header("content-type", "application/xml")
            .header("content-md5", md5.unwrap_or_default())
            .payload(Payload::Bytes(Bytes::from(body)));
        let reply = self.execute(call).await?;
        let returned = DIALECT.returned_crc(&reply.headers);
        let result: xml::CompleteResult = self.parse(
            "CompleteMultipartUpload",
            "CompleteMultipartUploadResult",
            &reply,
            Some(&upload.key),
        )?;
        self.part_crcs.forget(&upload.upload_id);
        check_combined(expected, returned.crc64ecma)
            .map_err(|e| e.with_bucket(&self.bucket).with_key(&upload.key))?;
        Ok(ObjectMeta {
            key: upload.key.clone(),
            size: parts.iter().map(|p| p.size).sum(),
            etag: unquote(result.etag.as_deref().or(reply.header("etag"))),
            checksums: returned,
            ..Default::default()
        })
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        let call = Call::new(reqwest::Method::DELETE, Some(&upload.key))
            .query("uploadId", upload.upload_id.clone());
        self.execute(call).await?;
        self.part_crcs.forget(&upload.upload_id);
        Ok(())
    }

    /// `HEAD /` → `x-cos-bucket-region`.
    async fn bucket_region(&self) -> Result<Option<String>> {
        self.bucket_location().await
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        stowage_http::uploads::list_multipart_uploads(&DIALECT, prefix, |call| self.execute(call))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::{Checksums, ErrorKind};

    #[test]
    fn upload_check_catches_crc_and_etag_differences() {
        let sent = checksum_bytes(b"hello", &ALGOS);
        let mut returned = Checksums {
            crc64ecma: sent.crc64ecma,
            ..Default::default()
        };
        let md5 = sent.get(ChecksumAlgo::Md5).unwrap();
        assert!(DIALECT.check_upload(&sent, &returned, Some(&md5)).is_ok());
        let wrong_etag = "0".repeat(32);
        let e = DIALECT
            .check_upload(&sent, &returned, Some(&wrong_etag))
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch);
        returned.crc64ecma = Some(1);
        let e = DIALECT.check_upload(&sent, &returned, None).unwrap_err();
        assert!(e.to_string().contains("crc64ecma"), "{e}");
        let e = DIALECT
            .check_upload(&sent, &Checksums::default(), None)
            .unwrap_err();
        assert!(e.to_string().contains("x-cos-hash-crc64ecma"), "{e}");
    }

    #[test]
    fn a_wrong_region_is_followed_once_keeping_the_endpoints_form() {
        let mut cfg = CosConfig::new("rec-1250000000");
        cfg.region = Some("ap-beijing".into());
        cfg.endpoint = Some("http://cos.ap-beijing.myqcloud.com:8080".into());
        cfg.credentials = Some(Credentials::new("AKIDkey", "secret"));
        let store = CosStore::new(cfg).unwrap();
        let wrong = |region: &str| {
            Error::new(
                ErrorKind::WrongRegion {
                    bucket_region: Some(region.into()),
                },
                "moved",
            )
        };
        assert!(store.follow_region(&wrong("ap-guangzhou")));
        assert_eq!(
            store.base(),
            "http://rec-1250000000.cos.ap-guangzhou.myqcloud.com:8080/"
        );
        assert!(store.follow_region(&wrong("ap-guangzhou")));
        assert!(!store.follow_region(&wrong("ap-shanghai")));
        assert_eq!(store.place_now().region.as_deref(), Some("ap-guangzhou"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let mut cfg = CosConfig::new("rec-1250000000");
        cfg.region = Some("ap-guangzhou".into());
        cfg.credentials = Some(
            Credentials::new("AKIDkey", "very-secret-value")
                .with_session_token(Some("tok-1".into())),
        );
        let store = CosStore::new(cfg).unwrap();
        let d = format!("{store:?}");
        assert!(d.contains("AKIDkey"), "{d}");
        assert!(
            !d.contains("very-secret-value") && !d.contains("tok-1"),
            "{d}"
        );
    }
}
