//! What should be in the bucket: from Stowage's manifest, an Agora response or webhook, a
//! local recording directory, or a playlist in the bucket and its siblings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use stowage_core::{ChecksumAlgo, Checksums, Error, ObjectStore, Result};

use crate::layout;

/// What should be in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expected {
    pub key: String,
    /// `None` when only the name is known (e.g. from a playlist).
    pub size: Option<u64>,
    pub checksums: Checksums,
    /// The ETag the object had when its upload was proven (from Stowage's manifest): the
    /// same ETag in a listing means the same object, unchanged since. For a multipart object
    /// (S3's `md5(part MD5s)-N`, Kodo's qetag v2) it comes with the layout that produced it,
    /// which `--dir` recomputes from the local file.
    pub etag: Option<String>,
    /// How a multipart upload split the file (from Stowage's manifest).
    pub parts: Option<PartLayout>,
}

pub use stowage_core::PartLayout;

fn read_manifest(json: &[u8]) -> Result<stowage_core::Manifest> {
    stowage_core::Manifest::from_json(json)
}

/// Expectations from the pipeline's manifest (`stowage-manifest.json`).
pub fn expected_from_manifest(json: &[u8]) -> Result<Vec<Expected>> {
    Ok(read_manifest(json)?
        .objects
        .into_iter()
        .map(|o| Expected {
            key: o.key,
            size: Some(o.size),
            checksums: parse_checksums(&o.checksums),
            // The ETag the store gave the proven upload: the object's identity since.
            etag: o.etag,
            parts: o.parts,
        })
        .collect())
}

/// Checksums from a manifest's `{"md5": "…", "crc64ecma": "…", …}` (unknown names ignored).
fn parse_checksums(map: &BTreeMap<String, String>) -> Checksums {
    let mut sums = Checksums::default();
    for (name, value) in map {
        if let Ok(algo) = ChecksumAlgo::parse(name) {
            sums.set(algo, value);
        }
    }
    sums
}

/// Expectations from an Agora response or webhook: every `fileList` anywhere in the JSON —
/// a string (the M3U8 name, `fileListMode: "string"`, event 4) or an array of entries with
/// `fileName` (or `filename`, web-page mode). Only names are known: sizes and contents come
/// from the playlists and the listing.
pub fn expected_from_agora(json: &[u8]) -> Result<Vec<Expected>> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| Error::invalid_input(format!("not JSON: {e}")))?;
    let mut names = BTreeSet::new();
    collect_file_lists(&v, &mut names);
    if names.is_empty() {
        return Err(Error::invalid_input(
            "no fileList in this Agora response or webhook (events 31/32 and query/stop responses carry one)",
        ));
    }
    Ok(names
        .into_iter()
        .map(|key| Expected {
            key,
            ..Expected::default()
        })
        .collect())
}

fn collect_file_lists(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                if k == "fileList" {
                    file_list_names(child, out);
                } else {
                    collect_file_lists(child, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_file_lists(i, out)),
        _ => {}
    }
}

fn file_list_names(list: &serde_json::Value, out: &mut BTreeSet<String>) {
    match list {
        serde_json::Value::String(name) if !name.is_empty() => {
            out.insert(name.clone());
        }
        serde_json::Value::Array(items) => {
            let names = items.iter().filter_map(|item| {
                item.get("fileName")
                    .or_else(|| item.get("filename"))
                    .and_then(|n| n.as_str())
            });
            out.extend(names.map(str::to_string));
        }
        _ => {}
    }
}

/// `name` as a key of the recording under `prefix`: Agora's file names carry their
/// `fileNamePrefix` already, so a name under the prefix stays as it is; a bare one is put
/// below it.
pub fn key_under(prefix: &str, name: &str) -> String {
    let p = prefix.trim_matches('/');
    let name = name.trim_start_matches('/');
    if p.is_empty() || name.starts_with(&format!("{p}/")) {
        name.to_string()
    } else {
        format!("{p}/{name}")
    }
}

/// Expectations from a local recording directory (`.stowage/` skipped): every file's size,
/// MD5, CRC64-NVME, CRC-64/XZ and qetag, under `prefix`. When the directory was uploaded by
/// Stowage (its `.stowage/manifest.json` names the part layout of each multipart object),
/// those files also get the ETags that layout gives: Kodo's qetag v2 and S3's multipart
/// ETag, computed from the local bytes.
pub async fn expected_from_dir(dir: &Path, prefix: &str) -> Result<Vec<Expected>> {
    let layouts = spool_layouts(dir);
    let algos = [
        ChecksumAlgo::Md5,
        ChecksumAlgo::Crc64Nvme,
        ChecksumAlgo::Crc64Ecma,
        ChecksumAlgo::Qetag,
    ];
    let mut out = Vec::new();
    for f in stowage_core::fsutil::local_files(dir)? {
        let (size, mut checksums) = stowage_core::checksum::checksum_file(&f.path, &algos).await?;
        let mut exp = Expected {
            key: key_under(prefix, &f.rel),
            size: Some(size),
            ..Expected::default()
        };
        if let Some(parts) = layouts.get(&f.rel).filter(|p| p.count > 1) {
            let made = layout::etags_of_file(&f.path, *parts).await?;
            checksums.qetag = Some(made.qetag);
            exp.etag = Some(made.s3_etag);
            exp.parts = Some(*parts);
        }
        exp.checksums = checksums;
        out.push(exp);
    }
    Ok(out)
}

/// The part layouts in a spool's own copy of its manifest, by path relative to the spool.
/// A spool without one (not uploaded by Stowage) has none.
fn spool_layouts(dir: &Path) -> BTreeMap<String, PartLayout> {
    let path = dir
        .join(stowage_core::fsutil::STATE_DIR)
        .join("manifest.json");
    let Some(manifest) = std::fs::read(&path)
        .ok()
        .and_then(|j| read_manifest(&j).ok())
    else {
        return BTreeMap::new();
    };
    let prefix = manifest.prefix.trim_matches('/').to_string();
    manifest
        .objects
        .into_iter()
        .filter_map(|o| {
            let rel = match prefix.as_str() {
                "" => o.key.clone(),
                p => o.key.strip_prefix(&format!("{p}/"))?.to_string(),
            };
            Some((rel, o.parts?))
        })
        .collect()
}

/// Expectations from a playlist in the bucket and its siblings: the copies Agora's backup
/// cloud re-sent (`…_<tick>_<index>.m3u8`) and failover continuations (`bak<n>_…`), found by
/// listing the playlist's directory. Returns the playlists found (the segments they name are
/// checked by [`crate::verify`]).
pub async fn expected_from_playlist(
    store: &dyn ObjectStore,
    playlist_key: &str,
) -> Result<Vec<Expected>> {
    let (dir, file) = playlist_key
        .rsplit_once('/')
        .map_or(("", playlist_key), |(d, f)| (d, f));
    let base = stowage_hls::agora::parse_playlist_name(file).base;
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut found: Vec<Expected> = store
        .list_all(&prefix)
        .await?
        .into_iter()
        .filter(|o| {
            let name = &o.key[prefix.len()..];
            !name.contains('/')
                && name.ends_with(".m3u8")
                && stowage_hls::agora::parse_playlist_name(name).base == base
        })
        .map(|o| Expected {
            key: o.key,
            size: Some(o.size),
            ..Expected::default()
        })
        .collect();
    if !found.iter().any(|e| e.key == playlist_key) {
        found.push(Expected {
            key: playlist_key.to_string(),
            ..Expected::default()
        });
    }
    Ok(found)
}
