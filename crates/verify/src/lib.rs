//! The verifier: after a recording, prove every object reached the bucket intact, or name
//! exactly what is missing or wrong.
//!
//! Presence and size come from listings (one LIST per 1 000 keys). Content is checked without
//! downloading wherever the store returns a checksum: a single-part MD5 ETag from the listing
//! when the expectation has an MD5, otherwise one HEAD for the checksums the store keeps
//! (S3 CRC64-NVME, OSS/COS CRC-64/XZ, the local store's all). Playlists are parsed and every
//! segment they name must be there. Keys under the prefix that nothing expects are orphans.

pub mod playback;

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use serde::Serialize;
use stowage_core::{Checksums, Error, ObjectMeta, ObjectStore, Result};

/// What should be in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub key: String,
    /// `None` when only the name is known (e.g. from a playlist).
    pub size: Option<u64>,
    pub checksums: Checksums,
}

/// One thing wrong, with its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    Missing {
        key: String,
    },
    OnlyInBackup {
        key: String,
    },
    SizeMismatch {
        key: String,
        expected: u64,
        found: u64,
    },
    ContentMismatch {
        key: String,
        detail: String,
    },
    Orphan {
        key: String,
    },
    PlaylistNamesMissing {
        playlist: String,
        segment: String,
    },
    PlaylistInvalid {
        playlist: String,
        detail: String,
    },
    /// Served through the playback URL, the object would not play in a browser.
    Playback {
        key: String,
        detail: String,
    },
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Objects expected.
    pub checked: usize,
    /// Present with the right size, and content proven where a checksum allowed.
    pub intact: usize,
    /// Present with the right size, but no checksum to compare (content unproven).
    pub unproven: Vec<String>,
    pub problems: Vec<Problem>,
    pub bytes: u64,
    /// Sum of the playlists' segment durations.
    pub duration_secs: f64,
    /// Requests made to the stores.
    pub requests: usize,
}

impl Report {
    /// True when nothing is missing or wrong (orphans included).
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Expectations from the pipeline's manifest (`stowage-manifest.json`).
pub fn expected_from_manifest(json: &[u8]) -> Result<Vec<Expected>> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        objects: Vec<Obj>,
    }
    #[derive(serde::Deserialize)]
    struct Obj {
        key: String,
        size: u64,
        #[serde(default)]
        checksums: BTreeMap<String, String>,
    }
    let m: Manifest = serde_json::from_slice(json)
        .map_err(|e| Error::invalid_input(format!("not a Stowage manifest: {e}")))?;
    Ok(m.objects
        .into_iter()
        .map(|o| Expected {
            key: o.key,
            size: Some(o.size),
            checksums: parse_checksums(&o.checksums),
        })
        .collect())
}

/// Checksums from a manifest's `{"md5": "…", "crc64ecma": "…", …}` (unknown names ignored).
fn parse_checksums(map: &BTreeMap<String, String>) -> Checksums {
    let mut sums = Checksums::default();
    for (name, value) in map {
        if let Ok(algo) = stowage_core::ChecksumAlgo::parse(name) {
            sums.set(algo, value);
        }
    }
    sums
}

/// How to verify, beyond what is expected.
#[derive(Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The backup bucket, to tell "only in the backup" from "missing".
    pub backup: Option<&'a dyn ObjectStore>,
    /// The manifest's own key, which is expected but not listed in itself.
    pub manifest_key: Option<&'a str>,
    /// Download every object and compare its bytes' checksums with the expectation, instead
    /// of trusting the checksums the store reports.
    pub download: bool,
    /// Objects checked at once (HEAD or GET requests in flight).
    pub concurrency: usize,
}

impl Default for VerifyOptions<'_> {
    fn default() -> Self {
        VerifyOptions {
            backup: None,
            manifest_key: None,
            download: false,
            concurrency: 16,
        }
    }
}

/// Verifies `expected` (and the playlists among them) under `prefix`.
pub async fn verify(
    primary: &dyn ObjectStore,
    backup: Option<&dyn ObjectStore>,
    prefix: &str,
    expected: &[Expected],
    manifest_key: Option<&str>,
) -> Result<Report> {
    let opts = VerifyOptions {
        backup,
        manifest_key,
        ..VerifyOptions::default()
    };
    verify_with(primary, prefix, expected, &opts).await
}

/// [`verify`] with every option.
pub async fn verify_with(
    primary: &dyn ObjectStore,
    prefix: &str,
    expected: &[Expected],
    opts: &VerifyOptions<'_>,
) -> Result<Report> {
    let mut report = Report {
        checked: expected.len(),
        ..Report::default()
    };
    let mut listed = list(primary, prefix, &mut report).await?;
    let backup_listed = match opts.backup {
        Some(b) => Some(list(b, prefix, &mut report).await?),
        None => None,
    };
    head_unlisted(primary, expected, &mut listed, opts, &mut report).await;
    let outcomes: Vec<(Outcome, usize)> = futures::stream::iter(expected)
        .map(|exp| check_one(primary, exp, &listed, backup_listed.as_ref(), opts))
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    for (outcome, requests) in outcomes {
        report.requests += requests;
        outcome.record(&mut report);
    }
    let mut named = BTreeSet::new();
    for exp in expected.iter().filter(|e| e.key.ends_with(".m3u8")) {
        named.extend(check_playlist(primary, &exp.key, &listed, &mut report).await);
    }
    let wanted: BTreeSet<&str> = expected
        .iter()
        .map(|e| e.key.as_str())
        .chain(opts.manifest_key)
        .chain(named.iter().map(String::as_str))
        .collect();
    for key in listed.keys().filter(|k| !wanted.contains(k.as_str())) {
        report.problems.push(Problem::Orphan { key: key.clone() });
    }
    Ok(report)
}

async fn list(
    store: &dyn ObjectStore,
    prefix: &str,
    report: &mut Report,
) -> Result<BTreeMap<String, ObjectMeta>> {
    let objects = store.list_all(prefix).await?;
    report.requests += objects.len() / 1000 + 1;
    Ok(objects.into_iter().map(|o| (o.key.clone(), o)).collect())
}

/// Some listings lag behind writes (COS documents it): an expected key the listing lacks gets
/// one HEAD before it is called missing. Costs nothing when everything is listed.
async fn head_unlisted(
    store: &dyn ObjectStore,
    expected: &[Expected],
    listed: &mut BTreeMap<String, ObjectMeta>,
    opts: &VerifyOptions<'_>,
    report: &mut Report,
) {
    let unlisted: Vec<&str> = expected
        .iter()
        .map(|e| e.key.as_str())
        .filter(|k| !listed.contains_key(*k))
        .collect();
    report.requests += unlisted.len();
    let found: Vec<ObjectMeta> = futures::stream::iter(unlisted)
        .map(|key| store.head(key))
        .buffer_unordered(opts.concurrency.max(1))
        .filter_map(|r| async move { r.ok() })
        .collect()
        .await;
    for meta in found {
        listed.insert(meta.key.clone(), meta);
    }
}

/// What checking one expected object found.
enum Outcome {
    Intact { bytes: u64 },
    Unproven { key: String, bytes: u64 },
    Problem(Problem),
}

impl Outcome {
    fn record(self, report: &mut Report) {
        match self {
            Outcome::Intact { bytes } => {
                report.intact += 1;
                report.bytes += bytes;
            }
            Outcome::Unproven { key, bytes } => {
                report.unproven.push(key);
                report.bytes += bytes;
            }
            Outcome::Problem(p) => report.problems.push(p),
        }
    }
}

/// Checks one object; returns what it found and the requests it made.
async fn check_one(
    store: &dyn ObjectStore,
    exp: &Expected,
    listed: &BTreeMap<String, ObjectMeta>,
    backup: Option<&BTreeMap<String, ObjectMeta>>,
    opts: &VerifyOptions<'_>,
) -> (Outcome, usize) {
    let key = exp.key.clone();
    let Some(found) = listed.get(&exp.key) else {
        let in_backup = backup.is_some_and(|b| b.contains_key(&exp.key));
        let problem = if in_backup {
            Problem::OnlyInBackup { key }
        } else {
            Problem::Missing { key }
        };
        return (Outcome::Problem(problem), 0);
    };
    if let Some(size) = exp.size.filter(|s| *s != found.size) {
        let problem = Problem::SizeMismatch {
            key,
            expected: size,
            found: found.size,
        };
        return (Outcome::Problem(problem), 0);
    }
    let bytes = found.size;
    let (checked, requests) = if opts.download {
        (download_check(store, exp).await, 1)
    } else {
        content_check(store, exp, found).await
    };
    let outcome = match checked {
        Ok(true) => Outcome::Intact { bytes },
        Ok(false) => Outcome::Unproven { key, bytes },
        Err(detail) => Outcome::Problem(Problem::ContentMismatch { key, detail }),
    };
    (outcome, requests)
}

/// `Ok(true)` when a checksum the store reports proved the content, `Ok(false)` when none
/// could be compared. Cheapest first: checksums the listing carried (Kodo's qetag, the local
/// store's), a single-part MD5 ETag, then one HEAD. Returns the requests made.
async fn content_check(
    store: &dyn ObjectStore,
    exp: &Expected,
    found: &ObjectMeta,
) -> (std::result::Result<bool, String>, usize) {
    if exp.checksums.is_empty() {
        return (Ok(false), 0);
    }
    match exp.checksums.verify(&found.checksums) {
        Ok(0) => {}
        Ok(_) => return (Ok(true), 0),
        Err(e) => return (Err(e.message().to_string()), 0),
    }
    // A single-part ETag is the MD5 (no request needed), unless the store says otherwise.
    if let (Some(md5), Some(etag)) = (
        exp.checksums.get(stowage_core::ChecksumAlgo::Md5),
        found.etag.as_deref(),
    ) && etag.len() == 32
        && !etag.contains('-')
        && store.capabilities().part_etag_is_md5
    {
        return if etag.eq_ignore_ascii_case(&md5) {
            (Ok(true), 0)
        } else {
            (Err(format!("MD5 ETag {etag} is not the expected {md5}")), 0)
        };
    }
    let checked = match store.head(&exp.key).await {
        Err(e) => Err(e.to_string()),
        Ok(head) => match exp.checksums.verify(&head.checksums) {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) => Err(e.message().to_string()),
        },
    };
    (checked, 1)
}

/// `--download`: reads every byte back and compares its checksums with the expectation.
async fn download_check(
    store: &dyn ObjectStore,
    exp: &Expected,
) -> std::result::Result<bool, String> {
    let algos: Vec<stowage_core::ChecksumAlgo> = stowage_core::ChecksumAlgo::ALL
        .into_iter()
        .filter(|a| exp.checksums.get(*a).is_some())
        .collect();
    let got = store.get(&exp.key, None).await.map_err(|e| e.to_string())?;
    let mut hasher = stowage_core::checksum::Hasher::new(&algos);
    let mut stream = got.body;
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk.map_err(|e| format!("download failed: {e}"))?);
    }
    let size = hasher.len();
    let sums = hasher.finish();
    if let Some(expected) = exp.size.filter(|s| *s != size) {
        return Err(format!("downloaded {size} bytes, expected {expected}"));
    }
    match exp.checksums.verify(&sums) {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        Err(e) => Err(format!("downloaded bytes: {}", e.message())),
    }
}

/// Checks one playlist; returns the keys of the segments it names.
async fn check_playlist(
    store: &dyn ObjectStore,
    key: &str,
    listed: &BTreeMap<String, ObjectMeta>,
    report: &mut Report,
) -> Vec<String> {
    if !listed.contains_key(key) {
        return Vec::new(); // already reported as missing
    }
    report.requests += 1;
    let text = match store.get(key, None).await {
        Ok(g) => match g.bytes().await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => return invalid(report, key, e.to_string()),
        },
        Err(e) => return invalid(report, key, e.to_string()),
    };
    let playlist = match stowage_hls::parse(&text) {
        Ok(p) => p,
        Err(e) => return invalid(report, key, e.to_string()),
    };
    if let Ok(v) = stowage_hls::validate(&text) {
        for x in v.iter().filter(|x| x.level == stowage_hls::Level::Error) {
            report.problems.push(Problem::PlaylistInvalid {
                playlist: key.into(),
                detail: format!("[{}] {}", x.rule, x.message),
            });
        }
    }
    report.duration_secs += playlist.duration().as_secs_f64();
    let base = key
        .rsplit_once('/')
        .map_or(String::new(), |(d, _)| format!("{d}/"));
    let mut named = Vec::new();
    for seg in playlist.segments.iter().filter(|s| !s.uri.contains("://")) {
        let seg_key = format!("{base}{}", seg.uri);
        if !listed.contains_key(&seg_key) {
            report.problems.push(Problem::PlaylistNamesMissing {
                playlist: key.into(),
                segment: seg_key.clone(),
            });
        }
        named.push(seg_key);
    }
    named
}

fn invalid(report: &mut Report, playlist: &str, detail: String) -> Vec<String> {
    report.problems.push(Problem::PlaylistInvalid {
        playlist: playlist.into(),
        detail,
    });
    Vec::new()
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
            size: None,
            checksums: Checksums::default(),
        })
        .collect())
}

fn collect_file_lists(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                if k == "fileList" {
                    match child {
                        serde_json::Value::String(name) if !name.is_empty() => {
                            out.insert(name.clone());
                        }
                        serde_json::Value::Array(items) => {
                            for item in items {
                                if let Some(name) = item
                                    .get("fileName")
                                    .or_else(|| item.get("filename"))
                                    .and_then(|n| n.as_str())
                                {
                                    out.insert(name.to_string());
                                }
                            }
                        }
                        _ => {}
                    }
                } else {
                    collect_file_lists(child, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_file_lists(i, out)),
        _ => {}
    }
}

/// Expectations from a local recording directory (`.stowage/` skipped): every file's size and
/// its MD5, CRC64-NVME and CRC-64/XZ, under `prefix`.
pub async fn expected_from_dir(dir: &std::path::Path, prefix: &str) -> Result<Vec<Expected>> {
    let mut out = Vec::new();
    for f in stowage_core::fsutil::local_files(dir)? {
        let algos = [
            stowage_core::ChecksumAlgo::Md5,
            stowage_core::ChecksumAlgo::Crc64Nvme,
            stowage_core::ChecksumAlgo::Crc64Ecma,
        ];
        let (size, checksums) = stowage_core::checksum::checksum_file(&f.path, &algos).await?;
        out.push(Expected {
            key: join(prefix, &f.rel),
            size: Some(size),
            checksums,
        });
    }
    Ok(out)
}

fn join(prefix: &str, rel: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        rel.to_string()
    } else {
        format!("{p}/{rel}")
    }
}

/// Where repairs come from.
pub enum RepairSource<'a> {
    /// The local spool: `dir/<key without prefix>`.
    Dir {
        dir: &'a std::path::Path,
        prefix: &'a str,
    },
    /// Another bucket holding the same keys (the backup).
    Store(&'a dyn ObjectStore),
}

/// What `repair` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairOutcome {
    pub repaired: Vec<String>,
    /// Keys that could not be repaired, with why.
    pub not_repaired: Vec<(String, String)>,
}

/// Re-uploads every missing, truncated or altered object (and every segment a playlist
/// names but the bucket lacks) from `source`. Orphans are left alone: they are reported.
pub async fn repair(
    primary: &dyn ObjectStore,
    report: &Report,
    source: RepairSource<'_>,
) -> RepairOutcome {
    let mut keys = BTreeSet::new();
    for p in &report.problems {
        match p {
            Problem::Missing { key }
            | Problem::OnlyInBackup { key }
            | Problem::SizeMismatch { key, .. }
            | Problem::ContentMismatch { key, .. } => {
                keys.insert(key.clone());
            }
            Problem::PlaylistNamesMissing { segment, .. } => {
                keys.insert(segment.clone());
            }
            Problem::Orphan { .. } | Problem::PlaylistInvalid { .. } | Problem::Playback { .. } => {
            }
        }
    }
    // The rule every playlist write keeps: media first, a playlist only once every object
    // repaired with it is confirmed (a playlist must never name what is not there).
    let (playlists, media): (Vec<String>, Vec<String>) = keys
        .into_iter()
        .partition(|k| k.to_ascii_lowercase().ends_with(".m3u8"));
    let mut outcome = RepairOutcome::default();
    for key in media {
        match repair_one(primary, &key, &source).await {
            Ok(()) => outcome.repaired.push(key),
            Err(e) => outcome.not_repaired.push((key, e.to_string())),
        }
    }
    let media_failed = outcome.not_repaired.len();
    for key in playlists {
        if media_failed > 0 {
            let why = format!(
                "not re-published: {media_failed} segment(s) repaired with it are still missing"
            );
            outcome.not_repaired.push((key, why));
            continue;
        }
        match repair_one(primary, &key, &source).await {
            Ok(()) => outcome.repaired.push(key),
            Err(e) => outcome.not_repaired.push((key, e.to_string())),
        }
    }
    outcome
}

async fn repair_one(primary: &dyn ObjectStore, key: &str, source: &RepairSource<'_>) -> Result<()> {
    let cfg = stowage_core::upload::UploadConfig::default();
    let opts = stowage_core::PutOptions::default();
    match source {
        RepairSource::Dir { dir, prefix } => {
            let p = prefix.trim_matches('/');
            let rel = if p.is_empty() {
                key
            } else {
                key.strip_prefix(&format!("{p}/")).unwrap_or(key)
            };
            let path = dir.join(rel);
            if !path.is_file() {
                return Err(Error::invalid_input(format!(
                    "{} is not in the spool",
                    path.display()
                ))
                .with_key(key));
            }
            stowage_core::upload::put_file(primary, key, &path, &opts, &cfg)
                .await
                .map(|_| ())
        }
        RepairSource::Store(from) => {
            let tmp = std::env::temp_dir().join(format!("stowage-repair-{}", std::process::id()));
            std::fs::create_dir_all(&tmp).map_err(|e| Error::local_io(&tmp, e))?;
            let file = tmp.join(key.replace('/', "_"));
            from.get(key, None).await?.write_to_file(&file).await?;
            let result = stowage_core::upload::put_file(primary, key, &file, &opts, &cfg)
                .await
                .map(|_| ());
            let _ = std::fs::remove_file(&file);
            result
        }
    }
}

/// Expectations from a playlist in the bucket and its siblings: the copies Agora's backup
/// cloud re-sent (`…_<tick>_<index>.m3u8`) and failover continuations (`bak<n>_…`), found by
/// listing the playlist's directory. Returns the playlists found (the segments they name are
/// checked by [`verify`]).
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
            checksums: Checksums::default(),
        })
        .collect();
    if !found.iter().any(|e| e.key == playlist_key) {
        found.push(Expected {
            key: playlist_key.to_string(),
            size: None,
            checksums: Checksums::default(),
        });
    }
    Ok(found)
}
