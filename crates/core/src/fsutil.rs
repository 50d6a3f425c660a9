//! Small local-file helpers shared by the local store and downloads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique hidden temporary name next to `path` (same directory, so a rename is atomic).
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.stowage-tmp-{}-{n}", std::process::id()))
}

/// Makes a rename inside `dir` durable (fsync of the directory entry).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The directory Stowage keeps its own state in, inside a bucket root or a recording spool
/// (sidecars, journal, manifest). Never part of a recording, never an object.
pub const STATE_DIR: &str = ".stowage";

/// A regular file of a local directory tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub path: PathBuf,
    /// Path relative to the root, `/`-separated.
    pub rel: String,
    pub size: u64,
    pub mtime_ns: i64,
}

impl LocalFile {
    /// Stats `path`, which must lie inside `root`.
    pub fn stat(root: &Path, path: &Path) -> crate::Result<Self> {
        let rel = relative(root, path).ok_or_else(|| {
            crate::Error::invalid_input(format!(
                "{} is not inside {}",
                path.display(),
                root.display()
            ))
        })?;
        let meta = std::fs::metadata(path).map_err(|e| crate::Error::local_io(path, e))?;
        Ok(LocalFile {
            path: path.to_path_buf(),
            rel,
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
        })
    }

    /// An HLS playlist, by its extension.
    pub fn is_playlist(&self) -> bool {
        self.rel.to_ascii_lowercase().ends_with(".m3u8")
    }
}

/// Modification time in nanoseconds since the Unix epoch (0 when unknown).
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Every regular file under `root`, sorted by relative path, skipping [`STATE_DIR`]
/// directories and names that are not UTF-8.
pub fn local_files(root: &Path) -> crate::Result<Vec<LocalFile>> {
    let io = |p: &Path, e| crate::Error::local_io(p, e);
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let path = entry.path();
            if entry.file_name() == STATE_DIR {
                continue;
            }
            let meta = entry.metadata().map_err(|e| io(&path, e))?;
            if meta.is_dir() {
                stack.push(path);
            } else if let (true, Some(rel)) = (meta.is_file(), relative(root, &path)) {
                out.push(LocalFile {
                    path,
                    rel,
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// `path` relative to `root`, `/`-separated; `None` outside `root` or for non-UTF-8 names.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = path
        .strip_prefix(root)
        .ok()?
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_skip_state_and_are_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/.stowage")).unwrap();
        std::fs::create_dir_all(dir.path().join(".stowage")).unwrap();
        for f in ["b/2.ts", "a.m3u8", ".stowage/journal", "b/.stowage/x"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let files = local_files(dir.path()).unwrap();
        assert_eq!(
            files.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>(),
            ["a.m3u8", "b/2.ts"]
        );
        assert!(files[0].is_playlist() && !files[1].is_playlist());
        assert_eq!(
            LocalFile::stat(dir.path(), &dir.path().join("b/2.ts")).unwrap(),
            files[1]
        );
        assert!(LocalFile::stat(dir.path(), Path::new("/etc/hostname")).is_err());
    }
}
