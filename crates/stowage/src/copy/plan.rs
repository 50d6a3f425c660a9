//! Which files or objects a copy takes, and where each goes: a file or a directory into a
//! bucket, an object or a prefix out of one, or bucket to bucket.

use std::path::Path;
use std::sync::Arc;

use stowage_core::{Error, ErrorKind, ObjectStore, StorageUrl};

use super::End;
use crate::open::{OpenError, OpenedBucket, Warning, join_key, locate, open_url};
use crate::settings::Settings;

/// What a copy will do.
pub struct Plan {
    /// Each source with its destination.
    pub pairs: Vec<(End, End)>,
    /// The buckets written to, with how their endpoints were chosen (for cross-region advice).
    pub destinations: Vec<OpenedBucket>,
    /// What opening the buckets had to say.
    pub warnings: Vec<Warning>,
}

/// Pairs every file or object `src` names with where it goes in `dst`. Local directories
/// written to are created.
pub async fn plan(
    src: &StorageUrl,
    dst: &StorageUrl,
    settings: &Settings,
) -> Result<Plan, OpenError> {
    let mut opener = Opener {
        settings,
        destinations: Vec::new(),
        warnings: Vec::new(),
    };
    let pairs = plan_pairs(src, dst, &mut opener).await?;
    Ok(Plan {
        pairs,
        destinations: opener.destinations,
        warnings: opener.warnings,
    })
}

/// Opens buckets with the settings, collecting what the caller shows.
struct Opener<'a> {
    settings: &'a Settings,
    destinations: Vec<OpenedBucket>,
    warnings: Vec<Warning>,
}

impl Opener<'_> {
    /// `create`: a missing local directory is made; `whole`: a local path is the bucket
    /// itself (else it is split at its directory bucket's root).
    async fn open(
        &mut self,
        url: &StorageUrl,
        create: bool,
        whole: bool,
    ) -> Result<OpenedBucket, OpenError> {
        let settings = Settings {
            create_local: create,
            ..self.settings.clone()
        };
        let opened = match whole {
            true => open_url(url, &settings).await?,
            false => locate(url, &settings).await?,
        };
        self.warnings.extend(opened.warnings.iter().cloned());
        Ok(opened)
    }
}

/// Pairs every source file or object with its destination.
async fn plan_pairs(
    src: &StorageUrl,
    dst: &StorageUrl,
    opener: &mut Opener<'_>,
) -> Result<Vec<(End, End)>, OpenError> {
    match src.local_path() {
        Some(path) => plan_from_local(&path, dst, opener).await,
        None => plan_from_bucket(src, dst, opener).await,
    }
}

async fn plan_from_local(
    path: &Path,
    dst: &StorageUrl,
    opener: &mut Opener<'_>,
) -> Result<Vec<(End, End)>, OpenError> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| Error::local_io(path, e))?;
    if meta.is_dir() {
        let (store, prefix) = destination_dir(dst, opener).await?;
        let files = stowage_core::fsutil::local_files(path)?;
        return Ok(files
            .into_iter()
            .map(
                |stowage_core::fsutil::LocalFile {
                     path: file, rel, ..
                 }| {
                    (
                        End::Local(file),
                        End::Object {
                            store: store.clone(),
                            key: format!("{prefix}{rel}"),
                        },
                    )
                },
            )
            .collect());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(vec![(
        End::Local(path.to_path_buf()),
        destination_object(dst, &name, opener).await?,
    )])
}

/// The bucket and key prefix a directory is copied into.
async fn destination_dir(
    dst: &StorageUrl,
    opener: &mut Opener<'_>,
) -> Result<(Arc<dyn ObjectStore>, String), OpenError> {
    let (store, key) = open_destination(dst, opener).await?;
    let prefix = if key.is_empty() || key.ends_with('/') {
        key
    } else {
        format!("{key}/")
    };
    Ok((store, prefix))
}

/// Where one file named `name` goes: into `dst` if it names a directory or prefix, else at `dst`.
async fn destination_object(
    dst: &StorageUrl,
    name: &str,
    opener: &mut Opener<'_>,
) -> Result<End, OpenError> {
    if let Some(path) = dst.local_path() {
        let into_dir = dst.is_dir_like() || path.is_dir();
        let target = if into_dir { path.join(name) } else { path };
        let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent_url = StorageUrl::parse(&parent.to_string_lossy())?;
        let opened = opener.open(&parent_url, true, false).await?;
        let key = join_key(&opened.prefix, &name);
        let store = opened.store;
        return Ok(End::Object { store, key });
    }
    let (store, _) = open_destination(dst, opener).await?;
    let key = if dst.is_dir_like() {
        format!("{}{name}", dst.key)
    } else {
        dst.key.clone()
    };
    Ok(End::Object { store, key })
}

async fn plan_from_bucket(
    src: &StorageUrl,
    dst: &StorageUrl,
    opener: &mut Opener<'_>,
) -> Result<Vec<(End, End)>, OpenError> {
    let store = opener.open(src, false, true).await?.store;
    if !src.is_dir_like() {
        match store.head(&src.key).await {
            Ok(_) => {
                let name = src.key.rsplit('/').next().unwrap_or(&src.key).to_string();
                let from = End::Object {
                    store: store.clone(),
                    key: src.key.clone(),
                };
                let to = download_target(dst, &name, opener).await?;
                return Ok(vec![(from, to)]);
            }
            Err(e) if e.kind() == &ErrorKind::NotFound => {} // maybe a prefix
            Err(e) => return Err(e.into()),
        }
    }
    let prefix = if src.is_dir_like() {
        src.key.clone()
    } else {
        format!("{}/", src.key)
    };
    let objects = store.list_all(&prefix).await?;
    let (dst_store, dst_prefix) = match dst.local_path() {
        Some(dir) => (None, dir.to_string_lossy().into_owned()),
        None => {
            let (s, p) = destination_dir(dst, opener).await?;
            (Some(s), p)
        }
    };
    let mut plan = Vec::new();
    for o in objects {
        let rel = &o.key[prefix.len()..];
        stowage_fs::validate_key(rel).map_err(|e| {
            let why = format!("refusing to copy `{}`: {}", o.key, e.message());
            Error::new(e.kind().clone(), why)
        })?;
        let to = match &dst_store {
            Some(s) => End::Object {
                store: s.clone(),
                key: format!("{dst_prefix}{rel}"),
            },
            None => End::Local(Path::new(&dst_prefix).join(rel)),
        };
        plan.push((
            End::Object {
                store: store.clone(),
                key: o.key,
            },
            to,
        ));
    }
    Ok(plan)
}

async fn download_target(
    dst: &StorageUrl,
    name: &str,
    opener: &mut Opener<'_>,
) -> Result<End, OpenError> {
    match dst.local_path() {
        Some(path) if dst.is_dir_like() || path.is_dir() => Ok(End::Local(path.join(name))),
        Some(path) => Ok(End::Local(path)),
        None => destination_object(dst, name, opener).await,
    }
}

/// Opens the bucket files are copied into and the key `dst` names in it, kept for the
/// caller's cross-region notice.
async fn open_destination(
    dst: &StorageUrl,
    opener: &mut Opener<'_>,
) -> Result<(Arc<dyn ObjectStore>, String), OpenError> {
    let opened = opener.open(dst, true, false).await?;
    let out = (opened.store.clone(), opened.prefix.clone());
    opener.destinations.push(opened);
    Ok(out)
}
