//! Uploading a local file the way its size calls for: one `put`, or a multipart upload
//! whose parts are sent concurrently, each retried alone, and which can be resumed from
//! the parts a store already holds. Generic over [`ObjectStore`], so every backend gets
//! the same behaviour (OpenDAL's `MultipartWriter` idea, with caller-owned part numbers).

use std::collections::BTreeMap;
use std::path::Path;

use futures::{StreamExt, TryStreamExt};

use crate::checksum::{
    ChecksumAlgo, Checksums, checksum_file_range, crc64ecma_combine, crc64nvme_combine,
};
use crate::error::{Error, ErrorKind, Result};
use crate::proof::{PartsProof, Sent, completed_proof, confirm, head_for_proof, parts_proof};
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
            concurrency: 8,
            part_retry: RetryPolicy::default(),
        }
    }
}

/// Uploads `path` to `key`: a single `put` up to the threshold, multipart above it, and
/// returns only once the store has proven it holds the file's bytes ([`crate::proof`]).
/// The file is hashed first unless `opts.checksums` carries its checksums already.
pub async fn put_file(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
    opts: &PutOptions,
    cfg: &UploadConfig,
) -> Result<ObjectMeta> {
    let body = PutBody::file(path).await.map_err(|e| e.or_key(key))?;
    let size = body.len();
    store.learn_integrity(key).await;
    let multipart = size > cfg.multipart_threshold && store.capabilities().multipart;
    let mut opts = opts.clone();
    if opts.checksums.is_none() {
        let algos = proof_algos(store, multipart);
        let (hashed, sums) = checksum_file_range(path, 0, Some(size), &algos).await?;
        if hashed != size {
            return Err(changed_size(path, size, hashed).with_key(key));
        }
        opts.checksums = Some(sums);
    }
    let sums = opts.checksums.clone().unwrap_or_default();
    let sent = Sent {
        size,
        checksums: &sums,
    };
    if multipart {
        return multipart_upload_file(store, key, path, &opts, cfg, None).await;
    }
    let reply = store.put(key, body, &opts).await?;
    confirm(store, key, sent, reply).await
}

/// The checksums worth computing before sending a file so that the store's answer can prove
/// the landing: both CRC-64s (nearly free, and what multipart parts combine to), plus, for a
/// single put, the digests the store checks or returns (MD5, Kodo's qetag). A CRC-32C the
/// store keeps (Google Cloud Storage, for every object, composed ones too) is computed for
/// multipart uploads as well: the completed object is then proven by it.
pub fn proof_algos(store: &dyn ObjectStore, multipart: bool) -> Vec<ChecksumAlgo> {
    let mut algos = vec![ChecksumAlgo::Crc64Nvme, ChecksumAlgo::Crc64Ecma];
    let caps = store.capabilities();
    if caps.verified_on_upload.contains(&ChecksumAlgo::Crc32c)
        || caps.returned_by_head.contains(&ChecksumAlgo::Crc32c)
    {
        algos.push(ChecksumAlgo::Crc32c);
    }
    if !multipart {
        for algo in [ChecksumAlgo::Md5, ChecksumAlgo::Qetag] {
            if caps.verified_on_upload.contains(&algo) || caps.returned_by_head.contains(&algo) {
                algos.push(algo);
            }
        }
    }
    algos
}

fn changed_size(path: &Path, planned: u64, now: u64) -> Error {
    Error::new(
        ErrorKind::LocalFileChanged,
        format!(
            "{} changed size while being read ({planned} → {now} bytes)",
            path.display()
        ),
    )
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

/// Multipart upload of a file, confirmed: [`send_parts`] then [`complete_confirmed`].
pub async fn multipart_upload_file(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
    opts: &PutOptions,
    cfg: &UploadConfig,
    resume: Option<MultipartUpload>,
) -> Result<ObjectMeta> {
    let sent = send_parts(store, key, path, opts, cfg, resume).await?;
    complete_confirmed(store, opts, &sent).await
}

/// The parts of a multipart upload, all in the store, not yet completed.
#[derive(Debug, Clone)]
pub struct SentParts {
    pub upload: MultipartUpload,
    /// In part-number order, each with a CRC-64 of the bytes the store holds where one is
    /// known.
    pub parts: Vec<PartInfo>,
    /// The file's size when the parts were planned.
    pub size: u64,
    /// Whether the parts combine to the file's CRC-64 (`None`: no CRC to compare with).
    pub proof: Option<PartsProof>,
    /// The CRC-64s of the object the parts make (what the completed object must have when
    /// the caller gave no checksums of the file).
    pub combined: Checksums,
}

/// Sends the parts of `path` that the store does not hold yet. With `resume`, parts the
/// store already holds are kept when their bytes match the local ones (by MD5 ETag, or the
/// checksums the store listed) and only the rest are sent. A part that still fails after
/// retries fails the call with the upload id in the message, leaving the upload in place
/// so it can be resumed.
///
/// When `opts.checksums` carries the file's CRC-64 (taken before sending), the parts'
/// CRC-64s must combine to it: a file rewritten between two parts is refused with
/// [`ErrorKind::LocalFileChanged`] before anything is completed.
pub async fn send_parts(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
    opts: &PutOptions,
    cfg: &UploadConfig,
    resume: Option<MultipartUpload>,
) -> Result<SentParts> {
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
    let crc_algos = wanted_crcs(opts);

    let mut parts: Vec<PartInfo> = futures::stream::iter(plan)
        .map(|(n, offset, len)| {
            let held = held
                .get(&n)
                .filter(|p| caps.part_etag_is_md5 || !p.checksums.is_empty())
                .cloned();
            let part = PartToSend {
                path,
                number: n,
                offset,
                len,
                crc_algos: &crc_algos,
                caller_hashed: opts.checksums.is_some(),
                etag_is_md5: caps.part_etag_is_md5,
            };
            send_part(store, &upload, part, held, &cfg.part_retry)
        })
        .buffer_unordered(cfg.concurrency.max(1))
        .try_collect()
        .await
        .map_err(|e| with_upload_context(e, &upload))?;
    parts.sort_by_key(|p| p.part_number);

    let proof = match &opts.checksums {
        Some(sums) => {
            let sent = Sent {
                size,
                checksums: sums,
            };
            parts_proof(key, sent, &parts).map_err(|e| with_upload_context(e, &upload))?
        }
        // No checksums of the file to compare with: the parts the store verified are what
        // was sent, and their CRC is what the completed object must have.
        None => {
            let combined = combined_crcs(&parts);
            let sent = Sent {
                size,
                checksums: &combined,
            };
            parts_proof(key, sent, &parts).map_err(|e| with_upload_context(e, &upload))?
        }
    };
    Ok(SentParts {
        combined: combined_crcs(&parts),
        upload,
        parts,
        size,
        proof,
    })
}

/// The CRC-64s of the whole object the parts make, for each kind every part carries.
pub fn combined_crcs(parts: &[PartInfo]) -> Checksums {
    let mut sums = Checksums::default();
    let all = |f: fn(&Checksums) -> Option<u64>| parts.iter().all(|p| f(&p.checksums).is_some());
    let fold = |combine: fn(u64, u64, u64) -> u64, f: fn(&Checksums) -> Option<u64>| {
        parts.iter().fold(0, |crc, p| {
            combine(crc, f(&p.checksums).unwrap_or_default(), p.size)
        })
    };
    if !parts.is_empty() && all(|c| c.crc64ecma) {
        sums.crc64ecma = Some(fold(crc64ecma_combine, |c| c.crc64ecma));
    }
    if !parts.is_empty() && all(|c| c.crc64nvme) {
        sums.crc64nvme = Some(fold(crc64nvme_combine, |c| c.crc64nvme));
    }
    sums
}

/// The CRC-64s each part must carry to combine into the file's: the kinds the caller
/// computed for the file, else CRC-64/XZ (so the completed object can be compared with the
/// parts).
fn wanted_crcs(opts: &PutOptions) -> Vec<ChecksumAlgo> {
    let Some(sums) = &opts.checksums else {
        return vec![ChecksumAlgo::Crc64Ecma];
    };
    [ChecksumAlgo::Crc64Nvme, ChecksumAlgo::Crc64Ecma]
        .into_iter()
        .filter(|a| sums.get(*a).is_some())
        .collect()
}

/// Completes the upload and returns the object only once it is proven: by a whole-object
/// checksum in the store's reply or a HEAD, or by the parts' combined CRC-64 (and an
/// object of the file's size).
pub async fn complete_confirmed(
    store: &dyn ObjectStore,
    opts: &PutOptions,
    sent_parts: &SentParts,
) -> Result<ObjectMeta> {
    let upload = &sent_parts.upload;
    let key = upload.key.as_str();
    let meta = store.complete_multipart(upload, &sent_parts.parts).await?;
    confirm_completed(store, key, opts, sent_parts, meta).await
}

/// Checks a completed multipart object (from the completion's reply, or a HEAD after an
/// interrupted completion) against what was sent.
pub async fn confirm_completed(
    store: &dyn ObjectStore,
    key: &str,
    opts: &PutOptions,
    sent_parts: &SentParts,
    meta: ObjectMeta,
) -> Result<ObjectMeta> {
    let sent = Sent {
        size: sent_parts.size,
        checksums: opts.checksums.as_ref().unwrap_or(&sent_parts.combined),
    };
    let proof = sent_parts.proof.as_ref();
    if completed_proof(key, sent, proof, &meta)?.is_some() {
        return Ok(meta);
    }
    let head = head_for_proof(store, key).await?;
    if completed_proof(key, sent, proof, &head)?.is_some() {
        return Ok(head);
    }
    Err(Error::new(
        ErrorKind::NotConfirmed,
        format!(
            "{} completed the multipart upload, but neither its reply nor a HEAD carried a checksum of the whole object, and the parts carried no CRC-64 to combine",
            store.name()
        ),
    )
    .with_key(key))
}

/// One planned part.
struct PartToSend<'a> {
    path: &'a Path,
    number: u32,
    offset: u64,
    len: u64,
    /// The CRC-64 kinds the part must end up with (to combine into the file's).
    crc_algos: &'a [ChecksumAlgo],
    /// Whether the caller gave the file's checksums (else any one CRC-64 kind will do).
    caller_hashed: bool,
    etag_is_md5: bool,
}

async fn send_part(
    store: &dyn ObjectStore,
    upload: &MultipartUpload,
    part: PartToSend<'_>,
    held: Option<PartInfo>,
    retry: &RetryPolicy,
) -> Result<PartInfo> {
    if let Some(held) = held.filter(|h| h.size == part.len)
        && let Some(kept) = held_part_matches(&part, held).await?
    {
        tracing::debug!(part_number = part.number, "part already uploaded; kept");
        return Ok(kept);
    }
    let what = format!("part {} of {}", part.number, upload.key);
    let sent = retry
        .run(&what, |_| {
            let body = PutBody::File {
                path: part.path.to_path_buf(),
                offset: part.offset,
                len: part.len,
            };
            store.upload_part(upload, part.number, body)
        })
        .await?;
    with_part_crcs(&part, sent).await
}

/// Gives a sent part a CRC-64 when it carries none the proof can use (a store whose parts
/// carry only an MD5 ETag): the local range is hashed once more, and its CRC-64 is taken
/// only if its MD5 is still the one the store verified, so the CRC describes the bytes the
/// store holds. A range whose MD5 no longer matches was rewritten since it was sent.
///
/// One CRC-64 kind the file's checksums have too is enough (a store's parts all carry the
/// same kinds, and the proof combines one kind): an S3 part's CRC-64/NVME is not hashed
/// again, with an MD5, for the CRC-64/XZ the file also has.
async fn with_part_crcs(part: &PartToSend<'_>, mut info: PartInfo) -> Result<PartInfo> {
    let carries = |algos: &[ChecksumAlgo]| algos.iter().any(|a| info.checksums.get(*a).is_some());
    let usable = if part.caller_hashed {
        carries(part.crc_algos)
    } else {
        carries(&[ChecksumAlgo::Crc64Ecma, ChecksumAlgo::Crc64Nvme])
    };
    if usable || !part.etag_is_md5 {
        return Ok(info);
    }
    let mut algos: Vec<ChecksumAlgo> = part
        .crc_algos
        .iter()
        .copied()
        .filter(|a| info.checksums.get(*a).is_none())
        .collect();
    algos.push(ChecksumAlgo::Md5);
    let (_, local) = checksum_file_range(part.path, part.offset, Some(part.len), &algos).await?;
    if local.get(ChecksumAlgo::Md5).as_deref() != Some(info.etag.as_str()) {
        return Err(Error::new(
            ErrorKind::LocalFileChanged,
            format!(
                "part {} of {} was rewritten after it was sent",
                part.number,
                part.path.display()
            ),
        ));
    }
    info.checksums.fill_from(&crcs_only(&local));
    Ok(info)
}

/// A part the store holds, kept when it has the local bytes: by its ETag when that is an
/// MD5, else by the checksums the store listed for it (Kodo lists each part's qetag). The
/// kept part gets the CRC-64s of those bytes, computed in the same pass.
async fn held_part_matches(part: &PartToSend<'_>, mut held: PartInfo) -> Result<Option<PartInfo>> {
    let listed: Vec<ChecksumAlgo> = if part.etag_is_md5 {
        vec![ChecksumAlgo::Md5]
    } else {
        ChecksumAlgo::ALL
            .into_iter()
            .filter(|a| held.checksums.get(*a).is_some())
            .collect()
    };
    if listed.is_empty() {
        return Ok(None);
    }
    // Both CRC-64 kinds (nearly free in the same pass): a kept part then combines with
    // newly sent parts whichever kind the store gives those (S3: NVME, OSS/COS: XZ).
    let mut algos = listed.clone();
    let crcs = [ChecksumAlgo::Crc64Nvme, ChecksumAlgo::Crc64Ecma];
    algos.extend(crcs.iter().filter(|a| !listed.contains(a)));
    let (_, local) = checksum_file_range(part.path, part.offset, Some(held.size), &algos).await?;
    let matches = if part.etag_is_md5 {
        local.get(ChecksumAlgo::Md5).as_deref() == Some(held.etag.as_str())
    } else {
        local.verify(&held.checksums).is_ok()
    };
    if !matches {
        return Ok(None);
    }
    held.checksums.fill_from(&crcs_only(&local));
    Ok(Some(held))
}

fn crcs_only(sums: &Checksums) -> Checksums {
    Checksums {
        crc64ecma: sums.crc64ecma,
        crc64nvme: sums.crc64nvme,
        ..Default::default()
    }
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
