//! Copying one file or object: a local file into a bucket, an object to a local file
//! (written whole, then checked against every checksum the store keeps), or an object from
//! one bucket to another (through a temporary file). Never deletes or changes the source.

mod plan;
mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stowage_core::checksum::checksum_file;
use stowage_core::upload::{UploadConfig, put_file};
use stowage_core::{Error, ObjectMeta, ObjectStore, PutOptions, Result};

pub use plan::{Plan, plan};
pub use run::{Copied, CopyReport, copy_all};

/// One end of a copy.
#[derive(Clone)]
pub enum End {
    /// A local file.
    Local(PathBuf),
    /// An object in a bucket.
    Object {
        /// The bucket.
        store: Arc<dyn ObjectStore>,
        /// The key.
        key: String,
    },
}

impl End {
    /// The end as people read it: a path, or `bucket/key`.
    pub fn describe(&self) -> String {
        match self {
            End::Local(p) => p.display().to_string(),
            End::Object { store, key } => format!("{}/{key}", store.name()),
        }
    }
}

/// Copies `from` to `to`; returns the bytes copied and, when known, what the store keeps.
pub async fn copy(from: &End, to: &End) -> Result<(u64, Option<ObjectMeta>)> {
    match (from, to) {
        (End::Local(path), End::Object { store, key }) => upload(store.as_ref(), key, path).await,
        (End::Object { store, key }, End::Local(path)) => download(store.as_ref(), key, path).await,
        (
            End::Object { store, key },
            End::Object {
                store: dst,
                key: dst_key,
            },
        ) => {
            let tmp = tempfile::tempdir().map_err(|e| Error::local_io(Path::new("."), e))?;
            let local = tmp.path().join("object");
            download(store.as_ref(), key, &local).await?;
            upload(dst.as_ref(), dst_key, &local).await
        }
        (End::Local(_), End::Local(_)) => Err(Error::invalid_input(
            "local-to-local copies are not what stowage is for; use cp",
        )),
    }
}

async fn upload(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
) -> Result<(u64, Option<ObjectMeta>)> {
    let (opts, config) = (PutOptions::default(), UploadConfig::default());
    let meta = put_file(store, key, path, &opts, &config).await?;
    Ok((meta.size, Some(meta)))
}

/// Downloads `key` to `path`, then checks the file against every checksum the store keeps;
/// a file that does not match is removed.
pub async fn download(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
) -> Result<(u64, Option<ObjectMeta>)> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::local_io(parent, e))?;
    }
    let got = store.get(key, None).await?;
    let meta = got.meta.clone();
    let size = got.write_to_file(path).await?;
    let stored = if meta.checksums.is_empty() {
        store.head(key).await?.checksums
    } else {
        meta.checksums.clone()
    };
    let algos = stored.common(&stored);
    if !algos.is_empty() {
        let (_, local) = checksum_file(path, &algos).await?;
        if let Err(e) = local.verify(&stored) {
            // The download is wrong; do not leave it looking like a good copy.
            let _ = tokio::fs::remove_file(path).await;
            return Err(e.with_key(key));
        }
    }
    Ok((size, Some(meta)))
}
