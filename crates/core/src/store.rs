//! The storage trait every backend implements, and the types it speaks.
//!
//! Small and object-safe (`Arc<dyn ObjectStore>`), like object_store's: one method per
//! request kind, with the multipart API exposed at the level of single requests and
//! caller-owned part numbers, so that a failed part can be retried alone and an upload can
//! be resumed by another process from [`ObjectStore::list_parts`]. Composite operations
//! (paging through a listing, choosing multipart for big files) live once in this crate,
//! not in each backend.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use time::OffsetDateTime;

use crate::checksum::{ChecksumAlgo, Checksums};
use crate::error::{Error, ErrorKind, Result};

/// The bytes of one `put` or `upload_part`.
pub enum PutBody {
    /// In memory.
    Bytes(Bytes),
    /// `len` bytes of a local file from `offset`; read while sending, never whole into memory.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
    /// A stream of exactly `len` bytes. Stores that must send a digest before the body
    /// (Content-MD5) buffer it unless [`PutOptions::checksums`] is given.
    Stream {
        stream: BoxStream<'static, std::io::Result<Bytes>>,
        len: u64,
    },
}

impl PutBody {
    /// A whole local file (its size is read now).
    pub async fn file(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let len = tokio::fs::metadata(&path)
            .await
            .map_err(|e| Error::local_io(&path, e))?
            .len();
        Ok(PutBody::File {
            path,
            offset: 0,
            len,
        })
    }

    pub fn len(&self) -> u64 {
        match self {
            PutBody::Bytes(b) => b.len() as u64,
            PutBody::File { len, .. } | PutBody::Stream { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Computes `algos` over the body. Files are read once (on a blocking thread); a stream
    /// is collected into memory first and returned as [`PutBody::Bytes`].
    pub async fn checksums(self, algos: &[ChecksumAlgo]) -> Result<(PutBody, Checksums)> {
        match self {
            PutBody::Bytes(b) => {
                let c = crate::checksum::checksum_bytes(&b, algos);
                Ok((PutBody::Bytes(b), c))
            }
            PutBody::File { path, offset, len } => {
                let (_, c) =
                    crate::checksum::checksum_file_range(&path, offset, Some(len), algos).await?;
                Ok((PutBody::File { path, offset, len }, c))
            }
            PutBody::Stream { stream, len } => {
                let bytes = collect_stream(stream, len).await?;
                let c = crate::checksum::checksum_bytes(&bytes, algos);
                Ok((PutBody::Bytes(bytes), c))
            }
        }
    }
}

impl PutBody {
    /// The body's bytes in memory (for stores that sign or hash the whole body before
    /// sending it): a file range read on a blocking thread (a file with fewer bytes than
    /// declared is [`ErrorKind::InvalidInput`]), a stream collected.
    pub async fn bytes(self) -> Result<Bytes> {
        match self {
            PutBody::Bytes(b) => Ok(b),
            PutBody::File { path, offset, len } => {
                tokio::task::spawn_blocking(move || read_file_range(&path, offset, len))
                    .await
                    .map_err(|e| Error::new(ErrorKind::Other, format!("read task failed: {e}")))?
            }
            PutBody::Stream { stream, len } => collect_stream(stream, len).await,
        }
    }
}

/// `len` bytes of `path` from `offset`; a file with fewer is shorter than the body declares.
fn read_file_range(path: &std::path::Path, offset: u64, len: u64) -> Result<Bytes> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |e| Error::local_io(path, e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 != len {
        return Err(Error::invalid_input(format!(
            "{} ended after {} of the {len} bytes to send from offset {offset}: it is shorter than declared (or shrank while being read)",
            path.display(),
            buf.len()
        )));
    }
    Ok(Bytes::from(buf))
}

async fn collect_stream(
    mut stream: BoxStream<'static, std::io::Result<Bytes>>,
    len: u64,
) -> Result<Bytes> {
    let mut buf = BytesMut::with_capacity(len.min(64 << 20) as usize);
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Error::new(ErrorKind::Other, format!("reading body: {e}")))?;
        buf.extend_from_slice(&chunk);
    }
    if buf.len() as u64 != len {
        return Err(Error::invalid_input(format!(
            "body stream gave {} bytes but {len} were declared",
            buf.len()
        )));
    }
    Ok(buf.freeze())
}

impl fmt::Debug for PutBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            PutBody::File { path, offset, len } => {
                write!(f, "File({}, offset {offset}, {len} bytes)", path.display())
            }
            PutBody::Stream { len, .. } => write!(f, "Stream({len} bytes)"),
        }
    }
}

/// Options for `put` and `create_multipart`.
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// Content type; `None` picks one from the key's extension.
    pub content_type: Option<String>,
    /// Checksums of the body the caller already computed (saves a read of the file).
    /// Stores send what their protocol carries and check what comes back.
    pub checksums: Option<Checksums>,
    /// User metadata (`x-amz-meta-*` and the like); keys lower-case.
    pub metadata: BTreeMap<String, String>,
}

impl PutOptions {
    /// The content type to send for `key`.
    pub fn content_type_for(&self, key: &str) -> String {
        self.content_type
            .clone()
            .unwrap_or_else(|| crate::content_type::for_key(key))
    }
}

/// What a store knows about one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// The store's ETag, unquoted. Not an MD5 in general (multipart, encryption).
    pub etag: Option<String>,
    pub last_modified: Option<OffsetDateTime>,
    pub content_type: Option<String>,
    /// The checksums the store returned (never ones computed locally).
    pub checksums: Checksums,
    pub metadata: BTreeMap<String, String>,
}

/// One page of a listing request.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub prefix: String,
    /// List keys strictly after this one.
    pub start_after: Option<String>,
    /// The `next` token of the previous page.
    pub continuation: Option<String>,
    /// At most this many keys (stores cap it, usually at 1000).
    pub max_keys: Option<u32>,
}

/// A page of objects in key order; `next` is set when more follow.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<ObjectMeta>,
    pub next: Option<String>,
}

/// A `get` response: the object's metadata and a stream of the requested bytes.
pub struct GetResult {
    pub meta: ObjectMeta,
    /// The byte range the body covers.
    pub range: Range<u64>,
    pub body: BoxStream<'static, Result<Bytes>>,
}

impl GetResult {
    /// Collects the body into memory.
    pub async fn bytes(self) -> Result<Bytes> {
        let expected = self.range.end - self.range.start;
        let chunks: Vec<Bytes> = self.body.try_collect().await?;
        let mut buf = BytesMut::with_capacity(expected as usize);
        chunks.iter().for_each(|c| buf.extend_from_slice(c));
        check_body_len(&self.meta.key, buf.len() as u64, expected)?;
        Ok(buf.freeze())
    }

    /// Streams the body into a new file at `path` (written to a temporary name, synced,
    /// then renamed, so a partial download never has the final name).
    pub async fn write_to_file(self, path: &Path) -> Result<u64> {
        let tmp = crate::fsutil::temp_sibling(path);
        let result = self.write_temp(&tmp).await;
        let result = match result {
            Ok(written) => tokio::fs::rename(&tmp, path)
                .await
                .map(|()| written)
                .map_err(|e| Error::local_io(path, e)),
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn write_temp(mut self, tmp: &Path) -> Result<u64> {
        use tokio::io::AsyncWriteExt;
        let io = |e| Error::local_io(tmp, e);
        let mut file = tokio::fs::File::create(tmp).await.map_err(io)?;
        let mut written = 0u64;
        while let Some(chunk) = self.body.next().await {
            let chunk = chunk?;
            file.write_all(&chunk).await.map_err(io)?;
            written += chunk.len() as u64;
        }
        check_body_len(&self.meta.key, written, self.range.end - self.range.start)?;
        // tokio's write_all returns once the bytes are handed to a background write; flush
        // waits for it, so a full disk is an error here and never a short file renamed.
        file.flush().await.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        Ok(written)
    }
}

fn check_body_len(key: &str, got: u64, expected: u64) -> Result<()> {
    if got != expected {
        return Err(Error::new(
            ErrorKind::Network,
            format!("download ended after {got} of {expected} bytes"),
        )
        .with_key(key));
    }
    Ok(())
}

/// An in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<OffsetDateTime>,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub part_number: u32,
    /// Unquoted ETag (the part's MD5 in hex on S3, OSS, COS and the local store).
    pub etag: String,
    pub size: u64,
    /// The part's checksums the store verified or listed, to be named again on completion
    /// where the protocol wants them (S3 parts sent with CRC64-NVME).
    pub checksums: Checksums,
}

/// What a store can do, declared up front instead of discovered by failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub multipart: bool,
    pub list_multipart_uploads: bool,
    pub range_get: bool,
    /// Smallest part but the last.
    pub min_part_size: u64,
    pub max_part_size: u64,
    pub max_parts: u32,
    /// Checksums the store verifies on upload (from what we send).
    pub verified_on_upload: Vec<ChecksumAlgo>,
    /// Checksums `head` returns for an object uploaded by `put`.
    pub returned_by_head: Vec<ChecksumAlgo>,
    /// Whether a part's ETag is the MD5 of its bytes (lets resume skip parts safely).
    pub part_etag_is_md5: bool,
    /// Whether [`ObjectStore::signed_get_url`] gives time-limited download URLs.
    pub signed_urls: bool,
    /// Whether the store copies a [`PutBody::File`] itself, in the kernel (the local
    /// directory's `copy_file_range`): a caller then hands it the path rather than reading a
    /// small file into memory first.
    pub copies_files: bool,
}

/// A bucket (or a local directory acting as one).
#[async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug + 'static {
    /// A URL-like name for messages, e.g. `s3://bucket` or `file:///srv/rec`.
    fn name(&self) -> String;

    fn capabilities(&self) -> Capabilities;

    /// Learns, before the first upload, what the store's server checks, so that
    /// [`ObjectStore::capabilities`] is settled when a caller chooses what to hash for
    /// `key`. Only a store that must ask its server does anything (S3 in its `auto`
    /// integrity mode: one probe per store, under `key`'s prefix); until then it declares
    /// the cautious answer, and its own writes learn first. Never fails: a store that
    /// cannot tell keeps the cautious answer. Wrappers should forward it.
    async fn learn_integrity(&self, key: &str) {
        let _ = key;
    }

    /// Stores `body` at `key`, replacing any object there, and checks the store's reply
    /// against the checksums it sent.
    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta>;

    /// Metadata of `key`, with every checksum the store keeps.
    async fn head(&self, key: &str) -> Result<ObjectMeta>;

    /// The object, or the byte range `range` of it.
    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult>;

    /// One page of keys under `req.prefix`, in key order.
    async fn list(&self, req: &ListRequest) -> Result<ListPage>;

    /// Deletes `key`; deleting a missing key succeeds.
    async fn delete(&self, key: &str) -> Result<()>;

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload>;

    /// Uploads part `part_number` (1-based); uploading the same number again replaces it.
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo>;

    /// The parts the store holds for `upload`, by part number.
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>>;

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta>;

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()>;

    /// The region the bucket lives in, in the vendor's own spelling (`eu-west-1`,
    /// `cn-hangzhou`, `ap-guangzhou`, `z0`), as the server reports it. `Ok(None)` for stores
    /// without regions (a local directory) and servers that do not say. The region selector
    /// (stowage-region) uses it to pick the endpoint near the bucket and to warn when the
    /// uploader is far from it.
    async fn bucket_region(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// A URL anyone can GET `key` with, without credentials, until `expires` from now
    /// (S3's presigned URL, OSS's and COS's query-string signatures, Kodo's private URL).
    /// The URL carries a signature, never the secret key. Stores without signed URLs (a
    /// local directory) answer [`ErrorKind::Unsupported`].
    async fn signed_get_url(&self, key: &str, expires: Duration) -> Result<String> {
        let _ = (key, expires);
        Err(Error::unsupported(format!(
            "{} has no signed download URLs (only S3, OSS, COS, Kodo, Azure and GCS buckets do)",
            self.name()
        )))
    }

    /// In-progress uploads under `prefix`.
    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        let _ = prefix;
        Err(Error::unsupported(format!(
            "{} cannot list in-progress multipart uploads",
            self.name()
        )))
    }
}

impl dyn ObjectStore {
    /// Every object under `prefix`, following pages.
    pub async fn list_all(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let mut out = Vec::new();
        let mut req = ListRequest {
            prefix: prefix.to_string(),
            ..Default::default()
        };
        loop {
            let page = self.list(&req).await?;
            out.extend(page.objects);
            match page.next {
                Some(token) => req.continuation = Some(token),
                None => return Ok(out),
            }
        }
    }
}

/// The longest lifetime S3 and OSS V4 accept for a signed URL: 7 days.
pub const MAX_SIGNED_URL_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Refuses a signed-URL lifetime of zero or above `max` (when the vendor has one), naming
/// the limit, before anything is signed.
pub fn check_signed_url_expiry(
    store: &str,
    expires: Duration,
    max: Option<Duration>,
) -> Result<()> {
    if expires.as_secs() == 0 {
        return Err(Error::invalid_input(format!(
            "a signed URL for {store} must live at least one second: pass a longer expiry (e.g. 1h)"
        )));
    }
    match max {
        Some(max) if expires > max => Err(Error::invalid_input(format!(
            "{store} signs URLs for at most {} s ({} days), not {} s: pass a shorter expiry",
            max.as_secs(),
            max.as_secs() / 86_400,
            expires.as_secs()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod signed_url_tests {
    use super::*;

    #[derive(Debug)]
    struct Bare;

    #[async_trait]
    impl ObjectStore for Bare {
        fn name(&self) -> String {
            "file:///srv/rec".into()
        }
        fn capabilities(&self) -> Capabilities {
            unimplemented!()
        }
        async fn put(&self, _: &str, _: PutBody, _: &PutOptions) -> Result<ObjectMeta> {
            unimplemented!()
        }
        async fn head(&self, _: &str) -> Result<ObjectMeta> {
            unimplemented!()
        }
        async fn get(&self, _: &str, _: Option<Range<u64>>) -> Result<GetResult> {
            unimplemented!()
        }
        async fn list(&self, _: &ListRequest) -> Result<ListPage> {
            unimplemented!()
        }
        async fn delete(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn create_multipart(&self, _: &str, _: &PutOptions) -> Result<MultipartUpload> {
            unimplemented!()
        }
        async fn upload_part(&self, _: &MultipartUpload, _: u32, _: PutBody) -> Result<PartInfo> {
            unimplemented!()
        }
        async fn list_parts(&self, _: &MultipartUpload) -> Result<Vec<PartInfo>> {
            unimplemented!()
        }
        async fn complete_multipart(
            &self,
            _: &MultipartUpload,
            _: &[PartInfo],
        ) -> Result<ObjectMeta> {
            unimplemented!()
        }
        async fn abort_multipart(&self, _: &MultipartUpload) -> Result<()> {
            unimplemented!()
        }
    }

    #[tokio::test]
    async fn default_signed_url_is_unsupported_and_names_the_store() {
        let store: &dyn ObjectStore = &Bare;
        let e = store
            .signed_get_url("a.m3u8", Duration::from_secs(60))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unsupported);
        assert!(e.to_string().contains("file:///srv/rec"), "{e}");
    }

    #[test]
    fn expiry_limits_name_the_limit() {
        let week = Some(MAX_SIGNED_URL_EXPIRY);
        assert!(check_signed_url_expiry("s3://b", MAX_SIGNED_URL_EXPIRY, week).is_ok());
        let e = check_signed_url_expiry(
            "s3://b",
            MAX_SIGNED_URL_EXPIRY + Duration::from_secs(1),
            week,
        )
        .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(e.to_string().contains("at most 604800 s (7 days)"), "{e}");
        let e = check_signed_url_expiry("s3://b", Duration::ZERO, None).unwrap_err();
        assert!(e.to_string().contains("at least one second"), "{e}");
        assert!(
            check_signed_url_expiry("kodo://b", Duration::from_secs(30 * 86_400), None).is_ok()
        );
    }
}

#[cfg(test)]
mod body_tests {
    use super::*;

    #[tokio::test]
    async fn a_file_range_is_read_into_memory_and_a_short_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg.ts");
        std::fs::write(&path, b"0123456789").unwrap();
        let range = PutBody::File {
            path: path.clone(),
            offset: 2,
            len: 5,
        };
        assert_eq!(range.bytes().await.unwrap(), Bytes::from_static(b"23456"));
        let past_the_end = PutBody::File {
            path,
            offset: 8,
            len: 5,
        };
        let e = past_the_end.bytes().await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("shorter than declared"), "{e}");
    }
}
