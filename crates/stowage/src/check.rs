//! Is every object of a recording in the bucket, intact? One call from a bucket URL and
//! what to compare with (the manifest, an Agora response, the spool, or a playlist), with
//! the backup bucket, a playback check, and a repair followed by a second verification.

use std::path::PathBuf;
use std::sync::Arc;

use stowage_core::{Error, ErrorKind, ObjectStore, StorageUrl};
use stowage_verify::playback::{PlaybackCheck, UrlSigner};
use stowage_verify::{Expected, Problem, RepairOutcome, RepairSource, Report, VerifyOptions};

use crate::open::{OpenError, locate, open_url};
use crate::place::{Place, StoreSigner, resolve};
use crate::settings::Settings;

/// What the recording is compared with.
#[derive(Debug, Clone)]
pub enum Against {
    /// The manifest: this one (JSON), or `None` for the one beside the recording.
    Manifest(Option<Vec<u8>>),
    /// An Agora `query`/`stop` response or webhook (JSON): its `fileList`.
    Agora(Vec<u8>),
    /// The local recording directory (sizes and checksums of its files).
    Dir(PathBuf),
}

/// Where repairs come from.
#[derive(Debug, Clone)]
pub enum RepairFrom {
    /// The local spool (keys are the prefix + the file's path in it).
    Dir(PathBuf),
    /// A bucket URL holding the same keys (the backup).
    Bucket(String),
}

impl RepairFrom {
    /// A bucket when `place` names a scheme (`s3://`, `oss://`, `file://`…), else a directory.
    pub fn parse(place: &str) -> RepairFrom {
        match place.contains("://") {
            true => RepairFrom::Bucket(place.to_string()),
            false => RepairFrom::Dir(PathBuf::from(place)),
        }
    }
}

/// A verification of the recording a URL names.
#[derive(Debug, Clone)]
pub struct Check {
    /// The recording's directory, its manifest, or one of its playlists.
    pub url: String,
    /// A key prefix below the URL (a local bucket whose root the URL names).
    pub prefix: String,
    /// What to compare with; a playlist URL without a manifest is compared with itself.
    pub against: Against,
    /// The backup bucket, to tell "only in the backup" from "missing".
    pub backup: Option<String>,
    /// Read every object's bytes instead of trusting the store's checksums.
    pub download: bool,
    /// Objects checked at once.
    pub concurrency: usize,
    /// Load each playlist and its first segment as a player would, through this base URL.
    pub playback_base: Option<String>,
    /// ... or through the bucket's own signed download URLs.
    pub playback_signed: bool,
    /// The player page's origin, for the CORS check.
    pub origin: String,
    /// Repair what is wrong, then verify again: `Some(None)` asks for a repair without a
    /// source (an error only when something needs repairing).
    pub repair: Option<Option<RepairFrom>>,
}

/// What a check found.
#[derive(Debug)]
pub struct Checked {
    /// The report before the repair, when one was made.
    pub before_repair: Option<Report>,
    /// What the repair did.
    pub repair: Option<RepairOutcome>,
    /// The (final) report.
    pub report: Report,
}

/// Why a check could not run. Messages name no command-line flag.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// No manifest beside the recording, and nothing else to compare with.
    #[error("no manifest at {key}")]
    NoManifest {
        /// Where it was looked for.
        key: String,
    },
    /// Reading the manifest failed.
    #[error("reading the manifest {key}: {source}")]
    ReadingManifest {
        /// Its key.
        key: String,
        /// Why.
        source: Error,
    },
    /// A repair is needed and no source was given.
    #[error("a repair needs a source: the spool directory or a bucket holding the same keys")]
    NoRepairSource,
    /// Signed playback was asked of a store without signed URLs.
    #[error("signed playback needs signed download URLs, which {store} does not have")]
    NoSignedUrls {
        /// The store.
        store: String,
    },
    /// A bucket could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Verification failed.
    #[error(transparent)]
    Store(#[from] Error),
}

/// Runs the check.
pub async fn check(req: &Check, settings: &Settings) -> Result<Checked, CheckError> {
    let url = StorageUrl::parse(&req.url)?;
    let opened = locate(&url, settings).await?;
    let primary = opened.store;
    let key = crate::join_key(&opened.prefix, &req.prefix);
    let place = resolve(primary.as_ref(), &key).await;
    let store = primary.as_ref();
    let (expected, own_playlist) = expectations(req, store, &place).await?;
    let mut checked = verify_and_repair(req, settings, store, &place, &expected).await?;
    if own_playlist {
        // Without a manifest, other files in the directory are not "orphans" of anything.
        let orphan = |p: &Problem| matches!(p, Problem::Orphan { .. });
        checked.report.problems.retain(|p| !orphan(p));
    }
    Ok(checked)
}

/// The expectations, and whether they are a playlist's own (no manifest).
async fn expectations(
    req: &Check,
    store: &dyn ObjectStore,
    place: &Place,
) -> Result<(Vec<Expected>, bool), CheckError> {
    let prefix = place.prefix();
    Ok(match (&req.against, place) {
        (Against::Dir(dir), _) => (
            stowage_verify::expected_from_dir(dir, &prefix).await?,
            false,
        ),
        (Against::Agora(json), _) => {
            let mut expected = stowage_verify::expected_from_agora(json)?;
            for e in &mut expected {
                e.key = stowage_verify::key_under(&prefix, &e.key);
            }
            (expected, false)
        }
        (Against::Manifest(None), Place::Playlist(key)) => (
            stowage_verify::expected_from_playlist(store, key).await?,
            true,
        ),
        (Against::Manifest(Some(json)), _) => {
            (stowage_verify::expected_from_manifest(json)?, false)
        }
        (Against::Manifest(None), _) => (
            manifest_in_bucket(store, &place.manifest_key()).await?,
            false,
        ),
    })
}

async fn manifest_in_bucket(
    store: &dyn ObjectStore,
    key: &str,
) -> Result<Vec<Expected>, CheckError> {
    let reading = |source| CheckError::ReadingManifest {
        key: key.to_string(),
        source,
    };
    let got = match store.get(key, None).await {
        Err(e) if e.kind() == &ErrorKind::NotFound => {
            return Err(CheckError::NoManifest {
                key: key.to_string(),
            });
        }
        other => other.map_err(reading)?,
    };
    Ok(stowage_verify::expected_from_manifest(&got.bytes().await?)?)
}

/// Verifies, repairs when asked and needed, and verifies again.
async fn verify_and_repair(
    req: &Check,
    settings: &Settings,
    primary: &dyn ObjectStore,
    place: &Place,
    expected: &[Expected],
) -> Result<Checked, CheckError> {
    let backup = match &req.backup {
        Some(b) => Some(open_url(&StorageUrl::parse(b)?, settings).await?.store),
        None => None,
    };
    let (prefix, manifest_key) = (place.prefix(), place.manifest_key());
    let opts = VerifyOptions {
        backup: backup.as_deref(),
        manifest_key: Some(&manifest_key),
        download: req.download,
        concurrency: req.concurrency,
        name_prefix: None,
    };
    let report = verify_once(req, settings, primary, &prefix, expected, &opts).await?;
    let Some(from) = req.repair.as_ref().filter(|_| !report.is_complete()) else {
        return Ok(Checked {
            before_repair: None,
            repair: None,
            report,
        });
    };
    let source_bucket = match from {
        Some(RepairFrom::Bucket(u)) => {
            Some(open_url(&StorageUrl::parse(u)?, settings).await?.store)
        }
        _ => None,
    };
    let source = match (from, &source_bucket) {
        (Some(RepairFrom::Dir(dir)), _) => RepairSource::Dir {
            dir,
            prefix: &prefix,
        },
        (_, Some(b)) => RepairSource::Store(b.as_ref()),
        _ => return Err(CheckError::NoRepairSource),
    };
    let outcome = stowage_verify::repair(primary, &report, source).await;
    let again = verify_once(req, settings, primary, &prefix, expected, &opts).await?;
    Ok(Checked {
        before_repair: Some(report),
        repair: Some(outcome),
        report: again,
    })
}

/// One verification, with the playback check when asked.
async fn verify_once(
    req: &Check,
    settings: &Settings,
    primary: &dyn ObjectStore,
    prefix: &str,
    expected: &[Expected],
    opts: &VerifyOptions<'_>,
) -> Result<Report, CheckError> {
    let mut report = stowage_verify::verify_with(primary, prefix, expected, opts).await?;
    if let Some(playback) = playback_check(req, settings).await? {
        for exp in expected.iter().filter(|e| e.key.ends_with(".m3u8")) {
            let seen = playback.check(&exp.key).await;
            report.requests += seen.requests;
            report.problems.extend(seen.problems);
        }
    }
    Ok(report)
}

/// The playback check asked for: through the base URL, or the bucket's signed URLs.
async fn playback_check(
    req: &Check,
    settings: &Settings,
) -> Result<Option<PlaybackCheck>, CheckError> {
    let signer: Option<Arc<dyn UrlSigner>> = match req.playback_signed {
        true => {
            let store = open_url(&StorageUrl::parse(&req.url)?, settings)
                .await?
                .store;
            if !store.capabilities().signed_urls {
                return Err(CheckError::NoSignedUrls {
                    store: store.name(),
                });
            }
            Some(Arc::new(StoreSigner(store)))
        }
        false => None,
    };
    Ok(match (&req.playback_base, signer) {
        (None, None) => None,
        (base, signer) => Some(PlaybackCheck {
            base: base.clone().unwrap_or_default(),
            origin: req.origin.clone(),
            signer,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repair_source_with_a_scheme_is_a_bucket() {
        let bucket = RepairFrom::parse("s3://backup/rec");
        assert!(matches!(bucket, RepairFrom::Bucket(b) if b == "s3://backup/rec"));
        let dir = RepairFrom::parse("/srv/spool");
        assert!(matches!(dir, RepairFrom::Dir(d) if d == std::path::Path::new("/srv/spool")));
    }
}
