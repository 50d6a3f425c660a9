//! Multipart uploads for the local store: `root/.stowage/uploads/<id>/` holds `upload.json`
//! and each part as `part-NNNNN` with its `part-NNNNN.json` (size, MD5 ETag, and the CRC-64s
//! of the bytes the part file holds, read back when it was written).
//!
//! Every file here is written like an object (temporary file, fsync, rename, fsync of the
//! directory), so a full disk never leaves an empty or short record or part. A part's
//! record is its proof: it is removed before a part is replaced and renamed in last, and
//! `list_parts` reports a part only when its record is readable and its file has the
//! recorded size; anything else is a part not uploaded, which the caller sends again.
//! Completion checks each part's size, joins the parts with the kernel's copy, and checks
//! the whole object (its CRC-64s combined from the parts', or read back for parts recorded
//! without them) against the checksums given to `create_multipart`, if any, before it is
//! put in place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stowage_core::checksum::{Hasher, crc64ecma_combine, crc64nvme_combine};
use stowage_core::{
    ChecksumAlgo, Checksums, Error, ErrorKind, MultipartUpload, ObjectMeta, PartInfo, PutBody,
    PutOptions, Result,
};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

use crate::atomic::{TempFile, blocking, finish, finish_blocking, io_err, sync_dir, write_small};
use crate::{FsStore, INTERNAL_DIR, KEPT, Written, kept};

const MAX_PART_NUMBER: u32 = 10_000;

/// A part's ETag is its MD5; its CRC-64s come from the same read-back pass.
const PART_ALGOS: [ChecksumAlgo; 3] = [
    ChecksumAlgo::Md5,
    ChecksumAlgo::Crc64Ecma,
    ChecksumAlgo::Crc64Nvme,
];

#[derive(Debug, Serialize, Deserialize)]
struct UploadRecord {
    key: String,
    initiated_unix: i64,
    content_type: Option<String>,
    metadata: std::collections::BTreeMap<String, String>,
    /// The whole object's checksums as given to `create_multipart`, checked at completion.
    #[serde(default)]
    checksums: Option<Checksums>,
}

/// Whether `bytes` are a readable `upload.json`.
pub(crate) fn is_upload_record(bytes: &[u8]) -> bool {
    serde_json::from_slice::<UploadRecord>(bytes).is_ok()
}

#[derive(Debug, Serialize, Deserialize)]
struct PartRecord {
    size: u64,
    etag: String,
    /// The CRC-64s of the part's bytes (absent in records of older versions).
    #[serde(default)]
    checksums: Checksums,
}

fn uploads_dir(store: &FsStore) -> PathBuf {
    store.root.join(INTERNAL_DIR).join("uploads")
}

/// The directory of `upload`, checking the id cannot name anything else.
fn upload_dir(store: &FsStore, upload: &MultipartUpload) -> Result<PathBuf> {
    if uuid::Uuid::parse_str(&upload.upload_id).is_err() {
        return Err(no_such_upload(upload));
    }
    let dir = uploads_dir(store).join(&upload.upload_id);
    if !dir.join("upload.json").is_file() {
        return Err(no_such_upload(upload));
    }
    Ok(dir)
}

fn no_such_upload(upload: &MultipartUpload) -> Error {
    Error::new(
        ErrorKind::UploadNotFound,
        format!("no multipart upload with id {}", upload.upload_id),
    )
    .with_key(&upload.key)
}

fn json_err(path: &Path, e: serde_json::Error) -> Error {
    Error::new(
        ErrorKind::LocalIo,
        format!(
            "the multipart upload state {} is unreadable: {e}",
            path.display()
        ),
    )
}

/// Writes `bytes` durably at `dest` (in `dir`) through a temporary file.
async fn write_record(store: &FsStore, dir: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = store.temp_file().await?;
    write_small(store.root(), &tmp, bytes).await?;
    tmp.rename_to(dest)
        .await
        .map_err(|e| store.io_err(dest, e))?;
    sync_dir(store.root(), dir).await
}

pub async fn create(store: &FsStore, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
    let id = uuid::Uuid::new_v4().to_string();
    let dir = uploads_dir(store).join(&id);
    let now = OffsetDateTime::now_utc();
    let record = UploadRecord {
        key: key.to_string(),
        initiated_unix: now.unix_timestamp(),
        content_type: opts.content_type.clone(),
        metadata: opts.metadata.clone(),
        checksums: opts.checksums.clone(),
    };
    let json = serde_json::to_vec(&record).map_err(|e| json_err(&dir, e))?;
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| store.io_err(&dir, e).with_key(key))?;
    if let Err(e) = write_record(store, &dir, &dir.join("upload.json"), &json).await {
        let _ = tokio::fs::remove_dir_all(&dir).await;
        return Err(e.with_key(key));
    }
    Ok(MultipartUpload {
        key: key.to_string(),
        upload_id: id,
        initiated: Some(now),
    })
}

pub async fn upload_part(
    store: &FsStore,
    upload: &MultipartUpload,
    part_number: u32,
    body: PutBody,
) -> Result<PartInfo> {
    if !(1..=MAX_PART_NUMBER).contains(&part_number) {
        return Err(Error::invalid_input(format!(
            "part number {part_number} is outside 1..=10000"
        ))
        .with_key(&upload.key));
    }
    let dir = upload_dir(store, upload)?;
    let key = upload.key.as_str();
    let (mut tmp, written) = store
        .write_body(body, &PART_ALGOS)
        .await
        .map_err(|e| e.or_key(key))?;
    let etag = written.sums.get(ChecksumAlgo::Md5).unwrap_or_default();
    let crcs = kept(&written.sums);
    let record = serde_json::to_vec(&PartRecord {
        size: written.size,
        etag: etag.clone(),
        checksums: crcs.clone(),
    })
    .map_err(|e| json_err(&dir, e))?;
    let mut record_tmp = store.temp_file().await.map_err(|e| e.with_key(key))?;
    write_small(store.root(), &record_tmp, &record)
        .await
        .map_err(|e| e.with_key(key))?;

    let name = format!("part-{part_number:05}");
    let part_path = dir.join(&name);
    let record_path = dir.join(format!("{name}.json"));
    let io = |p: &Path, e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() {
            no_such_upload(upload) // aborted or completed meanwhile
        } else {
            store.io_err(p, e).with_key(key)
        }
    };
    // The old record goes first: from here until the new one is in place, the part is
    // simply not uploaded.
    match tokio::fs::remove_file(&record_path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&record_path, e)),
    }
    tmp.rename_to(&part_path)
        .await
        .map_err(|e| io(&part_path, e))?;
    let placed = match record_tmp.rename_to(&record_path).await {
        Ok(()) => sync_dir(store.root(), &dir).await,
        Err(e) => Err(io(&record_path, e)),
    };
    if let Err(e) = placed {
        // A part without its record is not uploaded; do not let it hold space.
        let _ = tokio::fs::remove_file(&record_path).await;
        let _ = tokio::fs::remove_file(&part_path).await;
        return Err(e.or_key(key));
    }
    // The CRC-64s describe the bytes the part file holds (read back), which is what the
    // caller's proof combines into the file's.
    Ok(PartInfo {
        part_number,
        etag,
        size: written.size,
        checksums: crcs,
    })
}

pub async fn list_parts(store: &FsStore, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
    let dir = upload_dir(store, upload)?;
    let io = |e| Error::local_io(&dir, e).with_key(&upload.key);
    let mut entries = tokio::fs::read_dir(&dir).await.map_err(io)?;
    let mut parts = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(io)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("part-")
            .and_then(|r| r.strip_suffix(".json"))
        else {
            continue;
        };
        let Ok(part_number) = n.parse::<u32>() else {
            continue;
        };
        // Damage (an empty record from older versions, a part of another size) means the
        // part is not uploaded: the caller sends it again.
        let Some(rec) = tokio::fs::read(entry.path())
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<PartRecord>(&b).ok())
        else {
            tracing::warn!(path = %entry.path().display(), "ignoring an unreadable part record");
            continue;
        };
        let part_len = tokio::fs::metadata(dir.join(format!("part-{part_number:05}")))
            .await
            .ok()
            .map(|m| m.len());
        if part_len != Some(rec.size) {
            tracing::warn!(part_number, key = %upload.key, "ignoring a part whose file does not match its record");
            continue;
        }
        parts.push(PartInfo {
            part_number,
            etag: rec.etag,
            size: rec.size,
            checksums: kept(&rec.checksums),
        });
    }
    parts.sort_by_key(|p| p.part_number);
    Ok(parts)
}

pub async fn complete(
    store: &FsStore,
    upload: &MultipartUpload,
    parts: &[PartInfo],
) -> Result<ObjectMeta> {
    let dir = upload_dir(store, upload)?;
    let key = upload.key.as_str();
    let record: UploadRecord = {
        let path = dir.join("upload.json");
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| store.io_err(&path, e).with_key(key))?;
        serde_json::from_slice(&bytes).map_err(|e| json_err(&path, e).with_key(key))?
    };
    let held = list_parts(store, upload).await?;
    check_parts(parts, &held, upload)?;
    let (tmp, written) = concat_parts(store, &dir, parts, &held)
        .await
        .map_err(|e| e.or_key(key))?;
    if let Some(given) = &record.checksums
        && let Err(e) = given.verify(&written.sums)
    {
        return Err(Error::new(
            ErrorKind::ChecksumMismatch,
            format!(
                "the parts joined differ from the checksums given when the upload was \
                 created, nothing was stored: {}",
                e.message()
            ),
        )
        .with_key(key));
    }
    let opts = PutOptions {
        content_type: record.content_type,
        checksums: None,
        metadata: record.metadata,
    };
    let meta = store.publish(key, tmp, written, &opts).await?;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    Ok(meta)
}

/// The caller's part list must be ascending and name parts the store holds, ETag for ETag.
fn check_parts(given: &[PartInfo], held: &[PartInfo], upload: &MultipartUpload) -> Result<()> {
    let bad = |msg: String| Err(Error::invalid_input(msg).with_key(&upload.key));
    if given.is_empty() {
        return bad("a multipart upload needs at least one part".into());
    }
    if given
        .windows(2)
        .any(|w| w[0].part_number >= w[1].part_number)
    {
        return bad("parts must be listed in ascending part-number order".into());
    }
    for p in given {
        match held.iter().find(|h| h.part_number == p.part_number) {
            None => return bad(format!("part {} was never uploaded", p.part_number)),
            Some(h) if h.etag != p.etag.trim_matches('"') => {
                return bad(format!(
                    "part {} has ETag {} in the store, not {}",
                    p.part_number, h.etag, p.etag
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Joins `parts` into a temporary file; each part must hold the size its record says
/// (`held`). With every part's CRC-64s recorded, the parts are joined by the kernel's copy
/// and the object's CRC-64s combined from theirs; otherwise the parts are read and hashed.
async fn concat_parts(
    store: &FsStore,
    dir: &Path,
    parts: &[PartInfo],
    held: &[PartInfo],
) -> Result<(TempFile, Written)> {
    let files: Vec<(PathBuf, &PartInfo)> = parts
        .iter()
        .filter_map(|p| {
            let h = held.iter().find(|h| h.part_number == p.part_number)?;
            Some((dir.join(format!("part-{:05}", p.part_number)), h))
        })
        .collect();
    let combined = combine(files.iter().map(|(_, h)| *h));
    let tmp = store.temp_file().await?;
    let Some(sums) = combined else {
        let written = concat_hashing(store, &files, &tmp).await?;
        return Ok((tmp, written));
    };
    let (root, dst) = (store.root().to_path_buf(), tmp.path().to_path_buf());
    let jobs: Vec<(PathBuf, u64)> = files.iter().map(|(p, h)| (p.clone(), h.size)).collect();
    let written = blocking(move || {
        let mut out = TempFile::create_blocking(&dst).map_err(|e| io_err(&root, &dst, e))?;
        let mut total = 0u64;
        for (path, want) in &jobs {
            let mut f = std::fs::File::open(path).map_err(|e| io_err(&root, path, e))?;
            let got = std::io::copy(&mut f, &mut out).map_err(|e| io_err(&root, &dst, e))?;
            if got != *want {
                return Err(short_part(path, got, *want));
            }
            total += got;
        }
        let stat = finish_blocking(&root, &out, &dst, total)?;
        Ok(Written {
            size: total,
            sums,
            stat,
        })
    })
    .await?;
    Ok((tmp, written))
}

/// The object's CRC-64s from its parts', when every part has both.
fn combine<'a>(parts: impl Iterator<Item = &'a PartInfo>) -> Option<Checksums> {
    let (mut ecma, mut nvme) = (0u64, 0u64);
    for p in parts {
        ecma = crc64ecma_combine(ecma, p.checksums.crc64ecma?, p.size);
        nvme = crc64nvme_combine(nvme, p.checksums.crc64nvme?, p.size);
    }
    Some(Checksums {
        crc64ecma: Some(ecma),
        crc64nvme: Some(nvme),
        ..Default::default()
    })
}

fn short_part(path: &Path, got: u64, want: u64) -> Error {
    Error::new(
        ErrorKind::LocalIo,
        format!(
            "part {} holds {got} bytes, its record says {want}",
            path.display()
        ),
    )
}

/// Joins the parts by reading and hashing them (parts recorded without CRC-64s).
async fn concat_hashing(
    store: &FsStore,
    files: &[(PathBuf, &PartInfo)],
    tmp: &TempFile,
) -> Result<Written> {
    use tokio::io::AsyncReadExt;
    let io = |e| store.io_err(tmp.path(), e);
    let mut out = tmp.create().await.map_err(io)?;
    let mut hasher = Hasher::new(&KEPT);
    let mut buf = vec![0u8; 1 << 20];
    for (path, held) in files {
        let before = hasher.len();
        let mut f = tokio::fs::File::open(path)
            .await
            .map_err(|e| store.io_err(path, e))?;
        loop {
            let n = f.read(&mut buf).await.map_err(|e| store.io_err(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).await.map_err(io)?;
        }
        if hasher.len() - before != held.size {
            return Err(short_part(path, hasher.len() - before, held.size));
        }
    }
    let stat = finish(store.root(), out, tmp.path(), hasher.len()).await?;
    Ok(Written {
        size: hasher.len(),
        sums: hasher.finish(),
        stat,
    })
}

pub async fn abort(store: &FsStore, upload: &MultipartUpload) -> Result<()> {
    let dir = upload_dir(store, upload)?;
    tokio::fs::remove_dir_all(&dir)
        .await
        .map_err(|e| store.io_err(&dir, e).with_key(&upload.key))
}

pub async fn list_uploads(store: &FsStore, prefix: &str) -> Result<Vec<MultipartUpload>> {
    let dir = uploads_dir(store);
    let io = |e| Error::local_io(&dir, e);
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(io)? {
        let Ok(bytes) = tokio::fs::read(entry.path().join("upload.json")).await else {
            continue; // being created or removed right now
        };
        // An unreadable record (older versions wrote it in place) cannot name its key;
        // the sweep removes it once old.
        let Ok(rec) = serde_json::from_slice::<UploadRecord>(&bytes) else {
            tracing::warn!(dir = %entry.path().display(), "ignoring a multipart upload whose record is unreadable");
            continue;
        };
        if rec.key.starts_with(prefix) {
            out.push(MultipartUpload {
                key: rec.key,
                upload_id: entry.file_name().to_string_lossy().into_owned(),
                initiated: OffsetDateTime::from_unix_timestamp(rec.initiated_unix).ok(),
            });
        }
    }
    out.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
    Ok(out)
}
