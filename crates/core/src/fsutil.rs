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

/// Replaces `path` with `bytes` atomically: a temporary sibling, synced, then renamed, so a
/// full disk or a crash leaves the old file or the new one, never a short one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> crate::Result<()> {
    use std::io::Write;
    let tmp = temp_sibling(path);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        crate::Error::local_io(path, e)
    })
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
/// directories and names that are not UTF-8 (see [`scan_files`] for what is skipped).
pub fn local_files(root: &Path) -> crate::Result<Vec<LocalFile>> {
    scan_files(root).map(|scan| scan.files)
}

/// A directory tree's files, and what was left out with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub files: Vec<LocalFile>,
    /// `(relative path, why it is not among the files)`.
    pub skipped: Vec<(String, String)>,
}

/// Every regular file under `root`, sorted by relative path, skipping [`STATE_DIR`]
/// directories. A symbolic link is followed when it points at a regular file inside `root`
/// (the file is listed under the link's name); any other link, and any name that is not
/// UTF-8, is listed in [`Scan::skipped`] with the reason.
pub fn scan_files(root: &Path) -> crate::Result<Scan> {
    let io = |p: &Path, e| crate::Error::local_io(p, e);
    let real_root = std::fs::canonicalize(root).map_err(|e| io(root, e))?;
    let mut scan = Scan::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            // A subdirectory removed since it was listed holds nothing left to send.
            Err(e) if dir != root && e.kind() == std::io::ErrorKind::NotFound => continue,
            other => other.map_err(|e| io(&dir, e))?,
        };
        for entry in entries {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let path = entry.path();
            if entry.file_name() == STATE_DIR {
                continue;
            }
            let Some(rel) = relative(root, &path) else {
                let name = path.to_string_lossy().into_owned();
                scan.skipped.push((
                    name,
                    "its name is not UTF-8, which object keys must be".into(),
                ));
                continue;
            };
            let meta = match entry.metadata() {
                // Removed between the listing and the stat (a recorder's temporary file
                // renamed into place): it is not there to send.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                other => other.map_err(|e| io(&path, e))?,
            };
            let meta = if meta.file_type().is_symlink() {
                match followed(&real_root, &path) {
                    Ok(target) => target,
                    Err(why) => {
                        scan.skipped.push((rel, why));
                        continue;
                    }
                }
            } else {
                meta
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                scan.files.push(LocalFile {
                    path,
                    rel,
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                });
            }
        }
    }
    scan.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    scan.skipped.sort();
    Ok(scan)
}

/// The metadata of what the link at `link` points to, when that is a regular file inside
/// `real_root`; else why the link is not followed.
fn followed(real_root: &Path, link: &Path) -> Result<std::fs::Metadata, String> {
    let target = std::fs::canonicalize(link)
        .map_err(|e| format!("a symbolic link that cannot be followed ({e})"))?;
    if !target.starts_with(real_root) {
        return Err(format!(
            "a symbolic link to {}, outside the recording directory: copy the file in to upload it",
            target.display()
        ));
    }
    let meta = std::fs::metadata(&target)
        .map_err(|e| format!("a symbolic link whose target cannot be read ({e})"))?;
    if !meta.is_file() {
        return Err("a symbolic link to a directory, which is not followed".into());
    }
    Ok(meta)
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

    /// A recorder writes each playlist to a temporary name and renames it into place, and
    /// removes whole directories: a scan racing it sees names that are gone by the time it
    /// stats them, and must list what is there instead of failing.
    #[test]
    fn a_scan_racing_renames_and_removals_does_not_fail() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::write(root.join("kept.ts"), b"k").unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let (root, stop) = (root.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let tmp = root.join(format!(".p{}.m3u8.tmp", n % 8));
                    std::fs::write(&tmp, b"#EXTM3U").unwrap();
                    std::fs::rename(&tmp, root.join("p.m3u8")).unwrap();
                    let sub = root.join(format!("d{}", n % 4));
                    std::fs::create_dir_all(sub.join("e")).unwrap();
                    std::fs::write(sub.join("e/x.ts"), b"x").unwrap();
                    std::fs::remove_dir_all(&sub).unwrap();
                    n += 1;
                }
            })
        };
        let mut scans = 0;
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_millis(700) {
            let scan = scan_files(&root).unwrap_or_else(|e| panic!("scan {scans} failed: {e}"));
            assert!(scan.files.iter().any(|f| f.rel == "kept.ts"));
            scans += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        churn.join().unwrap();
        assert!(scans > 10, "only {scans} scans ran");
    }

    #[test]
    fn symlinks_inside_are_followed_and_others_named() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/real.ts"), b"12345").unwrap();
        std::fs::write(outside.path().join("secret.ts"), b"x").unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, dir.path().join(name)).unwrap()
        };
        link(&dir.path().join("sub/real.ts"), "inside.ts");
        link(&outside.path().join("secret.ts"), "outside.ts");
        link(&dir.path().join("nowhere.ts"), "dangling.ts");
        link(&dir.path().join("sub"), "dirlink");
        let scan = scan_files(dir.path()).unwrap();
        let files: Vec<(&str, u64)> = scan
            .files
            .iter()
            .map(|f| (f.rel.as_str(), f.size))
            .collect();
        assert_eq!(files, [("inside.ts", 5), ("sub/real.ts", 5)]);
        let skipped: Vec<&str> = scan.skipped.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(skipped, ["dangling.ts", "dirlink", "outside.ts"]);
        let why = &scan.skipped[2].1;
        assert!(why.contains("outside the recording directory"), "{why}");
    }
}
