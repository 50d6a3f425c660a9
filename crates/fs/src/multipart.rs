//! Multipart uploads for the local store: `root/.stowage/uploads/<id>/` holds `upload.json`
//! and each part as `part-NNNNN` with its `part-NNNNN.json` (size, MD5 ETag).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stowage_core::checksum::Hasher;
use stowage_core::{
    ChecksumAlgo, Error, ErrorKind, MultipartUpload, ObjectMeta, PartInfo, PutBody, PutOptions,
    Result,
};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

use crate::{FsStore, INTERNAL_DIR, write_hashed};

const MAX_PART_NUMBER: u32 = 10_000;

#[derive(Debug, Serialize, Deserialize)]
struct UploadRecord {
    key: String,
    initiated_unix: i64,
    content_type: Option<String>,
    metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PartRecord {
    size: u64,
    etag: String,
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

fn json_err(e: serde_json::Error) -> Error {
    Error::new(
        ErrorKind::Other,
        format!("local upload state is unreadable: {e}"),
    )
}

pub async fn create(store: &FsStore, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
    let id = uuid::Uuid::new_v4().to_string();
    let dir = uploads_dir(store).join(&id);
    let io = |e| Error::local_io(&dir, e).with_key(key);
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let now = OffsetDateTime::now_utc();
    let record = UploadRecord {
        key: key.to_string(),
        initiated_unix: now.unix_timestamp(),
        content_type: opts.content_type.clone(),
        metadata: opts.metadata.clone(),
    };
    let json = serde_json::to_vec(&record).map_err(json_err)?;
    tokio::fs::write(dir.join("upload.json"), json)
        .await
        .map_err(io)?;
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
    let tmp = store.temp_path().await?;
    let (size, sums) = match write_hashed(&tmp, body).await {
        Ok(v) => v,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.or_key(&upload.key));
        }
    };
    let etag = sums.get(ChecksumAlgo::Md5).unwrap_or_default();
    let name = format!("part-{part_number:05}");
    let io = |e| Error::local_io(&dir, e).with_key(&upload.key);
    tokio::fs::rename(&tmp, dir.join(&name)).await.map_err(io)?;
    let record = serde_json::to_vec(&PartRecord {
        size,
        etag: etag.clone(),
    })
    .map_err(json_err)?;
    tokio::fs::write(dir.join(format!("{name}.json")), record)
        .await
        .map_err(io)?;
    Ok(PartInfo {
        part_number,
        etag,
        size,
        checksums: Default::default(),
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
        let bytes = tokio::fs::read(entry.path()).await.map_err(io)?;
        let rec: PartRecord = serde_json::from_slice(&bytes).map_err(json_err)?;
        parts.push(PartInfo {
            part_number,
            etag: rec.etag,
            size: rec.size,
            checksums: Default::default(),
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
    let record: UploadRecord = {
        let bytes = tokio::fs::read(dir.join("upload.json"))
            .await
            .map_err(|e| Error::local_io(&dir, e))?;
        serde_json::from_slice(&bytes).map_err(json_err)?
    };
    check_parts(parts, &list_parts(store, upload).await?, upload)?;
    let tmp = store.temp_path().await?;
    let sums = match concat_parts(&dir, parts, &tmp).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.or_key(&upload.key));
        }
    };
    let opts = PutOptions {
        content_type: record.content_type,
        checksums: None,
        metadata: record.metadata,
    };
    let meta = store.publish(&upload.key, &tmp, sums, &opts).await?;
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

async fn concat_parts(
    dir: &std::path::Path,
    parts: &[PartInfo],
    tmp: &std::path::Path,
) -> Result<stowage_core::Checksums> {
    use tokio::io::AsyncReadExt;
    let io = |e| Error::local_io(tmp, e);
    let mut out = tokio::fs::File::create(tmp).await.map_err(io)?;
    let mut hasher = Hasher::new(&ChecksumAlgo::ALL);
    let mut buf = vec![0u8; 1 << 20];
    for p in parts {
        let path = dir.join(format!("part-{:05}", p.part_number));
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Error::local_io(&path, e))?;
        loop {
            let n = f
                .read(&mut buf)
                .await
                .map_err(|e| Error::local_io(&path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).await.map_err(io)?;
        }
    }
    out.sync_all().await.map_err(io)?;
    Ok(hasher.finish())
}

pub async fn abort(store: &FsStore, upload: &MultipartUpload) -> Result<()> {
    let dir = upload_dir(store, upload)?;
    tokio::fs::remove_dir_all(&dir)
        .await
        .map_err(|e| Error::local_io(&dir, e).with_key(&upload.key))
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
        let rec: UploadRecord = serde_json::from_slice(&bytes).map_err(json_err)?;
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
