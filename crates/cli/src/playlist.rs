//! `stowage playlist validate | merge | url`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use stowage::hls::merge::Overlap;
use stowage::hls::url::{Vendor, public_url, url_with_domain};
use stowage::playlist_files::{FileCheck, merge_files, validate_file};

#[derive(Debug, Args)]
pub struct PlaylistArgs {
    #[command(subcommand)]
    command: PlaylistCommand,
}

#[derive(Debug, Subcommand)]
enum PlaylistCommand {
    /// Check playlists against RFC 8216; exit 1 when any breaks a MUST.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Merge the playlists of one recording (backup copies, failovers, restarts) into one VOD playlist.
    Merge {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the merged playlist.
        #[arg(short, long)]
        output: PathBuf,
        /// Keep segments whose time another playlist already covers (default: trim them).
        #[arg(long)]
        keep_overlap: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print the public playback URL of a key.
    Url(UrlArgs),
}

#[derive(Debug, Args)]
struct UrlArgs {
    /// s3, oss, cos or kodo (with --region and --bucket).
    #[arg(long, requires_all = ["region", "bucket"], conflicts_with = "domain")]
    vendor: Option<String>,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    bucket: Option<String>,
    /// A custom domain or CDN bound to the bucket.
    #[arg(long)]
    domain: Option<String>,
    key: String,
}

pub fn run(args: PlaylistArgs) -> Result<ExitCode> {
    match args.command {
        PlaylistCommand::Validate { files, json } => validate(&files, json),
        PlaylistCommand::Merge {
            files,
            output,
            keep_overlap,
            json,
        } => merge(&files, &output, keep_overlap, json),
        PlaylistCommand::Url(args) => url(args),
    }
}

fn validate(files: &[PathBuf], as_json: bool) -> Result<ExitCode> {
    let mut checks = Vec::new();
    for file in files {
        let check = validate_file(file)?;
        if !as_json {
            check.lines().iter().for_each(|line| println!("{line}"));
        }
        checks.push(check);
    }
    if as_json {
        let reports = checks.iter().map(FileCheck::json).collect();
        println!("{}", serde_json::Value::Array(reports));
    }
    Ok(crate::flags::exit(checks.iter().all(FileCheck::valid)))
}

fn merge(files: &[PathBuf], output: &Path, keep_overlap: bool, as_json: bool) -> Result<ExitCode> {
    let overlap = match keep_overlap {
        true => Overlap::Keep,
        false => Overlap::Trim,
    };
    let merged = merge_files(files, output, overlap)?;
    match as_json {
        true => println!("{}", merged.json()),
        false => merged.lines().iter().for_each(|line| println!("{line}")),
    }
    Ok(ExitCode::SUCCESS)
}

fn url(args: UrlArgs) -> Result<ExitCode> {
    let key = &args.key;
    let url = match (args.domain, args.vendor) {
        (Some(d), _) => url_with_domain(&d, key),
        (None, Some(v)) => {
            let vendor = Vendor::parse(&v)
                .with_context(|| format!("unknown vendor `{v}`; expected s3, oss, cos or kodo"))?;
            public_url(
                vendor,
                args.region.as_deref().unwrap_or(""),
                args.bucket.as_deref().unwrap_or(""),
                key,
            )
            .map_err(anyhow::Error::msg)?
        }
        (None, None) => bail!("give --domain, or --vendor with --region and --bucket"),
    };
    println!("{url}");
    Ok(ExitCode::SUCCESS)
}
