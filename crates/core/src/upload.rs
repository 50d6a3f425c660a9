//! Uploading a local file the way its size calls for: one `put`, or a multipart upload
//! whose parts are sent concurrently, each retried alone, and which can be resumed from
//! the parts a store already holds. Generic over [`ObjectStore`], so every backend gets
//! the same behaviour (OpenDAL's `MultipartWriter` idea, with caller-owned part numbers).

use std::collections::BTreeMap;
use std::path::Path;

use futures::{StreamExt, TryStreamExt};

use crate::checksum::{ChecksumAlgo, checksum_file_range};
use crate::error::{Error, ErrorKind, Result};
use crate::retry::RetryPolicy;
use crate::store::{MultipartUpload, ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions};

/// How big files are split and sent.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Files larger than this go multipart (when the store supports it).
    pub multipart_threshold: u64,
    /// Preferred part size; raised to the store's minimum, or to fit its part limit.
    pub part_size: u64,
    /// Parts in flight at once.
    pub concurrency: usize,
    /// Retries of one part (on top of whatever the store's client does itself).
    pub part_retry: RetryPolicy,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            multipart_threshold: 64 << 20,
            part_size: 16 << 20,
            concurrency: 4,
            part_retry: RetryPolicy::default(),
        }
    }
}

/// Uploads `path` to `key`: a single `put` up to the threshold, multipart above it.
pub async fn put_file(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
    opts: &PutOptions,
    cfg: &UploadConfig,
) -> Result<ObjectMeta> {
    let body = PutBody::file(path).await.map_err(|e| e.or_key(key))?;
    if body.len() > cfg.multipart_threshold && store.capabilities().multipart {
        return multipart_upload_file(store, key, path, opts, cfg, None).await;
    }
    store.put(key, body, opts).await
}

/// Byte ranges `(part_number, offset, len)` covering `size` in parts of about `part_size`.
pub fn plan_parts(size: u64, part_size: u64, max_parts: u32) -> Vec<(u32, u64, u64)> {
    let min_for_limit = size.div_ceil(u64::from(max_parts.max(1)));
    let part_size = part_size.max(min_for_limit).max(1);
    let count = size.div_ceil(part_size).max(1);
    (0..count)
        .map(|i| {
            let offset = i * part_size;
            (i as u32 + 1, offset, part_size.min(size - offset))
        })
        .collect()
}

/// Multipart upload of a file. With `resume`, parts the store already holds are kept when
/// their size and MD5 match the local bytes (stores whose part ETag is an MD5), and only the
/// rest are sent. A part that still fails after retries fails the call with the upload id in
/// the message, leaving the upload in place so it can be resumed.
pub async fn multipart_upload_file(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
    opts: &PutOptions,
    cfg: &UploadConfig,
    resume: Option<MultipartUpload>,
) -> Result<ObjectMeta> {
    let caps = store.capabilities();
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|e| Error::local_io(path, e).with_key(key))?
        .len();
    let plan = plan_parts(size, cfg.part_size.max(caps.min_part_size), caps.max_parts);
    let (upload, held) = match resume {
        Some(u) => {
            let held = store.list_parts(&u).await?;
            (u, held)
        }
        None => (store.create_multipart(key, opts).await?, Vec::new()),
    };
    let held: BTreeMap<u32, PartInfo> = held.into_iter().map(|p| (p.part_number, p)).collect();

    let parts: Vec<PartInfo> = futures::stream::iter(plan)
        .map(|(n, offset, len)| {
            let held = held
                .get(&n)
                .filter(|p| caps.part_etag_is_md5 || !p.checksums.is_empty())
                .cloned();
            let etag_is_md5 = caps.part_etag_is_md5;
            send_part(
                store,
                &upload,
                path,
                n,
                offset,
                len,
                held,
                etag_is_md5,
                &cfg.part_retry,
            )
        })
        .buffer_unordered(cfg.concurrency.max(1))
        .try_collect()
        .await
        .map_err(|e| with_upload_context(e, &upload))?;

    let mut parts = parts;
    parts.sort_by_key(|p| p.part_number);
    let meta = store.complete_multipart(&upload, &parts).await?;
    if meta.size != size {
        return Err(Error::new(
            ErrorKind::ChecksumMismatch,
            format!("stored object has {} bytes, local file {size}", meta.size),
        )
        .with_key(key));
    }
    Ok(meta)
}

#[allow(clippy::too_many_arguments)]
async fn send_part(
    store: &dyn ObjectStore,
    upload: &MultipartUpload,
    path: &Path,
    part_number: u32,
    offset: u64,
    len: u64,
    held: Option<PartInfo>,
    etag_is_md5: bool,
    retry: &RetryPolicy,
) -> Result<PartInfo> {
    if let Some(held) = held.filter(|h| h.size == len)
        && held_part_matches(path, offset, &held, etag_is_md5).await?
    {
        tracing::debug!(part_number, "part already uploaded; kept");
        return Ok(held);
    }
    let what = format!("part {part_number} of {}", upload.key);
    retry
        .run(&what, |_| {
            let body = PutBody::File {
                path: path.to_path_buf(),
                offset,
                len,
            };
            store.upload_part(upload, part_number, body)
        })
        .await
}

/// Whether a part the store holds has the local bytes: by its ETag when that is an MD5,
/// else by the checksums the store listed for it (Kodo lists each part's qetag).
async fn held_part_matches(
    path: &Path,
    offset: u64,
    held: &PartInfo,
    etag_is_md5: bool,
) -> Result<bool> {
    if etag_is_md5 {
        let (_, local) =
            checksum_file_range(path, offset, Some(held.size), &[ChecksumAlgo::Md5]).await?;
        return Ok(local.get(ChecksumAlgo::Md5).as_deref() == Some(held.etag.as_str()));
    }
    let listed: Vec<ChecksumAlgo> = ChecksumAlgo::ALL
        .into_iter()
        .filter(|a| held.checksums.get(*a).is_some())
        .collect();
    let (_, local) = checksum_file_range(path, offset, Some(held.size), &listed).await?;
    Ok(!listed.is_empty() && local.verify(&held.checksums).is_ok())
}

fn with_upload_context(e: Error, upload: &MultipartUpload) -> Error {
    let msg = format!(
        "{} (multipart upload id {} left in place: resume it, or abort it)",
        e.message(),
        upload.upload_id
    );
    let retryable = e.is_retryable();
    Error::new(e.kind().clone(), msg)
        .with_key(&upload.key)
        .with_retryable(retryable)
        .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::plan_parts;

    #[test]
    fn parts_cover_the_file_exactly() {
        let plan = plan_parts(20, 8, 10_000);
        assert_eq!(plan, vec![(1, 0, 8), (2, 8, 8), (3, 16, 4)]);
        assert_eq!(plan_parts(0, 8, 10_000), vec![(1, 0, 0)]);
    }

    #[test]
    fn part_size_grows_to_fit_the_part_limit() {
        let plan = plan_parts(1000, 1, 10);
        assert_eq!(plan.len(), 10);
        assert_eq!(plan.iter().map(|p| p.2).sum::<u64>(), 1000);
    }
}
