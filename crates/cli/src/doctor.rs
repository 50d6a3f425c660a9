//! `stowage doctor URL`: will recordings land here, and fast? The library's check-up
//! (`stowage::doctor`), printed with the flags that fix what it finds.
//!
//! Exit codes: 0 when nothing failed (warnings allowed), 1 when a check failed.

use std::process::ExitCode;

use clap::Args;
use stowage::doctor::{Checkup, Finding, Setting, Status, Subject};
use stowage::{Scheme, StorageUrl};

use crate::open::StoreArgs;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The bucket and prefix recordings go to: s3://bucket/prefix, file:///dir, …
    #[arg(required_unless_present = "agora")]
    url: Option<String>,
    /// Agora's storageConfig (or a whole `start` request) instead of a URL: vendor and region
    /// codes, bucket, keys, STS token and fileNamePrefix are checked and used.
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    agora: Option<std::path::PathBuf>,
    /// How long recordings last, in hours: an STS token expiring sooner gets a warning.
    #[arg(long, default_value_t = 4.0)]
    recording_hours: f64,
    /// Only read: skip the probe object (put, head, delete) and the throughput test.
    #[arg(long)]
    read_only: bool,
    /// Also check playback of a probe playlist through this URL of the bucket's root.
    #[arg(long, value_name = "URL")]
    playback_base: Option<String>,
    /// Size of the throughput probe upload, in MiB (0 skips it).
    #[arg(long, default_value_t = 8)]
    probe_mib: u64,
    #[arg(long)]
    json: bool,
    /// How to reach the bucket; its --from (where the recorder, the uploader, runs) also
    /// drives the FAQ's cross-region check.
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: DoctorArgs) -> ExitCode {
    let findings = match checkup(&args) {
        Ok(checkup) => stowage::doctor::diagnose(&checkup).await,
        Err(e) => vec![Finding {
            check: "credentials",
            status: Status::Fail,
            cause: format!("{e:#}"),
            fix: None,
            setting: Some(Setting::Credentials),
        }],
    };
    let findings: Vec<Finding> = findings.into_iter().map(crate::flags::finding).collect();
    print(&findings, args.json);
    crate::flags::exit(!stowage::doctor::failed(&findings))
}

fn checkup(args: &DoctorArgs) -> anyhow::Result<Checkup> {
    let (subject, scheme) = match (&args.agora, &args.url) {
        (Some(path), _) => (Subject::AgoraFile(path.clone()), Scheme::File),
        (None, url) => {
            let url = url.clone().unwrap_or_default();
            let scheme = StorageUrl::parse(&url).map_or(Scheme::File, |u| u.scheme);
            (Subject::Url(url), scheme)
        }
    };
    Ok(Checkup {
        subject,
        settings: crate::open::settings(&args.store, scheme, false)?,
        recording_hours: args.recording_hours,
        read_only: args.read_only,
        playback_base: args.playback_base.clone(),
        probe_mib: args.probe_mib,
    })
}

fn print(findings: &[Finding], json: bool) {
    match json {
        true => println!("{}", stowage::text::findings_json(findings)),
        false => (stowage::text::finding_lines(findings).iter()).for_each(|l| println!("{l}")),
    }
}
