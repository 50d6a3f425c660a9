//! `stowage verify URL`: is every object of a recording in the bucket, intact?
//!
//! A URL path that names an object (a playlist, the manifest) is that object, and its
//! recording is its directory; any other path is a directory (`rec/room1` never takes in
//! `rec/room10/…`). `--dir`, `--agora` and `--repair` work in that directory.
//!
//! Exit codes: 0 complete; 1 something a viewer would miss is missing or wrong (each
//! problem is listed with its key), or, with `--strict`, a playlist departs from RFC 8216;
//! 2 verification itself could not run (the reason is printed).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use std::sync::Arc;
use stowage::core::ObjectStore;
use stowage::core::StorageUrl;

use stowage::verify::playback::{PlaybackCheck, UrlSigner};
use stowage::verify::{Expected, Problem, RepairSource, Report, VerifyOptions};

use crate::StoreArgs;
use crate::open::open_bucket;
use crate::verify_report;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The recording's place: its directory (s3://bucket/rec/demo, or a local bucket's
    /// directory file:///srv/bucket/rec/demo), its manifest (…/stowage-manifest.json), or a
    /// playlist (…/sid_cname.m3u8, checked with its `_<tick>_<index>` and `bak<n>_` copies;
    /// the recording is then the playlist's directory).
    url: String,
    /// Key prefix below the URL (for a local bucket whose root the URL names).
    #[arg(long, default_value = "")]
    prefix: String,
    /// The manifest to verify against (default: <prefix>/stowage-manifest.json in the bucket).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// An Agora `query`/`stop` response or webhook (events 31/32) to verify against instead of
    /// a manifest: its fileList names the playlists, whose segments are then checked.
    #[arg(long, conflicts_with = "manifest")]
    agora: Option<PathBuf>,
    /// A local recording directory to compare against (sizes and checksums of its files).
    #[arg(long, conflicts_with_all = ["manifest", "agora"])]
    dir: Option<PathBuf>,
    /// Re-upload what is missing or wrong, then verify again (needs --from).
    #[arg(long)]
    repair: bool,
    /// Where repairs come from: a local spool directory, or a bucket URL (e.g. the backup,
    /// s3://backup/rec) holding the same keys.
    #[arg(long, value_name = "DIR|URL", conflicts_with_all = ["from_dir", "from_bucket"])]
    from: Option<String>,
    /// Repair from this local spool (keys are the prefix + the file's path in it).
    #[arg(long)]
    from_dir: Option<PathBuf>,
    /// Repair from this bucket (e.g. the backup), which holds the same keys.
    #[arg(long)]
    from_bucket: Option<String>,
    /// The backup bucket, to tell "only in the backup" from "missing".
    #[arg(long)]
    backup: Option<String>,
    /// Download every object and compare its bytes with the expected checksums, instead of
    /// trusting the checksums the bucket reports.
    #[arg(long)]
    download: bool,
    /// Objects checked at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Also load each playlist and its first segment the way a web player does, from this URL
    /// of the bucket's root (public, CDN or token-signed: a query string is kept and never
    /// printed), checking status, Content-Type and CORS.
    #[arg(long, value_name = "URL")]
    playback_base: Option<String>,
    /// Check playback through the bucket's own signed download URLs instead, for private
    /// buckets: S3, OSS and COS presigned URLs, Kodo's `e=…&token=…` (each object its own,
    /// valid for an hour).
    #[arg(long, conflicts_with = "playback_base")]
    playback_signed: bool,
    /// The web page origin the player runs on, for the CORS check.
    #[arg(long, default_value = stowage::verify::playback::DEFAULT_ORIGIN)]
    origin: String,
    /// Fail (exit 1) on warnings too: departures from RFC 8216 that players tolerate, such
    /// as Agora's EXTINF without a comma.
    #[arg(long)]
    strict: bool,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: VerifyArgs) -> ExitCode {
    match verify(&args).await {
        Ok(report) => {
            verify_report::print(&report, args.json, args.strict);
            if report.passes(args.strict) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: verification could not run: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn verify(args: &VerifyArgs) -> Result<Report> {
    let url = StorageUrl::parse(&args.url)?;
    let (primary, key) = open_place(&url, args).await?;
    let place = stowage::place::resolve(primary.as_ref(), &key).await;
    let (prefix, manifest_key) = (place.prefix(), place.manifest_key());
    let store = primary.as_ref();
    if let Some(dir) = &args.dir {
        let expected = stowage::verify::expected_from_dir(dir, &prefix).await?;
        return finish(args, store, &prefix, &expected, &manifest_key).await;
    }
    if let Some(path) = &args.agora {
        let json =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut expected = stowage::verify::expected_from_agora(&json)?;
        for e in &mut expected {
            e.key = stowage::verify::key_under(&prefix, &e.key);
        }
        return finish(args, store, &prefix, &expected, &manifest_key).await;
    }
    if let (stowage::place::Place::Playlist(key), None) = (&place, &args.manifest) {
        // The playlist and its Agora siblings; without a manifest, other files in the
        // directory are not "orphans" of anything.
        let expected = stowage::verify::expected_from_playlist(store, key).await?;
        let mut report = finish(args, store, &prefix, &expected, &manifest_key).await?;
        report
            .problems
            .retain(|p| !matches!(p, Problem::Orphan { .. }));
        return Ok(report);
    }
    let expected = match &args.manifest {
        Some(path) => {
            let json =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            stowage::verify::expected_from_manifest(&json)?
        }
        None => manifest_in_bucket(store, &manifest_key).await?,
    };
    finish(args, store, &prefix, &expected, &manifest_key).await
}

async fn manifest_in_bucket(store: &dyn ObjectStore, manifest_key: &str) -> Result<Vec<Expected>> {
    let got = match store.get(manifest_key, None).await {
        Err(e) if e.kind() == &stowage::core::ErrorKind::NotFound => bail!(
            "no manifest at {manifest_key}: name what to verify against with --manifest FILE, --agora FILE (a query/stop response or webhook) or --dir DIR, or give the playlist's URL"
        ),
        other => other.with_context(|| format!("reading the manifest {manifest_key}"))?,
    };
    Ok(stowage::verify::expected_from_manifest(
        &got.bytes().await?,
    )?)
}

/// The bucket and the key (prefix, manifest or playlist) the URL names; `--prefix` goes
/// below that (for a local bucket's root).
async fn open_place(url: &StorageUrl, args: &VerifyArgs) -> Result<(Arc<dyn ObjectStore>, String)> {
    let (store, key) = crate::open::open_place(url, &args.store, false).await?;
    Ok((store, stowage::join_key(&key, &args.prefix)))
}

/// Verifies, repairs when asked, and verifies again.
async fn finish(
    args: &VerifyArgs,
    primary: &dyn ObjectStore,
    prefix: &str,
    expected: &[Expected],
    manifest_key: &str,
) -> Result<Report> {
    let backup = match &args.backup {
        Some(b) => Some(open_bucket(&StorageUrl::parse(b)?, &args.store, false).await?),
        None => None,
    };
    let opts = VerifyOptions {
        backup: backup.as_deref(),
        manifest_key: Some(manifest_key),
        download: args.download,
        concurrency: args.concurrency,
        name_prefix: None,
    };
    let report = check(args, primary, prefix, expected, &opts).await?;
    if !args.repair || report.is_complete() {
        return Ok(report);
    }
    if !args.json {
        verify_report::print(&report, false, args.strict);
    }
    // `--from` is a bucket when it names a scheme (s3://, oss://, file://…), else a directory.
    let (from_dir, from_bucket) = match &args.from {
        Some(f) if f.contains("://") => (None, Some(f.clone())),
        Some(f) => (Some(PathBuf::from(f)), None),
        None => (args.from_dir.clone(), args.from_bucket.clone()),
    };
    let source_bucket = match &from_bucket {
        Some(u) => Some(open_bucket(&StorageUrl::parse(u)?, &args.store, false).await?),
        None => None,
    };
    let source = match (&from_dir, &source_bucket) {
        (Some(dir), _) => RepairSource::Dir { dir, prefix },
        (None, Some(b)) => RepairSource::Store(b.as_ref()),
        (None, None) => {
            bail!("--repair needs --from DIR or --from URL (the spool or the backup bucket)")
        }
    };
    let outcome = stowage::verify::repair(primary, &report, source).await;
    for k in &outcome.repaired {
        eprintln!("repaired  {k}");
    }
    for (k, why) in &outcome.not_repaired {
        eprintln!("not repaired {k}: {why}");
    }
    check(args, primary, prefix, expected, &opts).await
}

/// The playback check asked for: through `--playback-base`, or through the bucket's own
/// signed download URLs (`--playback-signed`: S3/OSS/COS presigned URLs, Kodo private URLs).
async fn playback_check(args: &VerifyArgs) -> Result<Option<PlaybackCheck>> {
    let signer: Option<Arc<dyn UrlSigner>> = if args.playback_signed {
        let url = StorageUrl::parse(&args.url)?;
        let store = open_bucket(&url, &args.store, false).await?;
        if !store.capabilities().signed_urls {
            bail!(
                "--playback-signed needs signed download URLs, which {} does not have: pass --playback-base with the URL the bucket (or directory) is served at",
                store.name()
            );
        }
        Some(Arc::new(stowage::place::StoreSigner(store)))
    } else {
        None
    };
    Ok(match (&args.playback_base, signer) {
        (None, None) => None,
        (base, signer) => Some(PlaybackCheck {
            base: base.clone().unwrap_or_default(),
            origin: args.origin.clone(),
            signer,
        }),
    })
}

/// One verification, with the playback check when asked.
async fn check(
    args: &VerifyArgs,
    primary: &dyn ObjectStore,
    prefix: &str,
    expected: &[Expected],
    opts: &VerifyOptions<'_>,
) -> Result<Report> {
    let mut report = stowage::verify::verify_with(primary, prefix, expected, opts).await?;
    if let Some(playback) = playback_check(args).await? {
        for exp in expected.iter().filter(|e| e.key.ends_with(".m3u8")) {
            let seen = playback.check(&exp.key).await;
            report.requests += seen.requests;
            report.problems.extend(seen.problems);
        }
    }
    Ok(report)
}
