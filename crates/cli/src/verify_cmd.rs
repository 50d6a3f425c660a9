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

use anyhow::{Context, Result};
use clap::Args;
use stowage::check::{Against, Check, Checked, RepairFrom};
use stowage::text::{ReportText, repair_lines, report_json};
use stowage::verify::Report;

use crate::open::StoreArgs;

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
        Ok(checked) => {
            print_repair(&args, &checked);
            let report = checked.report;
            print_report(&report, args.json, args.strict);
            crate::flags::exit(report.passes(args.strict))
        }
        Err(e) => {
            eprintln!("error: verification could not run: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The report, or with `--json` every detail of it.
fn print_report(r: &Report, json: bool, strict: bool) {
    if json {
        println!("{}", report_json(r, strict));
        return;
    }
    let text = ReportText {
        strict,
        shown: 20,
        more_hint: Some("--json lists every one"),
        strict_name: "--strict",
    };
    for line in text.lines(r) {
        println!("{line}");
    }
}

/// The report before the repair, and what the repair did.
fn print_repair(args: &VerifyArgs, checked: &Checked) {
    if let (Some(before), false) = (&checked.before_repair, args.json) {
        print_report(before, false, args.strict);
    }
    for line in checked.repair.iter().flat_map(repair_lines) {
        eprintln!("{line}");
    }
}

async fn verify(args: &VerifyArgs) -> Result<Checked> {
    let scheme = stowage::StorageUrl::parse(&args.url)?.scheme;
    let settings = crate::open::settings(&args.store, scheme, false)?;
    let req = Check {
        url: args.url.clone(),
        prefix: args.prefix.clone(),
        against: against(args)?,
        backup: args.backup.clone(),
        download: args.download,
        concurrency: args.concurrency,
        playback_base: args.playback_base.clone(),
        playback_signed: args.playback_signed,
        origin: args.origin.clone(),
        repair: args.repair.then(|| repair_from(args)),
    };
    stowage::check::check(&req, &settings)
        .await
        .map_err(crate::flags::check_error)
}

fn against(args: &VerifyArgs) -> Result<Against> {
    let read = |path: &PathBuf| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    Ok(match (&args.dir, &args.agora, &args.manifest) {
        (Some(dir), _, _) => Against::Dir(dir.clone()),
        (None, Some(path), _) => Against::Agora(read(path)?),
        (None, None, Some(path)) => Against::Manifest(Some(read(path)?)),
        (None, None, None) => Against::Manifest(None),
    })
}

/// `--from` is a bucket or a directory; `--from-dir` and `--from-bucket` say which.
fn repair_from(args: &VerifyArgs) -> Option<RepairFrom> {
    let from = args.from.as_deref().map(RepairFrom::parse);
    let from = from.or_else(|| args.from_dir.clone().map(RepairFrom::Dir));
    from.or_else(|| args.from_bucket.clone().map(RepairFrom::Bucket))
}
