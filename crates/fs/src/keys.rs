//! Keys as relative paths: validation (nothing may escape the root) and listing.

use std::path::{Path, PathBuf};

use stowage_core::{Error, Result};

use crate::INTERNAL_DIR;

/// Longest key accepted, as on S3.
const MAX_KEY_BYTES: usize = 1024;

/// Checks that `key` names a file strictly inside the root.
pub fn validate_key(key: &str) -> Result<()> {
    let reason = if key.is_empty() {
        Some("the key is empty")
    } else if key.len() > MAX_KEY_BYTES {
        Some("the key is longer than 1024 bytes")
    } else if key.contains('\0') {
        Some("the key contains a NUL byte")
    } else if key.starts_with('/') {
        Some("the key is absolute (starts with `/`)")
    } else if key.ends_with('/') {
        Some("the key ends with `/` (names a directory, not an object)")
    } else if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        Some("the key has an empty, `.` or `..` path segment, which could escape the bucket root")
    } else if key.split('/').any(|s| s == INTERNAL_DIR) {
        Some("a `.stowage` path segment is reserved for Stowage's own state")
    } else {
        None
    };
    match reason {
        Some(r) => Err(Error::invalid_input(format!("invalid key: {r}")).with_key(key)),
        None => Ok(()),
    }
}

/// Every key under `prefix`, sorted. The walk starts at the deepest directory the prefix
/// names, so listing one recording does not read the whole bucket.
pub async fn list_keys(root: &Path, prefix: &str) -> Result<Vec<String>> {
    let root = root.to_path_buf();
    let prefix = prefix.to_string();
    tokio::task::spawn_blocking(move || list_keys_blocking(&root, &prefix))
        .await
        .map_err(|e| Error::invalid_input(format!("listing task failed: {e}")))?
}

fn list_keys_blocking(root: &Path, prefix: &str) -> Result<Vec<String>> {
    let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
    if !dir_part.is_empty()
        && dir_part
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Ok(Vec::new()); // no valid key can have this prefix
    }
    let start = if dir_part.is_empty() {
        root.to_path_buf()
    } else {
        root.join(dir_part)
    };
    let mut keys = Vec::new();
    let mut stack: Vec<PathBuf> = vec![start];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if e.raw_os_error() == Some(20) => continue, // a file where a dir was expected
            Err(e) => return Err(Error::local_io(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::local_io(&dir, e))?;
            let path = entry.path();
            let Some(key) = relative_key(root, &path) else {
                continue;
            };
            if entry.file_name() == INTERNAL_DIR {
                continue;
            }
            let ft = entry.file_type().map_err(|e| Error::local_io(&path, e))?;
            if ft.is_dir() {
                let as_prefix = format!("{key}/");
                if as_prefix.starts_with(prefix) || prefix.starts_with(&as_prefix) {
                    stack.push(path);
                }
            } else if ft.is_file() && key.starts_with(prefix) {
                keys.push(key);
            }
        }
    }
    keys.sort_unstable();
    Ok(keys)
}

/// `path` relative to `root` with `/` separators; `None` for non-UTF-8 names.
fn relative_key(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_keys_that_escape_or_are_malformed() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a/",
            "a\0b",
            ".stowage/meta/x",
            "rec/.stowage/x",
        ] {
            let e = validate_key(bad).unwrap_err();
            assert_eq!(e.kind(), &stowage_core::ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().contains("invalid key"), "{e}");
        }
        for good in [
            "a",
            "rec/sid_c.m3u8",
            "with space.ts",
            "ünïcödé/+plus.ts",
            "..hidden",
            "a..b",
        ] {
            validate_key(good).unwrap();
        }
    }
}
