//! A local directory as a bucket: Stowage's embedded default store.
//!
//! - Objects are plain files at `root/<key>`, so any tool can read them.
//! - Writes are atomic: a temporary file under `root/.stowage/tmp`, fsync, rename, fsync of
//!   the directory. A reader never sees half an object; a crash leaves the old one.
//! - Checksums (all of [`ChecksumAlgo::ALL`]) are computed while writing and kept in a
//!   sidecar `root/.stowage/meta/<key>.json`, returned by `head` while the file's size and
//!   mtime still match it.
//! - Multipart uploads live in `root/.stowage/uploads/<id>/` until completed or aborted.
//! - Keys cannot escape the root: `..`, `.`, empty segments, absolute keys and NUL are
//!   invalid input, and a `.stowage` path segment is reserved (so a bucket copied into a
//!   sub-directory of another never shows its state as objects).

mod keys;
mod multipart;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stowage_core::checksum::Hasher;
use stowage_core::fsutil::{mtime_ns, sync_dir};
use stowage_core::{
    Capabilities, ChecksumAlgo, Checksums, Error, ErrorKind, GetResult, ListPage, ListRequest,
    MultipartUpload, ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, Result,
};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

pub use keys::validate_key;

/// Name of the directory (under the root) holding Stowage's own state.
pub use stowage_core::fsutil::STATE_DIR as INTERNAL_DIR;
/// The directory of stored checksums inside [`INTERNAL_DIR`]; made by a bucket's first write,
/// it tells a directory bucket's root from a recording spool (whose `.stowage/` holds
/// journals only).
pub const META_DIR: &str = "meta";
const LIST_PAGE_MAX: usize = 1000;
const READ_CHUNK: usize = 256 * 1024;

/// A directory used as a bucket.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

/// What is kept beside each object.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sidecar {
    size: u64,
    mtime_ns: i64,
    etag: String,
    content_type: String,
    checksums: Checksums,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

impl FsStore {
    /// Uses `root` as the bucket, creating the directory if needed (the embedded default).
    pub async fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|e| Error::local_io(&root, e))?;
        Self::open(root).await
    }

    /// Uses an existing directory `root` as the bucket.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        match tokio::fs::metadata(&root).await {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::invalid_input(format!(
                    "{} is a file, not a directory",
                    root.display()
                )));
            }
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::BucketNotFound,
                    format!("directory {} does not exist", root.display()),
                )
                .with_bucket(root.display().to_string()));
            }
        }
        let root = tokio::fs::canonicalize(&root)
            .await
            .map_err(|e| Error::local_io(&root, e))?;
        // `.stowage/` is created on first write, so reading a directory leaves no trace.
        Ok(FsStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn sidecar_path(&self, key: &str) -> PathBuf {
        self.root
            .join(INTERNAL_DIR)
            .join(META_DIR)
            .join(format!("{key}.json"))
    }

    /// A fresh temporary file name inside the root (same filesystem, so renames are atomic).
    async fn temp_path(&self) -> Result<PathBuf> {
        let dir = self.root.join(INTERNAL_DIR).join("tmp");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::local_io(&dir, e))?;
        Ok(dir.join(uuid::Uuid::new_v4().to_string()))
    }

    /// Writes `body` to a temporary file, hashing it; returns the temp path and checksums.
    async fn write_temp(&self, key: &str, body: PutBody) -> Result<(PathBuf, u64, Checksums)> {
        let tmp = self.temp_path().await?;
        let result = write_hashed(&tmp, body).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        let (size, sums) = result.map_err(|e| e.or_key(key))?;
        Ok((tmp, size, sums))
    }

    /// Moves a finished temp file to `key` atomically and records its sidecar.
    async fn publish(
        &self,
        key: &str,
        tmp: &Path,
        checksums: Checksums,
        opts: &PutOptions,
    ) -> Result<ObjectMeta> {
        let target = self.object_path(key);
        let io = |e| Error::local_io(&target, e).with_key(key);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        if let Err(e) = tokio::fs::create_dir_all(&parent).await {
            let _ = tokio::fs::remove_file(tmp).await;
            return Err(key_conflict(key, e));
        }
        if let Err(e) = tokio::fs::rename(tmp, &target).await {
            let _ = tokio::fs::remove_file(tmp).await;
            return Err(key_conflict(key, e));
        }
        sync_dir(&parent).map_err(io)?;
        let stat = tokio::fs::metadata(&target).await.map_err(io)?;
        let sidecar = Sidecar {
            size: stat.len(),
            mtime_ns: mtime_ns(&stat),
            etag: checksums.get(ChecksumAlgo::Md5).unwrap_or_default(),
            content_type: opts.content_type_for(key),
            checksums,
            metadata: opts.metadata.clone(),
        };
        self.write_sidecar(key, &sidecar).await?;
        Ok(meta_from(key, &stat, Some(sidecar)))
    }

    async fn write_sidecar(&self, key: &str, sidecar: &Sidecar) -> Result<()> {
        let path = self.sidecar_path(key);
        let io = |e| Error::local_io(&path, e).with_key(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let json = serde_json::to_vec(sidecar)
            .map_err(|e| Error::new(ErrorKind::Other, format!("encoding metadata: {e}")))?;
        let tmp = self.temp_path().await?;
        tokio::fs::write(&tmp, json).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    /// The sidecar of `key` if it still describes the file on disk.
    async fn fresh_sidecar(&self, key: &str, stat: &std::fs::Metadata) -> Option<Sidecar> {
        let bytes = tokio::fs::read(self.sidecar_path(key)).await.ok()?;
        let s: Sidecar = serde_json::from_slice(&bytes).ok()?;
        (s.size == stat.len() && s.mtime_ns == mtime_ns(stat)).then_some(s)
    }

    async fn stat_object(&self, key: &str) -> Result<std::fs::Metadata> {
        validate_key(key)?;
        match tokio::fs::metadata(self.object_path(key)).await {
            Ok(m) if m.is_file() => Ok(m),
            Ok(_) => Err(self.not_found(key).await),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(self.not_found(key).await),
            Err(e) if e.raw_os_error() == Some(20) => Err(self.not_found(key).await), // ENOTDIR
            Err(e) => Err(Error::local_io(&self.object_path(key), e).with_key(key)),
        }
    }

    /// Fails when the root directory (the bucket) has gone away since it was opened.
    async fn ensure_bucket(&self) -> Result<()> {
        match tokio::fs::metadata(&self.root).await {
            Ok(m) if m.is_dir() => Ok(()),
            _ => Err(Error::new(
                ErrorKind::BucketNotFound,
                format!("directory {} no longer exists", self.root.display()),
            )
            .with_bucket(self.root.display().to_string())),
        }
    }

    /// A missing object, or a missing bucket when the root itself is gone.
    async fn not_found(&self, key: &str) -> Error {
        match self.ensure_bucket().await {
            Ok(()) => not_found(key),
            Err(e) => e.with_key(key),
        }
    }

    /// Removes empty directories from `key`'s parent up to the root, as buckets have none.
    async fn prune_empty_dirs(&self, key: &str) {
        let mut dir = self.object_path(key);
        while dir.pop() && dir != self.root && dir.starts_with(&self.root) {
            if tokio::fs::remove_dir(&dir).await.is_err() {
                break;
            }
        }
    }
}

fn not_found(key: &str) -> Error {
    Error::new(ErrorKind::NotFound, "no such object").with_key(key)
}

fn key_conflict(key: &str, e: std::io::Error) -> Error {
    Error::invalid_input(format!(
        "cannot store `{key}`: a path component is an existing object or directory ({e})"
    ))
    .with_key(key)
}

fn meta_from(key: &str, stat: &std::fs::Metadata, sidecar: Option<Sidecar>) -> ObjectMeta {
    let last_modified = stat.modified().ok().map(OffsetDateTime::from);
    let mut meta = ObjectMeta {
        key: key.to_string(),
        size: stat.len(),
        last_modified,
        ..Default::default()
    };
    if let Some(s) = sidecar {
        meta.etag = Some(s.etag);
        meta.content_type = Some(s.content_type);
        meta.checksums = s.checksums;
        meta.metadata = s.metadata;
    } else {
        meta.content_type = Some(stowage_core::content_type::for_key(key));
    }
    meta
}

/// Writes `body` to a new file at `path` while computing every checksum; fsyncs it.
async fn write_hashed(path: &Path, body: PutBody) -> Result<(u64, Checksums)> {
    let io = |e| Error::local_io(path, e);
    let mut out = tokio::fs::File::create(path).await.map_err(io)?;
    let mut hasher = Hasher::new(&ChecksumAlgo::ALL);
    let expected = body.len();
    match body {
        PutBody::Bytes(b) => {
            hasher.update(&b);
            out.write_all(&b).await.map_err(io)?;
        }
        PutBody::File {
            path: src,
            offset,
            len,
        } => copy_file_range_hashed(&src, offset, len, &mut out, &mut hasher).await?,
        PutBody::Stream { mut stream, .. } => {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk
                    .map_err(|e| Error::new(ErrorKind::Other, format!("reading body: {e}")))?;
                hasher.update(&chunk);
                out.write_all(&chunk).await.map_err(io)?;
            }
        }
    }
    if hasher.len() != expected {
        return Err(Error::invalid_input(format!(
            "body had {} bytes but {expected} were declared (was the source file changed while uploading?)",
            hasher.len()
        )));
    }
    out.sync_all().await.map_err(io)?;
    Ok((hasher.len(), hasher.finish()))
}

async fn copy_file_range_hashed(
    src: &Path,
    offset: u64,
    len: u64,
    out: &mut tokio::fs::File,
    hasher: &mut Hasher,
) -> Result<()> {
    let io_src = |e| Error::local_io(src, e);
    let mut f = tokio::fs::File::open(src).await.map_err(io_src)?;
    f.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(io_src)?;
    let mut reader = f.take(len);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = reader.read(&mut buf).await.map_err(io_src)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .await
            .map_err(|e| Error::new(ErrorKind::Other, format!("writing object: {e}")))?;
    }
}

fn check_range(key: &str, range: &Range<u64>, size: u64) -> Result<()> {
    if range.start > range.end || range.end > size {
        return Err(Error::invalid_input(format!(
            "range {}..{} is outside the object's {size} bytes",
            range.start, range.end
        ))
        .with_key(key));
    }
    Ok(())
}

/// A stream of `len` bytes of `file` from its current position.
fn file_stream(
    file: tokio::fs::File,
    len: u64,
    key: String,
) -> futures::stream::BoxStream<'static, Result<Bytes>> {
    futures::stream::unfold((file.take(len), key), |(mut r, key)| async move {
        let mut buf = vec![0u8; READ_CHUNK];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (r, key)))
            }
            Err(e) => Some((
                Err(Error::new(ErrorKind::Other, format!("reading object: {e}")).with_key(&key)),
                (r, key),
            )),
        }
    })
    .boxed()
}

#[async_trait]
impl ObjectStore for FsStore {
    fn name(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            multipart: true,
            list_multipart_uploads: true,
            range_get: true,
            min_part_size: 1,
            max_part_size: 5 << 30,
            max_parts: 10_000,
            verified_on_upload: ChecksumAlgo::ALL.to_vec(),
            returned_by_head: ChecksumAlgo::ALL.to_vec(),
            part_etag_is_md5: true,
            signed_urls: false,
        }
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        validate_key(key)?;
        self.ensure_bucket().await.map_err(|e| e.with_key(key))?;
        let (tmp, _, sums) = self.write_temp(key, body).await?;
        if let Some(expected) = &opts.checksums
            && let Err(e) = expected.verify(&sums)
        {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.with_key(key));
        }
        self.publish(key, &tmp, sums, opts).await
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let stat = self.stat_object(key).await?;
        let sidecar = self.fresh_sidecar(key, &stat).await;
        Ok(meta_from(key, &stat, sidecar))
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult> {
        let meta = self.head(key).await?;
        let range = range.unwrap_or(0..meta.size);
        check_range(key, &range, meta.size)?;
        let path = self.object_path(key);
        let io = |e| Error::local_io(&path, e).with_key(key);
        let mut file = tokio::fs::File::open(&path).await.map_err(io)?;
        file.seek(std::io::SeekFrom::Start(range.start))
            .await
            .map_err(io)?;
        let body = file_stream(file, range.end - range.start, key.to_string());
        Ok(GetResult { meta, range, body })
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        self.ensure_bucket().await?;
        let keys = keys::list_keys(&self.root, &req.prefix).await?;
        let after = req.continuation.as_deref().or(req.start_after.as_deref());
        let max = req
            .max_keys
            .map_or(LIST_PAGE_MAX, |m| (m as usize).clamp(1, LIST_PAGE_MAX));
        let mut selected: Vec<String> = keys
            .into_iter()
            .filter(|k| after.is_none_or(|a| k.as_str() > a))
            .take(max + 1)
            .collect();
        let more = selected.len() > max;
        selected.truncate(max);
        let mut objects = Vec::with_capacity(selected.len());
        for key in &selected {
            match self.head(key).await {
                Ok(meta) => objects.push(meta),
                Err(e) if e.kind() == &ErrorKind::NotFound => {} // deleted meanwhile
                Err(e) => return Err(e),
            }
        }
        let next = more.then(|| selected.last().cloned()).flatten();
        Ok(ListPage { objects, next })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let path = self.object_path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(20) => return Ok(()),
            Err(e) => return Err(Error::local_io(&path, e).with_key(key)),
        }
        let _ = tokio::fs::remove_file(self.sidecar_path(key)).await;
        self.prune_empty_dirs(key).await;
        Ok(())
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        validate_key(key)?;
        self.ensure_bucket().await.map_err(|e| e.with_key(key))?;
        multipart::create(self, key, opts).await
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        multipart::upload_part(self, upload, part_number, body).await
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        multipart::list_parts(self, upload).await
    }

    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        multipart::complete(self, upload, parts).await
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        multipart::abort(self, upload).await
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        multipart::list_uploads(self, prefix).await
    }
}
