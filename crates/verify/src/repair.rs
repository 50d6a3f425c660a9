//! Repairs: what the verifier found missing or wrong, sent again from the spool or another
//! bucket, media before playlists.

use std::collections::BTreeSet;

use serde::Serialize;
use stowage_core::{Error, ObjectStore, Result};

use crate::{Problem, Report};

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
            Problem::Orphan { .. }
            | Problem::PlaylistInvalid { .. }
            | Problem::Gap { .. }
            | Problem::Playback { .. } => {}
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
