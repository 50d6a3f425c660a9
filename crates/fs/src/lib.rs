//! A local directory as a bucket: Stowage's embedded default store.
//!
//! - Objects are plain files at `root/<key>`, so any tool can read them.
//! - Writes are atomic: the object and its sidecar are written to temporary files under
//!   `root/.stowage/tmp/<store>/` and fsynced, then the sidecar is renamed into place, then
//!   the object, then both directories are fsynced. Nothing appears at a key until it is
//!   complete: a failed or cancelled put removes its temporary files and anything it had
//!   already put in place, so the key holds the previous object or nothing (never a short
//!   or empty file); a crash between the two renames leaves a sidecar that does not match
//!   its object, which `head` ignores (see below). A put never creates directories it then
//!   leaves empty.
//! - When the caller passes [`PutOptions::checksums`], the bytes written are checked against
//!   them before anything is put in place (a server's BadDigest): a mismatch is
//!   [`ErrorKind::ChecksumMismatch`], or [`ErrorKind::LocalFileChanged`] naming the file for
//!   a [`PutBody::File`] (it changed since it was hashed).
//! - Files are copied with the kernel's copy (`copy_file_range`: a reflink where the
//!   filesystem shares extents, an in-kernel copy elsewhere, read/write where neither
//!   works), then read back to be hashed, so the checksums describe the bytes kept.
//! - The store keeps [`KEPT`] (both CRC-64s: nearly free, always computed by callers, what
//!   proofs compare) in a sidecar `root/.stowage/meta/<key>.json`, returned by `head` while
//!   the file's size and mtime still match it (an object without a matching sidecar is
//!   served without checksums, its content type from its extension). Other digests (MD5,
//!   SHA-1, SHA-256, qetag) are not computed for objects; a part's ETag is its MD5.
//! - Temporary files of dead writers are swept by a store's first write (`atomic.rs`: each
//!   open store has a scratch directory with a lock file; unlocked ones are removed).
//! - Every local I/O error goes through [`Error::local_io`]; a full filesystem is
//!   [`ErrorKind::DiskFull`], named as the bucket's.
//! - Multipart uploads live in `root/.stowage/uploads/<id>/` until completed or aborted.
//! - Keys cannot escape the root: `..`, `.`, empty segments, absolute keys and NUL are
//!   invalid input, and a `.stowage` path segment is reserved (so a bucket copied into a
//!   sub-directory of another never shows its state as objects).

mod atomic;
mod keys;
mod multipart;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stowage_core::checksum::Hasher;
use stowage_core::fsutil::mtime_ns;
use stowage_core::{
    Capabilities, ChecksumAlgo, Checksums, Error, ErrorKind, GetResult, ListPage, ListRequest,
    MultipartUpload, ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, Result,
};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::atomic::{
    DirSyncs, Scratch, TempFile, blocking, create_dirs, finish, finish_blocking, io_err,
    remove_dirs,
};

pub use keys::validate_key;

/// Name of the directory (under the root) holding Stowage's own state.
pub use stowage_core::fsutil::STATE_DIR as INTERNAL_DIR;
/// The directory of stored checksums inside [`INTERNAL_DIR`]; made by a bucket's first write,
/// it tells a directory bucket's root from a recording spool (whose `.stowage/` holds
/// journals only).
pub const META_DIR: &str = "meta";
const LIST_PAGE_MAX: usize = 1000;
const READ_CHUNK: usize = 256 * 1024;

/// What the store keeps of every object and checks a caller's checksums against: both
/// CRC-64s. Callers compute them anyway (they are nearly free), and they are what a proof
/// of landing and `stowage verify` compare.
pub const KEPT: [ChecksumAlgo; 2] = [ChecksumAlgo::Crc64Ecma, ChecksumAlgo::Crc64Nvme];

/// What a put computes: [`KEPT`], plus, for a caller whose checksums include neither
/// CRC-64, the ones it gave, so that they are still checked (they are not kept).
fn put_algos(given: Option<&Checksums>) -> Vec<ChecksumAlgo> {
    let mut algos = KEPT.to_vec();
    if let Some(g) = given
        && KEPT.iter().all(|a| g.get(*a).is_none())
    {
        algos.extend(
            ChecksumAlgo::ALL
                .into_iter()
                .filter(|a| g.get(*a).is_some()),
        );
    }
    algos
}

/// Only what the store keeps of `sums`.
fn kept(sums: &Checksums) -> Checksums {
    Checksums {
        crc64ecma: sums.crc64ecma,
        crc64nvme: sums.crc64nvme,
        ..Default::default()
    }
}

/// An object's ETag: its CRC-64/NVME in hex (16 characters, so never taken for an MD5).
fn etag_of(sums: &Checksums) -> String {
    sums.crc64nvme
        .map(|c| format!("{c:016x}"))
        .unwrap_or_default()
}

/// A directory used as a bucket.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    /// This store's locked scratch directory, made (after a sweep) by the first write.
    scratch: Arc<tokio::sync::OnceCell<Scratch>>,
    /// Directory fsyncs shared by concurrent puts.
    dir_syncs: Arc<DirSyncs>,
}

/// A body written to a temporary file: its size, checksums and metadata (size and mtime,
/// which the rename into place keeps).
struct Written {
    size: u64,
    sums: Checksums,
    stat: std::fs::Metadata,
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
            .map_err(|e| io_err(&root, &root, e))?;
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
        Ok(FsStore {
            root,
            scratch: Arc::default(),
            dir_syncs: Arc::default(),
        })
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

    /// A local I/O error on `path` inside this bucket (see [`atomic::io_err`]).
    pub(crate) fn io_err(&self, path: &Path, e: std::io::Error) -> Error {
        io_err(&self.root, path, e)
    }

    /// A fresh temporary file in this store's scratch directory (same filesystem as every
    /// key, so renames are atomic). The first call sweeps what dead writers left.
    pub(crate) async fn temp_file(&self) -> Result<TempFile> {
        let scratch = self
            .scratch
            .get_or_try_init(|| async {
                let root = self.root.clone();
                tokio::task::spawn_blocking(move || Scratch::open(&root))
                    .await
                    .map_err(|e| Error::new(ErrorKind::LocalIo, format!("scratch task: {e}")))?
            })
            .await?;
        Ok(scratch.temp_file())
    }

    /// Writes `body` to a new temporary file, fsyncs it, checks that it holds every byte,
    /// and computes `algos` over what it holds.
    pub(crate) async fn write_body(
        &self,
        body: PutBody,
        algos: &[ChecksumAlgo],
    ) -> Result<(TempFile, Written)> {
        let tmp = self.temp_file().await?;
        let (root, dst, algos) = (self.root.clone(), tmp.path().to_path_buf(), algos.to_vec());
        let written = match body {
            PutBody::Bytes(b) => blocking(move || write_bytes(&root, &b, &dst, &algos)).await?,
            PutBody::File { path, offset, len } => {
                blocking(move || copy_file(&root, &path, offset, len, &dst, &algos)).await?
            }
            PutBody::Stream { stream, len } => self.write_stream(stream, len, &tmp, &algos).await?,
        };
        Ok((tmp, written))
    }

    /// A stream body, hashed as it is written.
    async fn write_stream(
        &self,
        mut stream: futures::stream::BoxStream<'static, std::io::Result<Bytes>>,
        expected: u64,
        tmp: &TempFile,
        algos: &[ChecksumAlgo],
    ) -> Result<Written> {
        let io = |e| self.io_err(tmp.path(), e);
        let mut out = tmp.create().await.map_err(io)?;
        let mut hasher = Hasher::new(algos);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Error::invalid_input(format!(
                    "the body stream failed after {} bytes: {e}",
                    hasher.len()
                ))
                .with_retryable(true)
            })?;
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(io)?;
        }
        if hasher.len() != expected {
            return Err(Error::invalid_input(format!(
                "the body had {} bytes but {expected} were declared",
                hasher.len()
            )));
        }
        let stat = finish(&self.root, out, tmp.path(), hasher.len()).await?;
        Ok(Written {
            size: hasher.len(),
            sums: hasher.finish(),
            stat,
        })
    }

    /// Puts a complete temporary file in place at `key` with its sidecar.
    ///
    /// Order: the sidecar is written to a temporary file and fsynced; the missing
    /// directories are made; the sidecar is renamed into place, then the object; both
    /// directories are fsynced. Each step that fails undoes the ones before it: the
    /// temporary files are removed (by [`TempFile`]'s drop), a sidecar already in place is
    /// removed, an object already in place is removed, directories made are removed. So a
    /// failed put leaves no new file at the key: the previous object stays if the failure
    /// came before its replacement (its own sidecar only if the failure came before the
    /// sidecar's rename; otherwise it is served without checksums), or nothing after.
    /// A crash between the renames leaves the old object with the new sidecar, which does
    /// not match its size and mtime and so is ignored by `head`.
    pub(crate) async fn publish(
        &self,
        key: &str,
        mut tmp: TempFile,
        written: Written,
        opts: &PutOptions,
    ) -> Result<ObjectMeta> {
        let target = self.object_path(key);
        let sidecar_path = self.sidecar_path(key);
        let sidecar = Sidecar {
            size: written.size,
            mtime_ns: mtime_ns(&written.stat),
            etag: etag_of(&written.sums),
            content_type: opts.content_type_for(key),
            checksums: kept(&written.sums),
            metadata: opts.metadata.clone(),
        };
        let json = serde_json::to_vec(&sidecar).map_err(|e| {
            Error::new(
                ErrorKind::LocalIo,
                format!("encoding the sidecar of `{key}`: {e}"),
            )
        })?;
        let mut side_tmp = self.temp_file().await.map_err(|e| e.or_key(key))?;
        atomic::write_small(&self.root, &side_tmp, &json)
            .await
            .map_err(|e| e.or_key(key))?;

        let mut made = Vec::new();
        let result = self
            .place(
                key,
                &mut tmp,
                &target,
                &mut side_tmp,
                &sidecar_path,
                &mut made,
            )
            .await;
        if result.is_err() {
            remove_dirs(&made).await;
        }
        result.map_err(|e| e.or_key(key))?;
        Ok(meta_from(key, &written.stat, Some(sidecar)))
    }

    /// The renames of [`FsStore::publish`], undone on failure (but for directories made).
    async fn place(
        &self,
        key: &str,
        tmp: &mut TempFile,
        target: &Path,
        side_tmp: &mut TempFile,
        sidecar_path: &Path,
        made: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        let side_parent = sidecar_path.parent().unwrap_or(&self.root).to_path_buf();
        // A concurrent delete may prune a directory just made: make it again, a few times.
        let mut attempts = 0;
        loop {
            attempts += 1;
            create_dirs(&self.root, &side_parent, made)
                .await
                .map_err(|e| self.io_err(&side_parent, e))?;
            if let Err(e) = side_tmp.rename_to(sidecar_path).await {
                if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 {
                    continue;
                }
                return Err(self.io_err(sidecar_path, e));
            }
            break;
        }
        let undo_sidecar = || async {
            let _ = tokio::fs::remove_file(sidecar_path).await;
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            if let Err(e) = create_dirs(&self.root, &parent, made).await {
                undo_sidecar().await;
                return Err(place_err(self, key, &parent, e));
            }
            match tmp.rename_to(target).await {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => continue,
                Err(e) => {
                    undo_sidecar().await;
                    return Err(place_err(self, key, target, e));
                }
            }
        }
        let synced = match self.dir_syncs.sync(&self.root, &side_parent).await {
            Ok(()) => self.dir_syncs.sync(&self.root, &parent).await,
            Err(e) => Err(e),
        };
        if let Err(e) = synced {
            // Not durable, so not landed: take both back rather than report a failure
            // that left a new file at the key.
            let _ = tokio::fs::remove_file(target).await;
            undo_sidecar().await;
            return Err(e);
        }
        Ok(())
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

/// Writes `bytes` to the new file `dst` durably; hashes them.
fn write_bytes(root: &Path, bytes: &[u8], dst: &Path, algos: &[ChecksumAlgo]) -> Result<Written> {
    use std::io::Write;
    let mut out = TempFile::create_blocking(dst).map_err(|e| io_err(root, dst, e))?;
    out.write_all(bytes).map_err(|e| io_err(root, dst, e))?;
    let stat = finish_blocking(root, &out, dst, bytes.len() as u64)?;
    Ok(Written {
        size: bytes.len() as u64,
        sums: stowage_core::checksum::checksum_bytes(bytes, algos),
        stat,
    })
}

/// Copies `len` bytes of `src` from `offset` into the new file `dst` with the kernel's copy
/// (std's `io::copy` between files is `copy_file_range` on Linux: a reflink where the
/// filesystem shares extents, an in-kernel copy elsewhere, read/write where it is refused),
/// fsyncs it, then reads `dst` back to hash it: the checksums describe the bytes kept.
fn copy_file(
    root: &Path,
    src: &Path,
    offset: u64,
    len: u64,
    dst: &Path,
    algos: &[ChecksumAlgo],
) -> Result<Written> {
    use std::io::{Read, Seek, SeekFrom};
    let io_src = |e| Error::local_io(src, e);
    let mut from = std::fs::File::open(src).map_err(io_src)?;
    from.seek(SeekFrom::Start(offset)).map_err(io_src)?;
    let mut out = TempFile::create_blocking(dst).map_err(|e| io_err(root, dst, e))?;
    let copied = std::io::copy(&mut from.take(len), &mut out).map_err(|e| io_err(root, dst, e))?;
    if copied != len {
        return Err(Error::invalid_input(format!(
            "{} has {copied} bytes from offset {offset}, not the {len} declared: it changed \
             since the upload was planned",
            src.display()
        )));
    }
    let stat = finish_blocking(root, &out, dst, len)?;
    let (hashed, sums) =
        stowage_core::checksum::checksum_file_range_blocking(dst, 0, Some(len), algos)?;
    Ok(Written {
        size: hashed,
        sums,
        stat,
    })
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

/// An error putting `key`'s object (or its directories) in place at `path`: a path that is
/// another object or a directory of objects is a key conflict, anything else an I/O error.
fn place_err(store: &FsStore, key: &str, path: &Path, e: std::io::Error) -> Error {
    use std::io::ErrorKind as Io;
    match e.kind() {
        Io::NotADirectory | Io::IsADirectory | Io::DirectoryNotEmpty | Io::AlreadyExists => {
            key_conflict(key, e)
        }
        _ => store.io_err(path, e).with_key(key),
    }
}

/// The caller's checksums against the bytes written: a server's BadDigest. For a file body
/// the file changed since it was hashed (named); otherwise the bytes received are not
/// the ones described.
fn check_given(given: &Checksums, written: &Checksums, source: Option<&Path>) -> Result<()> {
    let Err(e) = given.verify(written) else {
        return Ok(());
    };
    Err(match source {
        Some(path) => Error::new(
            ErrorKind::LocalFileChanged,
            format!(
                "{} changed since it was hashed, nothing was stored: {}",
                path.display(),
                e.message()
            ),
        ),
        None => Error::new(
            ErrorKind::ChecksumMismatch,
            format!(
                "the bytes received differ from the checksums given, nothing was stored: {}",
                e.message()
            ),
        ),
    })
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

/// A stream of `len` bytes of `file` (at `path`) from its current position.
fn file_stream(
    file: tokio::fs::File,
    len: u64,
    key: String,
    path: PathBuf,
) -> futures::stream::BoxStream<'static, Result<Bytes>> {
    futures::stream::unfold(
        (file.take(len), key, path),
        |(mut r, key, path)| async move {
            let mut buf = vec![0u8; READ_CHUNK];
            match r.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (r, key, path)))
                }
                Err(e) => Some((
                    Err(Error::local_io(&path, e).with_key(&key)),
                    (r, key, path),
                )),
            }
        },
    )
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
            verified_on_upload: KEPT.to_vec(),
            returned_by_head: KEPT.to_vec(),
            part_etag_is_md5: true,
            signed_urls: false,
            copies_files: true,
        }
    }

    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        validate_key(key)?;
        self.ensure_bucket().await.map_err(|e| e.with_key(key))?;
        let source = match &body {
            PutBody::File { path, .. } => Some(path.clone()),
            _ => None,
        };
        let algos = put_algos(opts.checksums.as_ref());
        let (tmp, written) = self
            .write_body(body, &algos)
            .await
            .map_err(|e| e.or_key(key))?;
        if let Some(given) = &opts.checksums {
            // `tmp` is removed when dropped on the way out.
            check_given(given, &written.sums, source.as_deref()).map_err(|e| e.with_key(key))?;
        }
        self.publish(key, tmp, written, opts).await
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
        let body = file_stream(file, range.end - range.start, key.to_string(), path.clone());
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
