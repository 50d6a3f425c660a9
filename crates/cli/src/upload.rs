//! `stowage upload DIR DEST` and `stowage restore DIR DEST --backup URL`.
//!
//! Exit codes: 0 everything is in the primary bucket (`uploaded`); 2 everything landed but
//! some objects are in the backup (`backuped`); 1 something has not landed (listed by key),
//! or an error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use stowage::core::StorageUrl;
use stowage::pipeline::{Event, Options, Summary, Targets};

use crate::notice;
use crate::open::{StoreArgs, open};
use stowage::core::duration::parse_duration;
use stowage::join_key;

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The recording directory (the spool); its journal lives in DIR/.stowage/.
    dir: PathBuf,
    /// Destination bucket and prefix: s3://bucket/prefix, file:///dir.
    dest: String,
    /// A second bucket for objects the primary keeps refusing (any URL Stowage opens).
    #[arg(long)]
    backup: Option<String>,
    /// Key prefix inside a local-directory destination (bucket URLs carry their own).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Objects in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Attempts per object and bucket before the backup (or failure).
    #[arg(long, default_value_t = 5)]
    attempts: u32,
    /// Files larger than this many MiB go up in parts.
    #[arg(long, default_value_t = 64)]
    multipart_threshold_mib: u64,
    /// Part size in MiB (raised to the store's minimum when smaller).
    #[arg(long, default_value_t = 16)]
    part_size_mib: u64,
    /// Parts of one file in flight at once.
    #[arg(long, default_value_t = 8)]
    part_concurrency: usize,
    /// Stop after this long (e.g. 90s, 10m); what has not landed stays in the spool.
    #[arg(long, value_parser = parse_duration)]
    deadline: Option<Duration>,
    /// Delete each local file once the bucket confirmed its checksum.
    #[arg(long)]
    delete_after_verify: bool,
    /// Follow a recorder writing into DIR: send segments as they are finished, publish the
    /// growing playlist, end at ENDLIST, after --idle-timeout, or on Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// With --watch: end after this long without a new or growing file (Agora's maxIdleTime).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    idle_timeout: Duration,
    /// With --watch: a file no playlist names is ready once unchanged this long.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    stable_for: Duration,
    /// With --watch: least time between two publications of the growing playlist.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    playlist_every: Duration,
    /// With --watch and --backup: this often, move what went to the backup into the primary
    /// once it answers again (a background `stowage restore`; also once at the end).
    #[arg(long, value_parser = parse_duration, requires = "backup")]
    restore_every: Option<Duration>,
    /// With --watch: when the recording ends without ENDLIST (idle, Ctrl-C, deadline), leave
    /// the bucket's playlist open instead of closing it as a complete VOD (for recordings
    /// resumed later).
    #[arg(long, requires = "watch")]
    no_close_on_idle: bool,
    /// One JSON event per line, then the summary as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn upload(args: UploadArgs, restore: bool) -> Result<ExitCode> {
    let json = args.json;
    let (targets, prefix) = targets(&args).await?;
    let reporter = Arc::new(crate::progress::Reporter::new(json));
    let sink = reporter.clone();
    let opts = Options {
        prefix,
        concurrency: args.concurrency,
        retry: stowage::core::retry::RetryPolicy {
            max_attempts: args.attempts.max(1),
            ..Options::default().retry
        },
        upload: stowage::core::upload::UploadConfig {
            multipart_threshold: args.multipart_threshold_mib << 20,
            part_size: args.part_size_mib.max(1) << 20,
            concurrency: args.part_concurrency.max(1),
            ..Default::default()
        },
        deadline: args.deadline,
        delete_after_verify: args.delete_after_verify,
        events: Some(Arc::new(move |e: &Event| sink.event(e))),
    };
    let summary = if restore {
        stowage::pipeline::restore(&args.dir, &targets, &opts).await?
    } else if args.watch {
        let w = stowage::pipeline::WatchOptions {
            idle_timeout: args.idle_timeout,
            stable_for: args.stable_for,
            playlist_every: args.playlist_every,
            restore_every: args.restore_every,
            close_on_idle: !args.no_close_on_idle,
            ..Default::default()
        };
        let stop = w.stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping: finishing what is in flight, then sending the rest");
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        stowage::pipeline::watch(&args.dir, &targets, &opts, &w).await?
    } else {
        stowage::pipeline::upload_recording(&args.dir, &targets, &opts).await?
    };
    reporter.finish();
    print_summary(&summary, json);
    Ok(ExitCode::from(summary.exit_code()))
}

/// The primary and backup buckets; the cross-region warning for each is printed here,
/// before anything is sent.
async fn targets(args: &UploadArgs) -> Result<(Targets, String)> {
    let dest = StorageUrl::parse(&args.dest)?;
    let opened = open(&dest, &args.store, true, true).await?;
    notice::opened(args.json, &dest, opened.placement.as_ref(), &args.store);
    let (primary, url_key) = (opened.store, opened.prefix);
    let prefix = match dest.local_path() {
        // A local bucket's root may be named with --prefix below it.
        Some(_) => join_key(&url_key, &args.prefix),
        None if args.prefix.is_empty() => url_key,
        None => bail!("give the prefix in the URL (s3://bucket/prefix) or with --prefix, not both"),
    };
    let backup = match &args.backup {
        Some(b) => {
            let url = StorageUrl::parse(b)?;
            let opened = open(&url, &args.store, true, false)
                .await
                .context("opening the backup bucket")?;
            notice::opened(args.json, &url, opened.placement.as_ref(), &args.store);
            Some(opened.store)
        }
        None => None,
    };
    Ok((Targets { primary, backup }, prefix))
}

fn print_summary(s: &Summary, json: bool) {
    match json {
        true => println!("{}", serde_json::json!({"event": "summary", "summary": s})),
        false => stowage::text::summary_lines(s)
            .iter()
            .for_each(|l| println!("{l}")),
    }
}
