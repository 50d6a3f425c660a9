//! Aliyun OSS store for Stowage on OSS's native API: V4 signing (`OSS4-HMAC-SHA256`) by
//! default, V1 by option, STS tokens; virtual-hosted, path-style and custom-domain
//! addressing; every upload checked against the CRC-64/XZ OSS returns
//! (`x-oss-hash-crc64ecma`): PutObject (also sent with `Content-MD5`), each part, and the
//! completed multipart object (predicted from the parts' CRCs).
//!
//! Requests go out through reqwest (rustls); bodies are streamed from files; each request
//! is retried on throttling, 5xx and broken connections.

pub mod config;
mod error;
pub mod sign;
mod xml;

use std::fmt;
use std::ops::Range;
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

pub use config::{Addressing, OssConfig, SigningVersion};

use crate::config::Place;
use crate::sign::SignInput;

/// Smallest part but the last (OSS: 100 KB).
pub const MIN_PART: u64 = 100 * 1024;
const ALGOS: [ChecksumAlgo; 2] = [ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma];
/// OSS (its answers carry `x-oss-` headers), its CRC-64 and user-metadata headers.
const DIALECT: Dialect = Dialect {
    vendor: Vendor {
        name: "OSS",
        article: "an",
        mark: "x-oss-",
    },
    crc64_header: "x-oss-hash-crc64ecma",
    meta_prefix: "x-oss-meta-",
};

/// An OSS bucket.
pub struct OssStore {
    bucket: String,
    /// The region requests are signed for and the URL they go to: the configured ones, until
    /// OSS names the bucket's own region (see [`OssStore::follow_region`]).
    place: Followed<Place>,
    /// The configuration, to rebuild the URL for another region.
    cfg: OssConfig,
    signing: SigningVersion,
    credentials: Credentials,
    client: reqwest::Client,
    retry: RetryPolicy,
    /// Per upload id, the CRC-64 and size of each part sent (or listed), to predict the
    /// whole object's CRC at completion.
    part_crcs: PartCrcs,
}

impl fmt::Debug for OssStore {
    // The credentials' own Debug hides the secret and token; nothing else is sensitive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OssStore")
            .field("bucket", &self.bucket)
            .field("region", &self.region())
            .field("base", &self.base_prefix())
            .field("signing", &self.signing)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl OssStore {
    /// Builds a store; fails on a missing region (V4) or missing credentials.
    pub fn new(cfg: OssConfig) -> Result<OssStore> {
        let credentials = cfg.resolve_credentials()?;
        // V1 does not sign the region: an explicit endpoint is enough.
        let region = match (cfg.resolve_region(), cfg.signing) {
            (Ok(r), _) => r,
            (Err(_), SigningVersion::V1) if cfg.endpoint.is_some() => String::new(),
            (Err(e), _) => return Err(e),
        };
        // No automatic redirects: OSS's own 3xx are answers to read, and a redirect to
        // anywhere else (a login page) is refused as not OSS's.
        let client = stowage_http::client::build(
            stowage_http::client::client_builder(cfg.ca_bundle.as_ref())?
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(120))
                .redirect(reqwest::redirect::Policy::none()),
        )?;
        Ok(OssStore {
            place: Followed::new(Place {
                base: cfg.base(&region),
                region,
            }),
            bucket: cfg.bucket.clone(),
            signing: cfg.signing,
            credentials,
            client,
            retry: RetryPolicy {
                max_attempts: cfg.max_attempts.max(1),
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
            },
            part_crcs: PartCrcs::default(),
            cfg,
        })
    }

    fn region(&self) -> String {
        self.place.now().region.clone()
    }

    fn base_prefix(&self) -> String {
        self.place.now().base.prefix.clone()
    }

    /// On OSS's answer that the bucket lives in another region (403 with an `<Endpoint>`),
    /// moves this store there once, so that an upload with a wrong `--region` still lands
    /// (with a warning naming the right one). A regional OSS host (`oss-<region>[-internal]`)
    /// becomes the same host of the bucket's region, scheme and port kept; any other
    /// endpoint (a custom domain, a local server) is the user's own and stays.
    fn follow_region(&self, e: &Error) -> bool {
        self.place.follow(e, Place::region_id, |region| {
            let mut cfg = self.cfg.clone();
            if let Some(ep) = &cfg.endpoint
                && let Some(old) = config::region_of_endpoint(ep)
            {
                cfg.endpoint =
                    Some(ep.replacen(&format!("oss-{old}"), &format!("oss-{region}"), 1));
            }
            Some(Place {
                base: cfg.base(region),
                region: region.to_string(),
            })
        })
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

    /// The bucket's region id (`cn-hangzhou`) from `GET /?location` (bucket owner only).
    pub async fn bucket_location(&self) -> Result<String> {
        let reply = self
            .execute(Call::new(reqwest::Method::GET, None).query("location", ""))
            .await?;
        let loc: xml::LocationConstraint =
            self.parse("GetBucketLocation", "LocationConstraint", &reply, None)?;
        Ok(config::plain_region(loc.region.trim()))
    }

    fn url(&self, call: &Call<'_>) -> String {
        let mut url = self.base_prefix();
        if let Some(k) = call.key {
            url.push_str(&sign::encode_path(k));
        }
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&xml::query_string(&call.query));
        }
        url
    }

    /// A GET URL for `key` signed in its query (V4 or V1, as the store signs), addressed
    /// like every request of this store (virtual-hosted, path style or custom domain).
    fn presigned_get(&self, key: &str, expires: Duration, now: OffsetDateTime) -> String {
        let input = SignInput {
            method: "GET",
            bucket: Some(&self.bucket),
            key: Some(key),
            query: &[],
            headers: &[],
        };
        let query = match self.signing {
            SigningVersion::V4 => sign::v4_presign_query(
                &self.credentials,
                &self.region(),
                now,
                expires.as_secs(),
                &input,
            ),
            SigningVersion::V1 => {
                let deadline = now
                    .unix_timestamp()
                    .saturating_add(expires.as_secs() as i64);
                sign::v1_presign_query(&self.credentials, deadline, &input)
            }
        };
        format!(
            "{}{}?{}",
            self.base_prefix(),
            sign::encode_path(key),
            xml::query_string(&query)
        )
    }

    /// The call's headers plus the token, date and `Authorization` headers.
    fn signed_headers(&self, call: &Call<'_>) -> Vec<(String, String)> {
        let now = OffsetDateTime::now_utc();
        let mut headers = call.headers.clone();
        if let Some(token) = self.credentials.session_token() {
            headers.push(("x-oss-security-token".into(), token.to_string()));
        }
        let http_date = httpdate::fmt_http_date(now.into());
        match self.signing {
            SigningVersion::V4 => {
                headers.push(("x-oss-date".into(), sign::v4_timestamp(now)));
                headers.push(("x-oss-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
            }
            SigningVersion::V1 => headers.push(("date".into(), http_date.clone())),
        }
        let input = SignInput {
            method: call.method.as_str(),
            bucket: Some(&self.bucket),
            key: call.key,
            query: &call.query,
            headers: &headers,
        };
        let auth = match self.signing {
            SigningVersion::V4 => {
                sign::v4_authorization(&self.credentials, &self.region(), now, &input, &[])
            }
            SigningVersion::V1 => sign::v1_authorization(&self.credentials, &input, &http_date),
        };
        headers.push(("authorization".into(), auth));
        headers
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
    async fn respond(
        &self,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Response> {
        let mut req = self.client.request(call.method.clone(), self.url(call));
        for (k, v) in self.signed_headers(call) {
            req = req.header(k, v);
        }
        if call.method != reqwest::Method::GET && call.method != reqwest::Method::HEAD {
            req = req
                .header("content-length", call.payload.len())
                .body(self.body(&call.payload, hasher).await?);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| from_transport(e, &self.base_prefix()))?;
        check_status(resp, &DIALECT, &self.base_prefix(), error::from_response).await
    }

    /// One attempt, with the reply's body read.
    async fn send_once(
        &self,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<Reply> {
        let resp = self.respond(call, hasher).await?;
        read_reply(resp, call, &DIALECT, &self.base_prefix()).await
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

#[async_trait]
impl ObjectStore for OssStore {
    fn name(&self) -> String {
        format!("oss://{}", self.bucket)
    }

    /// V4 URLs live at most 7 days (OSS refuses a longer `x-oss-expires`); V1 has no limit.
    async fn signed_get_url(&self, key: &str, expires: Duration) -> Result<String> {
        let max = match self.signing {
            SigningVersion::V4 => Some(stowage_core::MAX_SIGNED_URL_EXPIRY),
            SigningVersion::V1 => None,
        };
        stowage_core::check_signed_url_expiry(&self.name(), expires, max)?;
        Ok(self.presigned_get(key, expires, OffsetDateTime::now_utc()))
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
        let reply = self
            .execute(Call::new(reqwest::Method::HEAD, Some(key)))
            .await?;
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
        DIALECT.get_result(key, range.as_ref(), resp, self.base_prefix())
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        let mut call = Call::new(reqwest::Method::GET, None)
            .query("list-type", "2")
            .query("encoding-type", "url")
            .query(
                "max-keys",
                req.max_keys.unwrap_or(1000).min(1000).to_string(),
            )
            .query("prefix", req.prefix.clone());
        if let Some(t) = &req.continuation {
            call = call.query("continuation-token", t.clone());
        }
        if let Some(s) = &req.start_after {
            call = call.query("start-after", s.clone());
        }
        let reply = self.execute(call).await?;
        let result: xml::ListBucketResult =
            self.parse("ListObjectsV2", "ListBucketResult", &reply, None)?;
        let url = result.encoding_type.as_deref() == Some("url");
        let objects = result
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
        let next = result
            .next_continuation_token
            .filter(|_| result.is_truncated);
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
                if let Some(crc) = p.hash_crc64ecma {
                    self.part_crcs
                        .remember(&upload.upload_id, p.part_number, crc, p.size);
                }
                parts.push(PartInfo {
                    part_number: p.part_number,
                    etag: p.etag.trim_matches('"').to_ascii_lowercase(),
                    size: p.size,
                    checksums: part_crc(p.hash_crc64ecma),
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
        if self.part_crcs.predicted(&upload.upload_id, parts).is_none() {
            // Parts sent by another process: their CRCs come from ListParts.
            self.list_parts(upload).await?;
        }
        let expected = self.part_crcs.predicted(&upload.upload_id, parts);
        let etags: Vec<String> = parts.iter().map(|p| p.etag.to_ascii_uppercase()).collect();
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

    /// `GET /?location` (bucket owner only), as the plain region id (`cn-hangzhou`).
    async fn bucket_region(&self) -> Result<Option<String>> {
        self.bucket_location().await.map(Some)
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
        assert!(e.to_string().contains("x-oss-hash-crc64ecma"), "{e}");
    }

    #[test]
    fn a_wrong_region_is_followed_once_keeping_the_endpoints_form() {
        let mut cfg = OssConfig::new("rec");
        cfg.region = Some("cn-beijing".into());
        cfg.endpoint = Some("http://oss-cn-beijing-internal.aliyuncs.com:8080".into());
        cfg.credentials = Some(Credentials::new("LTAIkey", "secret"));
        let store = OssStore::new(cfg).unwrap();
        let wrong = |region: &str| {
            Error::new(
                ErrorKind::WrongRegion {
                    bucket_region: Some(region.into()),
                },
                "addressed through the wrong endpoint",
            )
        };
        assert!(store.follow_region(&wrong("cn-hangzhou")));
        assert_eq!(store.region(), "cn-hangzhou");
        assert_eq!(
            store.base_prefix(),
            "http://rec.oss-cn-hangzhou-internal.aliyuncs.com:8080/"
        );
        // Requests in flight that got the same answer are simply sent again.
        assert!(store.follow_region(&wrong("cn-hangzhou")));
        // Only once: a second move is not followed (the error is reported instead).
        assert!(!store.follow_region(&wrong("cn-shanghai")));
        assert_eq!(store.region(), "cn-hangzhou");
        let other = Error::new(ErrorKind::AccessDenied, "no");
        assert!(!store.follow_region(&other));
    }

    #[test]
    fn debug_hides_the_secret() {
        let mut cfg = OssConfig::new("rec");
        cfg.region = Some("cn-hangzhou".into());
        cfg.credentials = Some(
            Credentials::new("LTAIkey", "very-secret-value")
                .with_session_token(Some("tok-1".into())),
        );
        let store = OssStore::new(cfg).unwrap();
        let d = format!("{store:?}");
        assert!(d.contains("LTAIkey"), "{d}");
        assert!(
            !d.contains("very-secret-value") && !d.contains("tok-1"),
            "{d}"
        );
    }
}
