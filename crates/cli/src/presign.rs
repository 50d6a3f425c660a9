//! `stowage presign URL`: a time-limited download link to one object (like
//! `aws s3 presign`), for S3, OSS, COS, Kodo and Azure buckets. The URL carries a signature,
//! never the secret key.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use stowage::core::StorageUrl;
use stowage::text::signed_url_json;

use crate::open::{StoreArgs, open};
use stowage::core::duration::parse_duration;

#[derive(Debug, Args)]
pub struct PresignArgs {
    /// The object: s3://bucket/key, oss://…, cos://…, kodo://…
    url: String,
    /// How long the link works: 90s, 30m, 2h, 7d (S3 and OSS V4 allow at most 7 days).
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    expires: Duration,
    /// Print {"url", "key", "expires_in", "expires_at"} instead of the bare URL.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: PresignArgs) -> Result<ExitCode> {
    let url = StorageUrl::parse(&args.url)?;
    if url.local_path().is_some() {
        bail!(
            "{} is a local path: only S3, OSS, COS, Kodo and Azure objects have signed download URLs",
            args.url
        );
    }
    if url.key.is_empty() || url.key.ends_with('/') {
        bail!(
            "{} names no object: give the object's key, e.g. {}://{}/rec/sid_cname.m3u8",
            args.url,
            url.scheme.as_str(),
            url.bucket
        );
    }
    let located = open(&url, &args.store, false, true).await?;
    let signed = located
        .store
        .signed_get_url(&located.prefix, args.expires)
        .await?;
    if args.json {
        println!(
            "{}",
            signed_url_json(&signed, &located.prefix, args.expires)
        );
    } else {
        println!("{signed}");
    }
    Ok(ExitCode::SUCCESS)
}
