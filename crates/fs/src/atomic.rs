//! Writing so that nothing appears at a final path until it is complete: temporary files
//! that remove themselves unless renamed into place, a scratch directory per open store,
//! and the sweep of what dead writers left behind.
//!
//! Layout of `root/.stowage/tmp/`:
//!
//! - `<pid>-<uuid>.lock`, held with an exclusive `flock` for as long as the store that made
//!   it is open (the kernel drops it when the process dies, even on `kill -9`);
//! - `<pid>-<uuid>/`, that store's temporary files, removed with the lock when the last
//!   clone of the store is dropped.
//!
//! The sweep (on a store's first write) removes a directory whose lock file no one holds,
//! or that has no lock file, and a lock file no one holds. It never guesses from ages what
//! a lock can tell, so a slow upload in another process is never swept. Files lying directly
//! in `tmp/` come from versions before the lock (or from other tools): they are removed
//! once unmodified for [`LOOSE_MAX_AGE`], since such a writer may still be running. On a
//! filesystem without `flock`, directories fall back to that same age rule.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use stowage_core::{Error, ErrorKind, Result};
use tokio::io::AsyncWriteExt;

/// The temporary directory inside [`crate::INTERNAL_DIR`].
pub(crate) const TMP_DIR: &str = "tmp";

/// How long a loose temporary file (no lock tells whether its writer lives) must have been
/// left unmodified before the sweep removes it.
pub(crate) const LOOSE_MAX_AGE: Duration = Duration::from_secs(3600);

/// A multipart upload directory without a readable `upload.json` (an older version's
/// damage, or a creation that died) is removed once this old.
pub(crate) const BROKEN_UPLOAD_MAX_AGE: Duration = LOOSE_MAX_AGE;

/// A local I/O error on `path` inside the bucket at `root`: classified by
/// [`Error::local_io`], and a full filesystem named as the bucket's, with the fix.
pub(crate) fn io_err(root: &Path, path: &Path, e: std::io::Error) -> Error {
    let err = Error::local_io(path, e);
    if err.kind() != &ErrorKind::DiskFull {
        return err;
    }
    let cause = std::error::Error::source(&err)
        .map(|s| s.to_string())
        .unwrap_or_default();
    Error::new(
        ErrorKind::DiskFull,
        format!(
            "the bucket's filesystem is full ({}): free space or use another bucket \
             (writing {}: {cause})",
            root.display(),
            path.display()
        ),
    )
    .with_source(err)
}

/// A temporary file that is removed when dropped unless it was renamed into place: every
/// error path, and a cancelled future, cleans up after itself.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    placed: bool,
}

impl TempFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the file (and, should someone have removed it, its directory again).
    pub(crate) async fn create(&self) -> std::io::Result<tokio::fs::File> {
        match tokio::fs::File::create(&self.path).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = self.path.parent() {
                    tokio::fs::create_dir_all(dir).await?;
                }
                tokio::fs::File::create(&self.path).await
            }
            other => other,
        }
    }

    /// [`TempFile::create`] for blocking code (std's files report a failed write at once).
    pub(crate) fn create_blocking(path: &Path) -> std::io::Result<std::fs::File> {
        match std::fs::File::create(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::File::create(path)
            }
            other => other,
        }
    }

    /// Renames the file to `dest` (same filesystem, so atomically). On failure the file is
    /// still removed when `self` is dropped.
    pub(crate) async fn rename_to(&mut self, dest: &Path) -> std::io::Result<()> {
        tokio::fs::rename(&self.path, dest).await?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Makes everything written to `out` durable and checks the file holds `len` bytes; returns
/// its metadata (size and mtime, which a rename keeps).
///
/// tokio's `File` writes in the background: `write_all` returns once the bytes are handed
/// over, and `sync_all` drops the error of a write still in flight (it keeps only its kind,
/// for the next write that never comes). A full disk then left a short or empty file that
/// looked written. `flush` returns that error, so it comes first; the size check is a second
/// guard.
pub(crate) async fn finish(
    root: &Path,
    mut out: tokio::fs::File,
    path: &Path,
    len: u64,
) -> Result<std::fs::Metadata> {
    let io = |e| io_err(root, path, e);
    out.flush().await.map_err(io)?;
    out.sync_all().await.map_err(io)?;
    let stat = out.metadata().await.map_err(io)?;
    if stat.len() != len {
        return Err(Error::new(
            ErrorKind::LocalIo,
            format!(
                "{} holds {} bytes after {len} were written to it",
                path.display(),
                stat.len()
            ),
        ));
    }
    Ok(stat)
}

/// [`finish`] for a std file written by blocking code, whose writes report their errors
/// at once: fsync, then the size check.
pub(crate) fn finish_blocking(
    root: &Path,
    out: &std::fs::File,
    path: &Path,
    len: u64,
) -> Result<std::fs::Metadata> {
    let io = |e| io_err(root, path, e);
    out.sync_all().map_err(io)?;
    let stat = out.metadata().map_err(io)?;
    if stat.len() != len {
        return Err(Error::new(
            ErrorKind::LocalIo,
            format!(
                "{} holds {} bytes after {len} were written to it",
                path.display(),
                stat.len()
            ),
        ));
    }
    Ok(stat)
}

/// Writes `bytes` to `tmp` durably (small files: sidecars and records), in one blocking task.
pub(crate) async fn write_small(root: &Path, tmp: &TempFile, bytes: &[u8]) -> Result<()> {
    let (root, path, bytes) = (root.to_path_buf(), tmp.path().to_path_buf(), bytes.to_vec());
    blocking(move || {
        use std::io::Write;
        let io = |e| io_err(&root, &path, e);
        let mut out = TempFile::create_blocking(&path).map_err(io)?;
        out.write_all(&bytes).map_err(io)?;
        finish_blocking(&root, &out, &path, bytes.len() as u64)?;
        Ok(())
    })
    .await
}

/// Runs blocking file work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorKind::LocalIo, format!("file task failed: {e}")))?
}

/// Directory fsyncs shared by concurrent writers: a rename into a directory is durable once
/// an fsync of the directory that *started after* it has finished, so writers that renamed
/// into one directory while another's fsync ran wait for the next one and share it (one
/// fsync for a burst of puts, instead of one each).
#[derive(Debug, Default)]
pub(crate) struct DirSyncs {
    dirs: std::sync::Mutex<HashMap<PathBuf, Arc<DirSync>>>,
}

#[derive(Debug, Default)]
struct DirSync {
    /// Renames announced so far (each after its rename returned).
    announced: AtomicU64,
    /// One fsync at a time; holds how many announced renames are durable.
    durable: tokio::sync::Mutex<u64>,
}

impl DirSyncs {
    /// Makes the renames into `dir` that returned before this call durable.
    pub(crate) async fn sync(&self, root: &Path, dir: &Path) -> Result<()> {
        let state = self
            .dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(dir.to_path_buf())
            .or_default()
            .clone();
        let mine = state.announced.fetch_add(1, Ordering::SeqCst) + 1;
        let mut durable = state.durable.lock().await;
        if *durable >= mine {
            return Ok(()); // an fsync that started after this rename has finished
        }
        let covered = state.announced.load(Ordering::SeqCst);
        sync_dir(root, dir).await?;
        *durable = covered;
        Ok(())
    }
}

/// Makes renames inside `dir` durable.
pub(crate) async fn sync_dir(root: &Path, dir: &Path) -> Result<()> {
    let d = dir.to_path_buf();
    tokio::task::spawn_blocking(move || stowage_core::fsutil::sync_dir(&d))
        .await
        .map_err(|e| Error::new(ErrorKind::LocalIo, format!("fsync task failed: {e}")))?
        .map_err(|e| io_err(root, dir, e))
}

/// Creates `dir` and its missing parents, pushing each directory it created onto `made`
/// (so a failed write can remove exactly those again). Stops at `root`.
pub(crate) async fn create_dirs(
    root: &Path,
    dir: &Path,
    made: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut d = dir.to_path_buf();
    while d != root && d.starts_with(root) {
        match tokio::fs::metadata(&d).await {
            Ok(m) if m.is_dir() => break,
            Ok(_) => return Err(std::io::ErrorKind::NotADirectory.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.push(d.clone());
                d.pop();
            }
            Err(e) => return Err(e),
        }
    }
    for d in missing.into_iter().rev() {
        match tokio::fs::create_dir(&d).await {
            Ok(()) => made.push(d),
            // Made by a concurrent write meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Removes the directories [`create_dirs`] made, deepest first, while they are empty.
pub(crate) async fn remove_dirs(made: &[PathBuf]) {
    for d in made.iter().rev() {
        let _ = tokio::fs::remove_dir(d).await;
    }
}

/// One open store's scratch directory under `.stowage/tmp`, with the lock that tells other
/// processes it is in use. Dropped with the last clone of the store: both are removed.
#[derive(Debug)]
pub(crate) struct Scratch {
    dir: PathBuf,
    lock_path: PathBuf,
    /// Held open (and so locked) for the life of the store.
    _lock: std::fs::File,
}

impl Scratch {
    /// Sweeps `root/.stowage/tmp` (and broken multipart uploads), then makes this store's
    /// own locked directory there. Blocking.
    pub(crate) fn open(root: &Path) -> Result<Scratch> {
        let tmp = root.join(crate::INTERNAL_DIR).join(TMP_DIR);
        let io = |p: &Path, e| io_err(root, p, e);
        std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        sweep(&tmp);
        sweep_broken_uploads(&root.join(crate::INTERNAL_DIR).join("uploads"));
        for _ in 0..8 {
            let id = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
            let lock_path = tmp.join(format!("{id}.lock"));
            let lock = std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(&lock_path)
                .map_err(|e| io(&lock_path, e))?;
            match lock.try_lock() {
                Ok(()) => {}
                // A sweep in another process took it between our create and lock; it
                // removes the file, and we start over under another name.
                Err(std::fs::TryLockError::WouldBlock) => continue,
                // No flock here: the directory is protected by the age rule only.
                Err(std::fs::TryLockError::Error(e)) => {
                    tracing::debug!(path = %lock_path.display(), "no file locks: {e}");
                }
            }
            if !same_file(&lock, &lock_path) {
                continue; // swept (unlinked) before we locked it
            }
            let dir = tmp.join(&id);
            if let Err(e) = std::fs::create_dir(&dir) {
                let _ = std::fs::remove_file(&lock_path);
                return Err(io(&dir, e));
            }
            return Ok(Scratch {
                dir,
                lock_path,
                _lock: lock,
            });
        }
        Err(Error::new(
            ErrorKind::LocalIo,
            format!(
                "could not make a locked scratch directory in {}",
                tmp.display()
            ),
        ))
    }

    /// A fresh temporary file name in this store's directory.
    pub(crate) fn temp_file(&self) -> TempFile {
        TempFile {
            path: self.dir.join(uuid::Uuid::new_v4().simple().to_string()),
            placed: false,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // The directory first, then the lock: a lock file without a directory is harmless,
        // a directory without its lock is swept as dead.
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Whether the open file `f` is still the file at `path` (not unlinked or replaced).
fn same_file(f: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (f.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = f;
        path.exists()
    }
}

fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|d| d > age)
}

/// What a lock file says about its writer.
enum Owner {
    /// The lock is held: a live store.
    Alive,
    /// Nobody holds it; the returned handle holds it now, until dropped.
    Dead(std::fs::File),
    /// The file does not exist.
    Missing,
    /// The filesystem cannot tell (no `flock`, or the file cannot be opened).
    Unknown,
}

fn owner(lock_path: &Path) -> Owner {
    let f = match std::fs::File::options().write(true).open(lock_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Owner::Missing,
        Err(_) => return Owner::Unknown,
    };
    match f.try_lock() {
        Ok(()) => Owner::Dead(f),
        Err(std::fs::TryLockError::WouldBlock) => Owner::Alive,
        Err(std::fs::TryLockError::Error(_)) => Owner::Unknown,
    }
}

/// Removes what dead writers left in `tmp` (see the module documentation). Best effort:
/// anything it cannot remove stays for a later sweep.
fn sweep(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    let mut removed = 0usize;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            let lock_path = tmp.join(format!("{name}.lock"));
            let gone = match owner(&lock_path) {
                Owner::Alive => false,
                Owner::Dead(held) => {
                    let ok = std::fs::remove_dir_all(&path).is_ok();
                    let _ = std::fs::remove_file(&lock_path);
                    drop(held);
                    ok
                }
                // The owner makes its lock before its directory and removes it after, so
                // a directory without one is dead.
                Owner::Missing => std::fs::remove_dir_all(&path).is_ok(),
                Owner::Unknown => {
                    older_than(&path, LOOSE_MAX_AGE) && std::fs::remove_dir_all(&path).is_ok()
                }
            };
            removed += usize::from(gone);
        } else if let Some(stem) = name.strip_suffix(".lock") {
            if tmp.join(stem).is_dir() {
                continue; // handled with its directory
            }
            if let Owner::Dead(held) = owner(&path) {
                // Unlink while holding it: a store that made it and has not locked it yet
                // sees it gone and picks another name.
                let _ = std::fs::remove_file(&path);
                drop(held);
            }
        } else if older_than(&path, LOOSE_MAX_AGE) && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(dir = %tmp.display(), removed, "removed temporary files of dead writers");
    }
}

/// Removes multipart upload directories whose `upload.json` cannot be read (written in
/// place by older versions, so a full disk could leave it empty) once they are old enough
/// that no creation is still under way. Such uploads cannot be listed, completed or
/// aborted, and their parts hold space.
fn sweep_broken_uploads(uploads: &Path) {
    let Ok(entries) = std::fs::read_dir(uploads) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let readable = std::fs::read(dir.join("upload.json"))
            .ok()
            .is_some_and(|b| crate::multipart::is_upload_record(&b));
        if !readable && dir.is_dir() && older_than(&dir, BROKEN_UPLOAD_MAX_AGE) {
            tracing::warn!(dir = %dir.display(), "removing a multipart upload whose record is unreadable");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
