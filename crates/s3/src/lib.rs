//! Amazon S3 and S3-compatible servers, on aws-sdk-s3.
//!
//! Integrity is sent and checked by us, not left to the SDK's defaults: the SDK is set to
//! compute checksums only when an operation requires one, so file uploads never go out as
//! `aws-chunked` with trailing checksums (which S3-compatible servers reject). Every `put`
//! carries `x-amz-checksum-crc64nvme`, and `Content-MD5` too unless the server is known to
//! check the CRC ([`S3Integrity`]: forced, or learned once per store by a probe); parts
//! carry the one the server checks. What the server returns (CRC64-NVME, an MD5 ETag) is
//! compared with what was sent.

mod compat;
mod config;
mod error;
mod reply;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    retry::RetryConfig, timeout::TimeoutConfig,
};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, DateTime, Length};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
    ServerSideEncryption,
};
use bytes::Bytes;
use futures::StreamExt;
use stowage_core::{
    Capabilities, ChecksumAlgo, Checksums, Error, ErrorKind, GetResult, ListPage, ListRequest,
    MultipartUpload, ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, Result,
};
use time::OffsetDateTime;

pub use config::{DEFAULT_REGION, S3Config, S3Integrity};
use error::{Ctx, map_sdk_error};

const MIN_PART: u64 = 5 << 20;

/// What writes carry for the server to check, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sends {
    /// `Content-MD5` (every S3-compatible server checks it) and `x-amz-checksum-crc64nvme`.
    Md5,
    /// Only `x-amz-checksum-crc64nvme`, which the server checks.
    Crc,
}

impl Sends {
    /// What a put must have computed.
    fn algos(self) -> &'static [ChecksumAlgo] {
        match self {
            Sends::Md5 => &[ChecksumAlgo::Md5, ChecksumAlgo::Crc64Nvme],
            Sends::Crc => &[ChecksumAlgo::Crc64Nvme],
        }
    }

    /// What the server checks on upload.
    fn verified(self) -> Vec<ChecksumAlgo> {
        match self {
            // The CRC goes too, but not every server checks it.
            Sends::Md5 => vec![ChecksumAlgo::Md5],
            Sends::Crc => vec![ChecksumAlgo::Crc64Nvme],
        }
    }
}

/// A store's integrity mode: as configured, and in `auto` mode what the probe learned
/// (shared by the store's clients in every region it follows).
#[derive(Debug)]
struct Integrity {
    configured: S3Integrity,
    learned: OnceLock<Sends>,
    /// One probe at a time; the others wait for its answer.
    probing: tokio::sync::Mutex<()>,
}

impl Integrity {
    fn new(configured: S3Integrity) -> Self {
        Integrity {
            configured,
            learned: OnceLock::new(),
            probing: tokio::sync::Mutex::new(()),
        }
    }

    /// What writes carry now: in `auto` mode before the probe answered, Content-MD5 (the
    /// cautious answer; the store's own writes learn first).
    fn sends(&self) -> Sends {
        match self.configured {
            S3Integrity::Md5AndCrc64Nvme => Sends::Md5,
            S3Integrity::Crc64Nvme => Sends::Crc,
            S3Integrity::Auto => self.learned.get().copied().unwrap_or(Sends::Md5),
        }
    }

    fn needs_probe(&self) -> bool {
        self.configured == S3Integrity::Auto && self.learned.get().is_none()
    }
}

/// The body of the integrity probe (see [`S3Integrity::Auto`]).
const PROBE_BODY: &[u8] = b"stowage: does this server check x-amz-checksum-crc64nvme?\n";

/// Where the probe goes: beside `key` (a key prefix the credentials may write to), under a
/// name no recording uses.
fn probe_key(key: &str) -> String {
    let dir = key.rfind('/').map_or("", |i| &key[..=i]);
    format!(
        "{dir}.stowage-integrity-probe-{}",
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether an answer to the probe refuses it for its wrong CRC (not for another reason).
fn refuses_the_crc(e: &Error) -> bool {
    let code = e.vendor_code().unwrap_or_default();
    let about_checksum = || {
        let m = e.message().to_ascii_lowercase();
        m.contains("checksum") || m.contains("crc64")
    };
    matches!(
        code,
        "BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch"
    ) || (matches!(code, "InvalidRequest" | "InvalidArgument") && about_checksum())
}

/// One S3 bucket, signed for one region.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    client: Client,
    integrity: Arc<Integrity>,
    bucket: String,
    endpoint: String,
    region: String,
}

impl Bucket {
    /// In CRC64-NVME mode a part carries its CRC64-NVME (checked by S3, and part of the
    /// whole object's full-object checksum) instead of a Content-MD5: one fast CRC pass
    /// instead of an MD5 pass over every byte.
    fn parts_carry_crc64nvme(&self) -> bool {
        self.integrity.sends() == Sends::Crc
    }

    /// Puts a small probe object with a deliberately wrong `x-amz-checksum-crc64nvme` and no
    /// Content-MD5: `Ok(true)` when the server refuses it for its checksum, `Ok(false)` when
    /// it stores it (then it is deleted again), an error for any other answer.
    async fn probe_crc64nvme(&self, key: &str) -> Result<bool> {
        let body = Bytes::from_static(PROBE_BODY);
        let right = stowage_core::checksum::checksum_bytes(&body, &[ChecksumAlgo::Crc64Nvme]);
        let wrong = Checksums {
            crc64nvme: right.crc64nvme.map(|c| !c),
            ..Default::default()
        };
        let sent = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(body.len() as i64)
            .content_type("text/plain")
            .set_checksum_crc64_nvme(wrong.crc64nvme_base64())
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .body(ByteStream::from(body))
            .send()
            .await;
        match sent {
            Ok(_) => {
                let deleted = self
                    .client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await;
                if let Err(e) = deleted {
                    let e = map_sdk_error(e, &self.ctx(Some(key)));
                    tracing::warn!(bucket = %self.bucket, %key, error = %e, "the integrity probe object could not be deleted; delete it by hand");
                }
                Ok(false)
            }
            Err(e) => {
                let e = map_sdk_error(e, &self.ctx(Some(key)));
                if refuses_the_crc(&e) {
                    Ok(true)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Builds a client for `cfg`. Makes no request: a wrong bucket or key shows at first use.
    pub(crate) async fn new(cfg: S3Config) -> Result<Self> {
        if cfg.bucket.is_empty() {
            return Err(Error::invalid_input("no bucket name given"));
        }
        let region = cfg.resolve_region().await;
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client_for(
                cfg.endpoint.as_deref(),
                cfg.ca_bundle.as_ref(),
            ))
            .region(Region::new(region.clone()))
            .credentials_provider(cfg.credentials_provider())
            .load()
            .await;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build();
        let mut b = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(cfg.force_path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(RetryConfig::standard().with_max_attempts(cfg.max_attempts.max(1)))
            .timeout_config(timeouts)
            // An HTML page answered where S3's API answers is refused, not taken as success.
            .interceptor(reply::ReplyCheck);
        let endpoint = match &cfg.endpoint {
            Some(ep) => {
                b = b.endpoint_url(ep);
                ep.clone()
            }
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        Ok(Bucket {
            integrity: Arc::new(Integrity::new(cfg.integrity)),
            client: Client::from_conf(b.build()),
            bucket: cfg.bucket,
            endpoint,
            region,
        })
    }

    /// The same bucket signed for `region` (and, on AWS itself, addressed in it).
    fn in_region(&self, region: &str) -> Bucket {
        let conf = self
            .client
            .config()
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        let aws_default = self.endpoint == format!("https://s3.{}.amazonaws.com", self.region);
        Bucket {
            integrity: self.integrity.clone(),
            client: Client::from_conf(conf),
            bucket: self.bucket.clone(),
            endpoint: if aws_default {
                format!("https://s3.{region}.amazonaws.com")
            } else {
                self.endpoint.clone()
            },
            region: region.to_string(),
        }
    }

    fn ctx<'a>(&'a self, key: Option<&'a str>) -> Ctx<'a> {
        Ctx {
            bucket: &self.bucket,
            key,
            endpoint: &self.endpoint,
        }
    }

    /// HEAD responses have no body, so a 404 or 403 does not say which error it is. This
    /// asks once more in a way that does: HEAD on the bucket for a 404 (missing bucket or
    /// missing key?), a one-byte GET for a bare 403 (wrong secret, unknown key, or denied?).
    async fn explain_head_error(&self, e: Error, key: &str) -> Error {
        match e.kind() {
            ErrorKind::NotFound => {
                let probe = self.client.head_bucket().bucket(&self.bucket).send().await;
                match probe.map_err(|pe| map_sdk_error(pe, &self.ctx(None))) {
                    Err(pe)
                        if matches!(pe.kind(), ErrorKind::NotFound | ErrorKind::BucketNotFound) =>
                    {
                        Error::new(ErrorKind::BucketNotFound, "the bucket does not exist")
                            .with_bucket(&self.bucket)
                            .with_key(key)
                            .with_http_status(404)
                    }
                    _ => e,
                }
            }
            ErrorKind::AccessDenied if e.vendor_code().is_none() => {
                let probe = self
                    .client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .range("bytes=0-0")
                    .send()
                    .await;
                match probe.map_err(|pe| map_sdk_error(pe, &self.ctx(Some(key)))) {
                    Err(pe) if pe.vendor_code().is_some() => pe,
                    _ => e,
                }
            }
            _ => e,
        }
    }
}

impl Bucket {
    /// Asks `HeadBucket` for the bucket's region. S3 sends `x-amz-bucket-region` on the
    /// answer whatever its status (200, or 301/400/403 when signed for the wrong region or
    /// without access), so a refusal that names the region still answers the question.
    async fn bucket_region(&self) -> Result<Option<String>> {
        let sent = self.client.head_bucket().bucket(&self.bucket).send().await;
        match sent {
            Ok(out) => Ok(out.bucket_region().map(str::to_string)),
            Err(e) => {
                let header = e
                    .raw_response()
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .filter(|r| !r.is_empty())
                    .map(str::to_string);
                match header {
                    Some(region) => Ok(Some(region)),
                    None => Err(bucket_error(map_sdk_error(e, &self.ctx(None)))),
                }
            }
        }
    }

    async fn list_parts_page(
        &self,
        upload: &MultipartUpload,
        marker: Option<String>,
    ) -> Result<compat::PartsPage> {
        let sent = self
            .client
            .list_parts()
            .bucket(&self.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .set_part_number_marker(marker)
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                let body = e
                    .raw_response()
                    .filter(|r| r.status().is_success())
                    .and_then(|r| r.body().bytes());
                if let Some(page) = body
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(compat::parse_list_parts)
                {
                    return Ok(page);
                }
                return Err(map_sdk_error(e, &self.ctx(Some(&upload.key))));
            }
        };
        let parts = out
            .parts()
            .iter()
            .map(|p| PartInfo {
                part_number: p.part_number().unwrap_or(0).max(0) as u32,
                etag: unquote(p.e_tag()).unwrap_or_default(),
                size: p.size().unwrap_or(0).max(0) as u64,
                checksums: part_checksums(p.checksum_crc64_nvme()),
            })
            .collect();
        Ok((
            parts,
            out.is_truncated() == Some(true),
            out.next_part_number_marker().map(str::to_string),
        ))
    }
}

/// The client for `endpoint`: a plain-HTTP endpoint (a local server) gets a client without
/// TLS, which spares every run loading and parsing the system's root certificates (a good
/// part of a short upload's start-up); anything else the HTTPS client below.
fn http_client_for(
    endpoint: Option<&str>,
    ca: Option<&stowage_core::tls::CaBundle>,
) -> aws_sdk_s3::config::SharedHttpClient {
    if endpoint.is_some_and(plain_http) && ca.is_none() {
        return aws_smithy_http_client::Builder::new().build_http();
    }
    https_client(ca)
}

fn plain_http(endpoint: &str) -> bool {
    endpoint
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// One HTTPS stack (hyper 1 + rustls with ring): no aws-lc C build, no second TLS stack.
/// The platform's roots, plus `ca`'s certificates when given.
fn https_client(ca: Option<&stowage_core::tls::CaBundle>) -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let mut trust = TrustStore::default();
    for cert in ca.map(|c| c.certificates()).unwrap_or_default() {
        trust.add_pem_certificate(cert);
    }
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building the context cannot fail today (the builder only stores its parts).
        Err(_) => builder.build_https(),
    }
}

/// File bodies up to this size are read into memory in one blocking read and sent from
/// there: one trip to the blocking pool instead of an open, a stat and a read per 64 KiB
/// (what dominates small segments). Larger ones stream from the file in [`FILE_READ`]s.
const IN_MEMORY_MAX: u64 = 1 << 20;
const FILE_READ: usize = 1 << 20;

/// Turns a [`PutBody`] into the SDK's body type; small files are read whole, larger ones
/// streamed from disk. Either way the payload is not signed (`UNSIGNED-PAYLOAD`, as the SDK
/// sends file bodies): the server checks the CRC64-NVME or Content-MD5 sent with it.
async fn byte_stream(body: PutBody) -> Result<ByteStream> {
    match body {
        PutBody::Bytes(b) => Ok(ByteStream::from(b)),
        PutBody::File { path, offset, len } if len <= IN_MEMORY_MAX => {
            let bytes = tokio::task::spawn_blocking(move || read_range(&path, offset, len))
                .await
                .map_err(|e| Error::new(ErrorKind::Other, format!("read task failed: {e}")))??;
            Ok(ByteStream::from(bytes))
        }
        PutBody::File { path, offset, len } => ByteStream::read_from()
            .path(&path)
            .offset(offset)
            .length(Length::Exact(len))
            .buffer_size(FILE_READ)
            .build()
            .await
            .map_err(|e| {
                Error::invalid_input(format!("cannot read local file {}: {e}", path.display()))
            }),
        PutBody::Stream { .. } => Err(Error::new(
            ErrorKind::Other,
            "internal: stream bodies are buffered before sending",
        )),
    }
}

/// Runs a request as a task of its own: the SDK's work per request (signing, serializing,
/// interceptors, parsing the answer) then runs on the runtime's workers, both cores, instead
/// of wherever the caller is polled (a pipeline polls all its transfers from one task, so
/// small objects were bound by that one thread). Dropping the returned future aborts the
/// request, as dropping the request itself would.
async fn on_worker<T: Send + 'static>(
    request: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T> {
    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
    impl<T> Drop for AbortOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(tokio::spawn(request));
    match (&mut task.0).await {
        Ok(out) => Ok(out),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::new(
            ErrorKind::Other,
            format!("the request was cancelled: {e}"),
        )),
    }
}

/// `len` bytes of `path` from `offset`; a file that has fewer changed since it was planned.
fn read_range(path: &std::path::Path, offset: u64, len: u64) -> Result<Bytes> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |e| Error::local_io(path, e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 != len {
        return Err(Error::new(
            ErrorKind::LocalFileChanged,
            format!(
                "{} has {} bytes from offset {offset}, not the {len} planned: it changed while being sent",
                path.display(),
                buf.len()
            ),
        ));
    }
    Ok(Bytes::from(buf))
}

fn unquote(etag: Option<&str>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_string())
}

fn to_offset(dt: Option<&DateTime>) -> Option<OffsetDateTime> {
    let dt = dt?;
    OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(dt.secs()) * 1_000_000_000 + i128::from(dt.subsec_nanos()),
    )
    .ok()
}

/// Decodes a base64 checksum header (as S3 sends them) into its fixed-size digest.
fn decode_b64<const N: usize>(v: Option<&str>) -> Option<[u8; N]> {
    aws_smithy_types::base64::decode(v?).ok()?.try_into().ok()
}

/// Checksums the server returned in headers.
fn returned_checksums(
    crc64nvme: Option<&str>,
    sha1: Option<&str>,
    sha256: Option<&str>,
) -> Checksums {
    Checksums {
        crc64nvme: crc64nvme.and_then(Checksums::parse_crc64nvme_base64),
        sha1: decode_b64(sha1),
        sha256: decode_b64(sha256),
        ..Default::default()
    }
}

/// Whether an ETag can be compared with an MD5: single-part, not KMS-encrypted.
fn etag_is_md5(etag: &str, sse: Option<&ServerSideEncryption>) -> bool {
    let plain = matches!(sse, None | Some(ServerSideEncryption::Aes256));
    plain && etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares what the server says it stored with what we sent.
/// A part's checksums from S3's base64 CRC64-NVME value, when the server sent one.
fn part_checksums(crc64nvme: Option<&str>) -> Checksums {
    let mut sums = Checksums::default();
    if let Some(v) = crc64nvme {
        sums.set(ChecksumAlgo::Crc64Nvme, v);
    }
    sums
}

fn check_stored(
    key: &str,
    sent: &Checksums,
    etag: Option<&str>,
    sse: Option<&ServerSideEncryption>,
    returned: &Checksums,
) -> Result<()> {
    sent.verify(returned).map_err(|e| e.with_key(key))?;
    if let (Some(etag), Some(md5)) = (etag, sent.get(ChecksumAlgo::Md5))
        && etag_is_md5(etag, sse)
        && !etag.eq_ignore_ascii_case(&md5)
    {
        return Err(Error::new(
            ErrorKind::ChecksumMismatch,
            format!("the server's ETag {etag} is not the MD5 {md5} of the bytes sent"),
        )
        .with_key(key));
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for Bucket {
    fn name(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    /// A presigned GetObject URL (SigV4 in the query), built by the SDK with this client's
    /// endpoint, addressing style and region; no request is sent.
    async fn signed_get_url(&self, key: &str, expires: Duration) -> Result<String> {
        stowage_core::check_signed_url_expiry(
            &self.name(),
            expires,
            Some(stowage_core::MAX_SIGNED_URL_EXPIRY),
        )?;
        let config = PresigningConfig::expires_in(expires).map_err(|e| {
            Error::invalid_input(format!("cannot presign for {} s: {e}", expires.as_secs()))
        })?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| map_sdk_error(e, &self.ctx(Some(key))))?;
        Ok(presigned.uri().to_string())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            multipart: true,
            list_multipart_uploads: true,
            range_get: true,
            min_part_size: MIN_PART,
            max_part_size: 5 << 30,
            max_parts: 10_000,
            verified_on_upload: self.integrity.sends().verified(),
            returned_by_head: vec![ChecksumAlgo::Crc64Nvme],
            part_etag_is_md5: true,
            signed_urls: true,
            copies_files: false,
        }
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        let len = body.len();
        let needed = self.integrity.sends().algos();
        let (body, sent) = match &opts.checksums {
            Some(c) if needed.iter().all(|a| c.get(*a).is_some()) => (body, c.clone()),
            _ => body.checksums(needed).await.map_err(|e| e.or_key(key))?,
        };
        let content_md5 = if needed.contains(&ChecksumAlgo::Md5) {
            sent.md5_base64()
        } else {
            None
        };
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(len as i64)
            .content_type(opts.content_type_for(key))
            .set_content_md5(content_md5)
            .set_checksum_crc64_nvme(sent.crc64nvme_base64())
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .body(byte_stream(body).await.map_err(|e| e.or_key(key))?);
        for (k, v) in &opts.metadata {
            req = req.metadata(k, v);
        }
        let out = on_worker(req.customize().disable_payload_signing().send())
            .await?
            .map_err(|e| map_sdk_error(e, &self.ctx(Some(key))))?;
        let etag = unquote(out.e_tag());
        let returned = returned_checksums(
            out.checksum_crc64_nvme(),
            out.checksum_sha1(),
            out.checksum_sha256(),
        );
        check_stored(
            key,
            &sent,
            etag.as_deref(),
            out.server_side_encryption(),
            &returned,
        )?;
        Ok(ObjectMeta {
            key: key.to_string(),
            size: len,
            etag,
            last_modified: None,
            content_type: Some(opts.content_type_for(key)),
            checksums: returned,
            metadata: opts.metadata.clone(),
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                return Err(self
                    .explain_head_error(map_sdk_error(e, &self.ctx(Some(key))), key)
                    .await);
            }
        };
        Ok(ObjectMeta {
            key: key.to_string(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: unquote(out.e_tag()),
            last_modified: to_offset(out.last_modified()),
            content_type: out.content_type().map(str::to_string),
            checksums: returned_checksums(
                out.checksum_crc64_nvme(),
                out.checksum_sha1(),
                out.checksum_sha256(),
            ),
            metadata: out
                .metadata()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        if let Some(r) = &range
            && r.start >= r.end
        {
            // HTTP ranges cannot say "no bytes"; answer from HEAD.
            let meta = self.head(key).await?;
            if r.start > r.end || r.end > meta.size {
                return Err(Error::invalid_input(format!(
                    "range {}..{} is outside the object's {} bytes",
                    r.start, r.end, meta.size
                ))
                .with_key(key));
            }
            let body = futures::stream::empty().boxed();
            return Ok(GetResult {
                meta,
                range: r.clone(),
                body,
            });
        }
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(
                range
                    .as_ref()
                    .map(|r| format!("bytes={}-{}", r.start, r.end - 1)),
            )
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                return Err(self
                    .explain_head_error(map_sdk_error(e, &self.ctx(Some(key))), key)
                    .await);
            }
        };
        let len = out.content_length().unwrap_or(0).max(0) as u64;
        let total = out
            .content_range()
            .and_then(|cr| cr.rsplit_once('/'))
            .and_then(|(_, t)| t.parse::<u64>().ok())
            .unwrap_or(len);
        let start = range.as_ref().map_or(0, |r| r.start);
        let meta = ObjectMeta {
            key: key.to_string(),
            size: total,
            etag: unquote(out.e_tag()),
            last_modified: to_offset(out.last_modified()),
            content_type: out.content_type().map(str::to_string),
            checksums: Checksums::default(),
            metadata: out
                .metadata()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        };
        let key_owned = key.to_string();
        let body = futures::stream::unfold((out.body, key_owned), |(mut body, key)| async move {
            match body.next().await {
                None => None,
                Some(Ok(b)) => Some((Ok::<Bytes, Error>(b), (body, key))),
                Some(Err(e)) => Some((
                    Err(
                        Error::new(ErrorKind::Network, format!("download broke off: {e}"))
                            .with_key(&key),
                    ),
                    (body, key),
                )),
            }
        })
        .boxed();
        Ok(GetResult {
            meta,
            range: start..start + len,
            body,
        })
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&req.prefix)
            .set_start_after(req.start_after.clone())
            .set_continuation_token(req.continuation.clone())
            .set_max_keys(req.max_keys.map(|m| m.min(1000) as i32))
            .send()
            .await
            .map_err(|e| map_sdk_error(e, &self.ctx(None)))?;
        let objects = out
            .contents()
            .iter()
            .map(|o| ObjectMeta {
                key: o.key().unwrap_or_default().to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                etag: unquote(o.e_tag()),
                last_modified: to_offset(o.last_modified()),
                ..Default::default()
            })
            .collect();
        let next = if out.is_truncated() == Some(true) {
            out.next_continuation_token().map(str::to_string)
        } else {
            None
        };
        Ok(ListPage { objects, next })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, &self.ctx(Some(key))))?;
        Ok(())
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(opts.content_type_for(key));
        if self.parts_carry_crc64nvme() {
            req = req
                .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
                .checksum_type(ChecksumType::FullObject);
        }
        for (k, v) in &opts.metadata {
            req = req.metadata(k, v);
        }
        let out = req
            .send()
            .await
            .map_err(|e| map_sdk_error(e, &self.ctx(Some(key))))?;
        let upload_id = out.upload_id().filter(|id| !id.is_empty()).ok_or_else(|| {
            Error::new(
                ErrorKind::UnexpectedReply,
                format!(
                    "the endpoint {} answered CreateMultipartUpload without an upload id: the answer is not S3's",
                    self.endpoint
                ),
            )
            .with_bucket(&self.bucket)
            .with_key(key)
        })?;
        Ok(MultipartUpload {
            key: key.to_string(),
            upload_id: upload_id.to_string(),
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
        let len = body.len();
        let crc_mode = self.parts_carry_crc64nvme();
        // In MD5 mode the CRC64-NVME is taken in the same pass as the MD5 the server checks,
        // so it describes the bytes the server accepted (the caller combines parts' CRCs
        // into the file's); it is not sent.
        let algos: &[ChecksumAlgo] = if crc_mode {
            &[ChecksumAlgo::Crc64Nvme]
        } else {
            &[ChecksumAlgo::Md5, ChecksumAlgo::Crc64Nvme]
        };
        let (body, sent) = body.checksums(algos).await.map_err(|e| e.or_key(key))?;
        let (content_md5, crc_header) = if crc_mode {
            (None, sent.crc64nvme_base64())
        } else {
            (sent.md5_base64(), None)
        };
        let req = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload.upload_id)
            .part_number(part_number as i32)
            .content_length(len as i64)
            .set_content_md5(content_md5)
            .set_checksum_crc64_nvme(crc_header)
            .body(byte_stream(body).await.map_err(|e| e.or_key(key))?);
        let out = on_worker(req.customize().disable_payload_signing().send())
            .await?
            .map_err(|e| map_sdk_error(e, &self.ctx(Some(key))))?;
        let etag = unquote(out.e_tag()).unwrap_or_default();
        if etag.is_empty() {
            // S3 names every stored part by its ETag; an answer without one stored nothing.
            return Err(Error::new(
                ErrorKind::UnexpectedReply,
                format!("the endpoint accepted part {part_number} without an ETag: it is not an S3 server, or a proxy answered for it"),
            )
            .with_key(key));
        }
        let returned = part_checksums(out.checksum_crc64_nvme());
        check_stored(
            key,
            &sent,
            Some(&etag),
            out.server_side_encryption(),
            &returned,
        )?;
        let checksums = part_checksums(sent.crc64nvme_base64().as_deref());
        Ok(PartInfo {
            part_number,
            etag,
            size: len,
            checksums,
        })
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, truncated, next) = self.list_parts_page(upload, marker.clone()).await?;
            parts.extend(page);
            match next {
                Some(m) if truncated && Some(&m) != marker.as_ref() => marker = Some(m),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        // Parts name their CRC only in uploads created with one (the CRC64-NVME mode).
        let crc_mode = self.parts_carry_crc64nvme();
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(p.part_number as i32)
                            .e_tag(format!("\"{}\"", p.etag))
                            .set_checksum_crc64_nvme(
                                crc_mode.then(|| p.checksums.crc64nvme_base64()).flatten(),
                            )
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let sent = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .multipart_upload(completed)
            .send()
            .await;
        if let Err(e) = sent {
            let moto_completion = e
                .raw_response()
                .filter(|r| r.status().is_success())
                .and_then(|r| r.body().bytes())
                .and_then(|b| std::str::from_utf8(b).ok())
                .is_some_and(compat::is_completion);
            if !moto_completion {
                return Err(map_sdk_error(e, &self.ctx(Some(&upload.key))));
            }
        }
        self.head(&upload.key).await
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, &self.ctx(Some(&upload.key))))?;
        Ok(())
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        let mut uploads = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.clone())
                .set_upload_id_marker(id_marker.clone())
                .send()
                .await
                .map_err(|e| map_sdk_error(e, &self.ctx(None)))?;
            uploads.extend(out.uploads().iter().map(|u| MultipartUpload {
                key: u.key().unwrap_or_default().to_string(),
                upload_id: u.upload_id().unwrap_or_default().to_string(),
                initiated: to_offset(u.initiated()),
            }));
            if out.is_truncated() != Some(true) {
                break;
            }
            let next_key = out.next_key_marker().map(str::to_string);
            let next_id = out.next_upload_id_marker().map(str::to_string);
            if next_key.is_none() || (next_key == key_marker && next_id == id_marker) {
                break;
            }
            (key_marker, id_marker) = (next_key, next_id);
        }
        Ok(uploads)
    }
}

/// A 404 on the bucket itself (HEAD has no body to say so) means the bucket is missing.
fn bucket_error(e: Error) -> Error {
    match e.kind() {
        ErrorKind::NotFound => {
            let status = e.http_status().unwrap_or(404);
            let mut out = Error::new(ErrorKind::BucketNotFound, "the bucket does not exist")
                .with_http_status(status);
            if let Some(b) = e.bucket() {
                out = out.with_bucket(b);
            }
            if let Some(id) = e.request_id() {
                out = out.with_request_id(id);
            }
            out
        }
        _ => e,
    }
}

/// An S3 bucket that follows the bucket's region once: when the server answers "wrong
/// region" and names the right one (a redirect's `x-amz-bucket-region`, or the region an
/// `AuthorizationHeaderMalformed` expects), the client is rebuilt for that region and the
/// request sent again. A second wrong-region answer is returned as the error it is.
#[derive(Debug, Clone)]
pub struct S3Store {
    current: Arc<RwLock<Arc<Bucket>>>,
    switched: Arc<AtomicBool>,
}

impl S3Store {
    /// Builds a client for `cfg`. Makes no request: a wrong bucket or key shows at first use.
    pub async fn new(cfg: S3Config) -> Result<Self> {
        let bucket = Bucket::new(cfg).await?;
        Ok(S3Store {
            current: Arc::new(RwLock::new(Arc::new(bucket))),
            switched: Arc::default(),
        })
    }

    fn bucket_now(&self) -> Arc<Bucket> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The region requests are signed for now.
    pub fn region(&self) -> String {
        self.bucket_now().region.clone()
    }

    pub fn bucket(&self) -> String {
        self.bucket_now().bucket.clone()
    }

    /// The underlying SDK client, for operations the trait does not cover.
    pub fn client(&self) -> Client {
        self.bucket_now().client.clone()
    }

    /// After a wrong-region error naming the bucket's region, switches to it (once).
    /// True when the request should be sent again.
    fn follow_region(&self, e: &Error) -> bool {
        let Some(region) = e.bucket_region() else {
            return false;
        };
        if region == self.region() || self.switched.swap(true, Ordering::SeqCst) {
            return false;
        }
        tracing::warn!(bucket = %self.bucket(), from = %self.region(), to = %region, "the bucket is in another region; following it");
        let next = Arc::new(self.bucket_now().in_region(region));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        true
    }
}

/// Sends a request through the current bucket, and once more after following its region.
macro_rules! follow {
    ($self:ident, |$b:ident| $call:expr) => {{
        let $b = $self.bucket_now();
        match $call.await {
            Err(e) if $self.follow_region(&e) => {
                let $b = $self.bucket_now();
                $call.await
            }
            other => other,
        }
    }};
}

impl S3Store {
    /// In `auto` mode, asks the server once whether it checks `x-amz-checksum-crc64nvme`
    /// (see [`S3Integrity::Auto`]), with a probe beside `key`. Every answer is kept for the
    /// store's life: a refused probe means CRC64-NVME alone; a stored one, or an answer that
    /// says nothing (denied, missing bucket, a server error after the SDK's retries),
    /// means Content-MD5 as well.
    async fn learn(&self, key: &str) {
        let integrity = self.bucket_now().integrity.clone();
        if !integrity.needs_probe() {
            return;
        }
        let _one = integrity.probing.lock().await;
        if !integrity.needs_probe() {
            return; // learned while this waited
        }
        let probe = probe_key(key);
        let answer = follow!(self, |b| b.probe_crc64nvme(&probe));
        let sends = match answer {
            Ok(true) => {
                tracing::info!(bucket = %self.bucket(), "the server checks x-amz-checksum-crc64nvme: writes carry it alone, without Content-MD5");
                Sends::Crc
            }
            Ok(false) => {
                tracing::info!(bucket = %self.bucket(), "the server stored an object with a wrong x-amz-checksum-crc64nvme: writes carry Content-MD5 too");
                Sends::Md5
            }
            Err(e) => {
                tracing::warn!(bucket = %self.bucket(), error = %e, "could not learn whether the server checks x-amz-checksum-crc64nvme: writes carry Content-MD5 too (--s3-integrity crc64nvme forces the CRC alone)");
                Sends::Md5
            }
        };
        let _ = integrity.learned.set(sends);
    }
}

/// A body that can be sent again (files are re-read; bytes are shared).
fn resend(body: &PutBody) -> Option<PutBody> {
    match body {
        PutBody::Bytes(b) => Some(PutBody::Bytes(b.clone())),
        PutBody::File { path, offset, len } => Some(PutBody::File {
            path: path.clone(),
            offset: *offset,
            len: *len,
        }),
        PutBody::Stream { .. } => None,
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn name(&self) -> String {
        format!("s3://{}", self.bucket())
    }

    fn capabilities(&self) -> Capabilities {
        self.bucket_now().capabilities()
    }

    async fn learn_integrity(&self, key: &str) {
        self.learn(key).await;
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        self.learn(key).await;
        let again = resend(&body);
        let first = self.bucket_now().put(key, body, opts).await;
        match (first, again) {
            (Err(e), Some(body)) if self.follow_region(&e) => {
                self.bucket_now().put(key, body, opts).await
            }
            (other, _) => other,
        }
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        follow!(self, |b| b.head(key))
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        follow!(self, |b| b.get(key, range.clone()))
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        follow!(self, |b| b.list(req))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        follow!(self, |b| b.delete(key))
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        self.learn(key).await;
        follow!(self, |b| b.create_multipart(key, opts))
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        let again = resend(&body);
        let first = self
            .bucket_now()
            .upload_part(upload, part_number, body)
            .await;
        match (first, again) {
            (Err(e), Some(body)) if self.follow_region(&e) => {
                self.bucket_now()
                    .upload_part(upload, part_number, body)
                    .await
            }
            (other, _) => other,
        }
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        follow!(self, |b| b.list_parts(upload))
    }

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        follow!(self, |b| b.complete_multipart(upload, parts))
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        follow!(self, |b| b.abort_multipart(upload))
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        follow!(self, |b| b.list_multipart_uploads(prefix))
    }

    /// Presigned for the region requests go to now (after a followed redirect, the
    /// bucket's own).
    async fn signed_get_url(&self, key: &str, expires: Duration) -> Result<String> {
        self.bucket_now().signed_get_url(key, expires).await
    }

    /// `HeadBucket`'s `x-amz-bucket-region`; not followed, since the answer is the point.
    async fn bucket_region(&self) -> Result<Option<String>> {
        self.bucket_now().bucket_region().await
    }
}

#[cfg(test)]
mod body_tests {
    use super::*;

    #[test]
    fn only_plain_http_endpoints_skip_tls() {
        assert!(plain_http("http://127.0.0.1:9000"));
        assert!(plain_http("HTTP://minio.local"));
        assert!(!plain_http("https://s3.example.com"));
        assert!(!plain_http("http:/"));
    }

    #[tokio::test]
    async fn small_file_bodies_are_read_whole_and_a_shorter_file_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg.ts");
        std::fs::write(&path, b"0123456789").unwrap();
        let body = PutBody::File {
            path: path.clone(),
            offset: 2,
            len: 5,
        };
        let bytes = byte_stream(body).await.unwrap().collect().await.unwrap();
        assert_eq!(bytes.into_bytes(), Bytes::from_static(b"23456"));
        let e = read_range(&path, 8, 5).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::LocalFileChanged, "{e}");
        assert!(e.to_string().contains("changed while being sent"), "{e}");
    }
}
