//! What the local store's own tests share: bodies of each kind, and the bucket checks
//! ("every file at a key is complete and matches its sidecar; nothing is left in
//! `.stowage/tmp`").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use stowage_core::checksum::checksum_bytes;
use stowage_core::{ErrorKind, ObjectStore, PutBody};
use stowage_fs::FsStore;

/// How a test body reaches the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Bytes,
    File,
    Stream,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Bytes, Kind::File, Kind::Stream];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Bytes => "bytes",
            Kind::File => "file",
            Kind::Stream => "stream",
        }
    }
}

/// `data` as a body of `kind`; a file body is written under `scratch` (which must not be the
/// bucket's filesystem) and its path returned.
pub fn body(kind: Kind, data: &[u8], scratch: &Path, name: &str) -> (PutBody, Option<PathBuf>) {
    match kind {
        Kind::Bytes => (PutBody::Bytes(Bytes::copy_from_slice(data)), None),
        Kind::File => {
            let path = scratch.join(name);
            std::fs::write(&path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let body = PutBody::File {
                path: path.clone(),
                offset: 0,
                len: data.len() as u64,
            };
            (body, Some(path))
        }
        Kind::Stream => {
            let chunks: Vec<std::io::Result<Bytes>> = data
                .chunks(64 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let body = PutBody::Stream {
                stream: futures::stream::iter(chunks).boxed(),
                len: data.len() as u64,
            };
            (body, None)
        }
    }
}

/// Every regular file under `dir`, recursively (empty when `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read_dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Files in the bucket's temporary directory other than the lock files of live stores.
pub fn temp_leftovers(root: &Path) -> Vec<PathBuf> {
    files_under(&root.join(".stowage/tmp"))
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "lock"))
        .collect()
}

/// The bucket holds exactly `landed`, byte for byte, each with a sidecar that describes it:
/// no file at a key is zero-byte, truncated or unknown, no sidecar lacks its object, and
/// `head` returns every checksum of the bytes.
pub async fn check_bucket(store: &FsStore, landed: &BTreeMap<String, Vec<u8>>) {
    let root = store.root();
    let mut on_disk = BTreeMap::new();
    for path in files_under(root) {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with(".stowage/") {
            continue;
        }
        on_disk.insert(rel, std::fs::read(&path).unwrap());
    }
    for (key, bytes) in &on_disk {
        let want = landed.get(key).unwrap_or_else(|| {
            panic!(
                "`{key}` ({} bytes) is on disk but its put failed",
                bytes.len()
            )
        });
        assert!(
            bytes == want,
            "`{key}` holds {} bytes on disk, not the {} put",
            bytes.len(),
            want.len()
        );
    }
    for (key, want) in landed {
        assert!(
            on_disk.contains_key(key),
            "`{key}` landed but is not on disk"
        );
        let meta = store.head(key).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.size, want.len() as u64, "{key}");
        // Exactly what the store keeps (both CRC-64s), of exactly these bytes.
        assert_eq!(
            meta.checksums,
            checksum_bytes(want, &stowage_fs::KEPT),
            "the sidecar of `{key}` does not describe its bytes"
        );
    }
    let meta_dir = root.join(".stowage/meta");
    for sidecar in files_under(&meta_dir) {
        let rel = sidecar
            .strip_prefix(&meta_dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let key = rel.strip_suffix(".json").unwrap_or(&rel);
        assert!(
            landed.contains_key(key),
            "sidecar {} has no object (a failed put left it)",
            sidecar.display()
        );
    }
    let listed: Vec<String> = (store as &dyn ObjectStore)
        .list_all("")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, landed.keys().cloned().collect::<Vec<_>>());
    let left = temp_leftovers(root);
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// `key` is absent: no file, no sidecar, `head` says not found.
pub async fn assert_absent(store: &FsStore, key: &str) {
    let path = store.root().join(key);
    assert!(
        !path.exists(),
        "{} exists after a failed put",
        path.display()
    );
    let sidecar = store
        .root()
        .join(".stowage/meta")
        .join(format!("{key}.json"));
    assert!(
        !sidecar.exists(),
        "{} exists after a failed put",
        sidecar.display()
    );
    let e = store
        .head(key)
        .await
        .expect_err("head found a key whose put failed");
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
}
