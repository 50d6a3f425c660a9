//! `stowage cp SRC DST`: a file or a directory, either side local or a bucket URL.
//!
//! Plans which files or objects go where; each copy is `stowage::copy::copy` (single put or
//! resumable multipart checked against the checksums sent; downloads checked against the
//! store's checksums). Never deletes or overwrites the source.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use futures::StreamExt;
use serde_json::json;
use stowage::copy::End;
use stowage::core::{ErrorKind, ObjectMeta, ObjectStore, StorageUrl};

use crate::StoreArgs;
use crate::notice::Notices;
use crate::open::{open_bucket, open_place, open_place_placed};
use crate::output::{checksums_json, human_size};
use stowage::join_key;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Source: a local file or directory, or s3://bucket/key-or-prefix.
    src: String,
    /// Destination: a local path, file:///dir, or s3://bucket/prefix/.
    dst: String,
    /// Transfers in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Print one JSON report instead of lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// A finished transfer: source, destination, and bytes copied with the stored metadata.
type Outcome = (End, End, Result<(u64, Option<ObjectMeta>)>);

pub async fn run(args: CpArgs) -> Result<ExitCode> {
    let src = StorageUrl::parse(&args.src)?;
    let dst = StorageUrl::parse(&args.dst)?;
    let notices = Notices::new(args.json);
    let plan = plan(&src, &dst, &args.store, &notices).await?;
    if plan.is_empty() {
        bail!("nothing to copy: {src} names no file or object");
    }
    let started = Instant::now();
    let mut results: Vec<_> = futures::stream::iter(plan)
        .map(|(from, to)| async move {
            let r = stowage::copy::copy(&from, &to)
                .await
                .map_err(anyhow::Error::from);
            (from, to, r)
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    results.sort_by_key(|r| r.0.describe());
    report(&results, args.json, started.elapsed())
}

fn report(results: &[Outcome], json: bool, elapsed: std::time::Duration) -> Result<ExitCode> {
    let failed = results.iter().filter(|r| r.2.is_err()).count();
    let bytes: u64 = results
        .iter()
        .filter_map(|r| r.2.as_ref().ok().map(|v| v.0))
        .sum();
    if json {
        let items: Vec<_> = results
            .iter()
            .map(|(from, to, r)| match r {
                Ok((size, meta)) => json!({
                    "src": from.describe(), "dst": to.describe(), "size": size,
                    "etag": meta.as_ref().and_then(|m| m.etag.clone()),
                    "checksums": meta.as_ref().map(|m| checksums_json(&m.checksums)),
                }),
                Err(e) => {
                    json!({"src": from.describe(), "dst": to.describe(), "error": e.to_string()})
                }
            })
            .collect();
        println!(
            "{}",
            json!({"copied": results.len() - failed, "failed": failed, "bytes": bytes, "items": items})
        );
    } else {
        for (from, to, r) in results {
            match r {
                Ok((size, _)) => println!(
                    "copied {} -> {} ({})",
                    from.describe(),
                    to.describe(),
                    human_size(*size)
                ),
                Err(e) => eprintln!("error: {} -> {}: {e}", from.describe(), to.describe()),
            }
        }
        let secs = elapsed.as_secs_f64();
        println!(
            "{} copied, {failed} failed, {} in {secs:.2} s",
            results.len() - failed,
            human_size(bytes)
        );
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Pairs every source file or object with its destination.
async fn plan(
    src: &StorageUrl,
    dst: &StorageUrl,
    args: &StoreArgs,
    notices: &Notices,
) -> Result<Vec<(End, End)>> {
    match src.local_path() {
        Some(path) => plan_from_local(&path, dst, args, notices).await,
        None => plan_from_bucket(src, dst, args, notices).await,
    }
}

async fn plan_from_local(
    path: &Path,
    dst: &StorageUrl,
    args: &StoreArgs,
    notices: &Notices,
) -> Result<Vec<(End, End)>> {
    let meta = tokio::fs::metadata(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        let (store, prefix) = destination_dir(dst, args, notices).await?;
        let files = stowage::core::fsutil::local_files(path)?;
        return Ok(files
            .into_iter()
            .map(
                |stowage::core::fsutil::LocalFile {
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
        destination_object(dst, &name, args, notices).await?,
    )])
}

/// The bucket and key prefix a directory is copied into.
async fn destination_dir(
    dst: &StorageUrl,
    args: &StoreArgs,
    notices: &Notices,
) -> Result<(Arc<dyn ObjectStore>, String)> {
    let (store, key) = open_destination(dst, args, notices).await?;
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
    args: &StoreArgs,
    notices: &Notices,
) -> Result<End> {
    if let Some(path) = dst.local_path() {
        let into_dir = dst.is_dir_like() || path.is_dir();
        let target = if into_dir { path.join(name) } else { path };
        let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent_url = StorageUrl::parse(&parent.to_string_lossy())?;
        let (store, dir_key) = open_place(&parent_url, args, true).await?;
        let key = join_key(&dir_key, &name);
        return Ok(End::Object { store, key });
    }
    let (store, _) = open_destination(dst, args, notices).await?;
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
    args: &StoreArgs,
    notices: &Notices,
) -> Result<Vec<(End, End)>> {
    let store = open_bucket(src, args, false).await?;
    if !src.is_dir_like() {
        match store.head(&src.key).await {
            Ok(_) => {
                let name = src.key.rsplit('/').next().unwrap_or(&src.key).to_string();
                let from = End::Object {
                    store: store.clone(),
                    key: src.key.clone(),
                };
                let to = download_target(dst, &name, args, notices).await?;
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
            let (s, p) = destination_dir(dst, args, notices).await?;
            (Some(s), p)
        }
    };
    let mut plan = Vec::new();
    for o in objects {
        let rel = &o.key[prefix.len()..];
        stowage::stores::fs::validate_key(rel)
            .with_context(|| format!("refusing to copy `{}`", o.key))?;
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
    args: &StoreArgs,
    notices: &Notices,
) -> Result<End> {
    match dst.local_path() {
        Some(path) if dst.is_dir_like() || path.is_dir() => Ok(End::Local(path.join(name))),
        Some(path) => Ok(End::Local(path)),
        None => destination_object(dst, name, args, notices).await,
    }
}

/// Opens the bucket files are copied into and the key `dst` names in it, printing the
/// bucket's cross-region warning (once).
async fn open_destination(
    dst: &StorageUrl,
    args: &StoreArgs,
    notices: &Notices,
) -> Result<(Arc<dyn ObjectStore>, String)> {
    let opened = open_place_placed(dst, args, true).await?;
    notices.opened(dst, opened.placement.as_ref(), args);
    Ok((opened.store, opened.prefix))
}
