//! One uploader per spool: an advisory lock (`flock`, through std's `File::try_lock`) on
//! `<spool>/.stowage/upload.lock`, held by a run from before its journal is opened until the
//! run (an upload, a restore, a live `Session` or `watch`) is dropped.
//!
//! The lock covers the whole spool, not one destination: runs to two buckets would share
//! the spool's files (`delete_after_verify` in one deletes what the other has still to send),
//! its local manifest and its restore staging directory. Destinations are still journaled
//! apart, so they can be uploaded one after the other.
//!
//! A second run does not wait: it fails at once with [`ErrorKind::Journal`] naming the
//! holder's pid (written into the lock file) and the lock's path. The kernel releases the
//! lock when the holder exits, `kill -9` included, so a stale lock file is harmless.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use stowage_core::{Error, ErrorKind, Result};

use crate::plan::STATE_DIR;

/// The lock file's name in the spool's state directory.
pub(crate) const LOCK_NAME: &str = "upload.lock";

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub(crate) struct SpoolLock {
    file: File,
    path: PathBuf,
}

impl SpoolLock {
    /// Takes the lock of the spool `dir`, or fails at once if another run holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<SpoolLock> {
        let state = dir.join(STATE_DIR);
        std::fs::create_dir_all(&state).map_err(|e| Error::local_io(&state, e))?;
        let path = state.join(LOCK_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false) // the holder's pid stays readable until we hold the lock
            .open(&path)
            .map_err(|e| Error::local_io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(held_error(&path)),
            Err(TryLockError::Error(e)) => {
                return Err(Error::new(
                    ErrorKind::LocalIo,
                    format!(
                        "cannot lock {}: {e} (its filesystem may not support file locks; keep the recording on a local disk)",
                        path.display()
                    ),
                )
                .with_source(e));
            }
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(|e| Error::local_io(&path, e))?;
        Ok(SpoolLock { file, path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpoolLock {
    fn drop(&mut self) {
        // Still held here, so no other run's pid is erased; closing the file unlocks.
        let _ = self.file.set_len(0);
    }
}

/// The pid in a held lock file. The holder writes it just after locking, so an empty file
/// is read again for a moment.
fn holder(path: &Path) -> Option<u32> {
    for _ in 0..10 {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn held_error(path: &Path) -> Error {
    let by = match holder(path) {
        Some(pid) => format!("pid {pid}"),
        None => "another process".to_string(),
    };
    Error::new(
        ErrorKind::Journal,
        format!(
            "this recording is already being uploaded by {by} (lock {}): wait for it to finish, or stop it",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let spool = tempfile::tempdir().unwrap();
        let first = SpoolLock::acquire(spool.path()).unwrap();
        let path = spool.path().join(".stowage").join(LOCK_NAME);
        assert_eq!(first.path(), path);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        let refused = SpoolLock::acquire(spool.path()).unwrap_err();
        assert_eq!(refused.kind(), &ErrorKind::Journal);
        let msg = refused.to_string();
        assert!(
            msg.contains(&format!(
                "already being uploaded by pid {} (lock {})",
                std::process::id(),
                path.display()
            )),
            "{msg}"
        );
        assert!(msg.contains("wait for it to finish, or stop it"), "{msg}");
        assert!(!refused.is_retryable());
        // The refused attempt did not disturb the holder's pid.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(first);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        let again = SpoolLock::acquire(spool.path()).unwrap();
        drop(again);
    }

    #[test]
    fn the_pid_named_is_the_one_in_the_lock_file() {
        let spool = tempfile::tempdir().unwrap();
        let held = SpoolLock::acquire(spool.path()).unwrap();
        std::fs::write(held.path(), "4242\n").unwrap(); // as another process would have
        let msg = SpoolLock::acquire(spool.path()).unwrap_err().to_string();
        assert!(msg.contains("already being uploaded by pid 4242 "), "{msg}");
        std::fs::write(held.path(), "").unwrap(); // a holder that has not written it yet
        let msg = SpoolLock::acquire(spool.path()).unwrap_err().to_string();
        assert!(
            msg.contains("already being uploaded by another process (lock "),
            "{msg}"
        );
    }

    #[test]
    fn a_stale_lock_file_without_a_holder_is_taken() {
        let spool = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(spool.path().join(".stowage")).unwrap();
        let path = spool.path().join(".stowage").join(LOCK_NAME);
        std::fs::write(&path, "999999\n").unwrap(); // a holder that was killed
        let lock = SpoolLock::acquire(spool.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(lock);
    }
}
