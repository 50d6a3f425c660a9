//! `stowage playlist validate | merge | url`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use stowage::hls::merge::{Input, Overlap};
use stowage::hls::url::{Vendor, public_url, url_with_domain};
use stowage::hls::validate::is_valid;

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
    Url {
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
    },
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
        PlaylistCommand::Url {
            vendor,
            region,
            bucket,
            domain,
            key,
        } => url(vendor, region, bucket, domain, &key),
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read playlist {}", path.display()))
}

/// A playlist's text; one that is not UTF-8 is refused with the line and byte offset.
fn read(path: &Path) -> Result<String> {
    let bytes = read_bytes(path)?;
    match stowage::hls::decode(&bytes) {
        (text, None) => Ok(text.into_owned()),
        (_, Some(bad)) => bail!("{}: {bad}", path.display()),
    }
}

fn validate(files: &[PathBuf], as_json: bool) -> Result<ExitCode> {
    let mut all_valid = true;
    let mut reports = Vec::new();
    for file in files {
        let bytes = read_bytes(file)?;
        match stowage::hls::validate_bytes(&bytes) {
            Ok(violations) => {
                let valid = is_valid(&violations);
                all_valid &= valid;
                if as_json {
                    reports.push(json!({"file": file, "valid": valid, "violations": violations}));
                    continue;
                }
                for v in &violations {
                    let line = v.line.map(|l| format!("{l}:")).unwrap_or_default();
                    let level = format!("{:?}", v.level).to_lowercase();
                    println!(
                        "{}:{line} {level} [{}] {}",
                        file.display(),
                        v.rule,
                        v.message
                    );
                }
                if violations.is_empty() {
                    println!("{}: valid", file.display());
                }
            }
            Err(e) => {
                all_valid = false;
                if as_json {
                    reports.push(json!({"file": file, "valid": false, "parse_error": {"line": e.line, "message": e.to_string()}}));
                } else {
                    println!("{}:{}: error [parse] {e}", file.display(), e.line);
                }
            }
        }
    }
    if as_json {
        println!("{}", serde_json::Value::Array(reports));
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn merge(files: &[PathBuf], output: &Path, keep_overlap: bool, as_json: bool) -> Result<ExitCode> {
    let mut inputs = Vec::new();
    for file in files {
        let text = read(file)?;
        let playlist = stowage::hls::parse(&text)
            .with_context(|| format!("{} cannot be merged", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        inputs.push(Input {
            name,
            size: text.len() as u64,
            playlist,
        });
    }
    if files.iter().any(|f| f == output) {
        bail!(
            "the output {} is one of the inputs; write the merged playlist elsewhere",
            output.display()
        );
    }
    let overlap = if keep_overlap {
        Overlap::Keep
    } else {
        Overlap::Trim
    };
    let merged = stowage::hls::merge(inputs, overlap);
    write_atomically(output, &stowage::hls::write(&merged.playlist))?;
    let r = &merged.report;
    if as_json {
        println!("{}", json!({"output": output, "report": r}));
        return Ok(ExitCode::SUCCESS);
    }
    for i in &r.inputs {
        println!(
            "{} {}: {}",
            if i.used { "used   " } else { "skipped" },
            i.name,
            i.reason
        );
    }
    println!(
        "wrote {}: {} segments, {:.3} s, {} junction(s), {} duplicate(s) dropped, {} overlapping segment(s) trimmed",
        output.display(),
        r.segments,
        r.duration_secs,
        r.junctions,
        r.duplicates_dropped.len(),
        r.overlap_trimmed.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = stowage::core::fsutil::temp_sibling(path);
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn url(
    vendor: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    domain: Option<String>,
    key: &str,
) -> Result<ExitCode> {
    let url = match (domain, vendor) {
        (Some(d), _) => url_with_domain(&d, key),
        (None, Some(v)) => {
            let vendor = Vendor::parse(&v)
                .with_context(|| format!("unknown vendor `{v}`; expected s3, oss, cos or kodo"))?;
            public_url(
                vendor,
                region.as_deref().unwrap_or(""),
                bucket.as_deref().unwrap_or(""),
                key,
            )
            .map_err(anyhow::Error::msg)?
        }
        (None, None) => bail!("give --domain, or --vendor with --region and --bucket"),
    };
    println!("{url}");
    Ok(ExitCode::SUCCESS)
}
