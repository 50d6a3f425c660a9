//! `stowage cp SRC DST`: a file or a directory, either side local or a bucket URL.
//!
//! Plans which files or objects go where; each copy is `stowage::copy::copy` (single put or
//! resumable multipart checked against the checksums sent; downloads checked against the
//! store's checksums). Never deletes or overwrites the source.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use futures::StreamExt;
use serde_json::json;
use stowage::copy::End;
use stowage::core::{ObjectMeta, Scheme, StorageUrl};

use crate::notice::Notices;
use crate::open::StoreArgs;
use crate::open::{cli_error, print_warnings, settings};
use stowage::text::{checksums_json, human_size};

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Source: a local file or directory, or s3://bucket/key-or-prefix.
    src: String,
    /// Destination: a local path, file:///dir, or s3://bucket/prefix/.
    dst: String,
    /// Transfers in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Print one JSON report instead of lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// A finished transfer: source, destination, and bytes copied with the stored metadata.
type Outcome = (End, End, Result<(u64, Option<ObjectMeta>)>);

pub async fn run(args: CpArgs) -> Result<ExitCode> {
    let src = StorageUrl::parse(&args.src)?;
    let dst = StorageUrl::parse(&args.dst)?;
    let notices = Notices::new(args.json);
    // The bucket side's scheme: its credentials flags apply (a directory takes none).
    let scheme = match src.scheme {
        Scheme::File => dst.scheme,
        bucket => bucket,
    };
    let settings = settings(&args.store, scheme, true)?;
    let plan = stowage::copy::plan(&src, &dst, &settings)
        .await
        .map_err(cli_error)?;
    print_warnings(&plan.warnings);
    for opened in &plan.destinations {
        notices.opened(&dst, opened.placement.as_ref(), &args.store);
    }
    let plan = plan.pairs;
    if plan.is_empty() {
        bail!("nothing to copy: {src} names no file or object");
    }
    let started = Instant::now();
    let mut results: Vec<_> = futures::stream::iter(plan)
        .map(|(from, to)| async move {
            let r = stowage::copy::copy(&from, &to)
                .await
                .map_err(anyhow::Error::from);
            (from, to, r)
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    results.sort_by_key(|r| r.0.describe());
    report(&results, args.json, started.elapsed())
}

fn report(results: &[Outcome], json: bool, elapsed: std::time::Duration) -> Result<ExitCode> {
    let failed = results.iter().filter(|r| r.2.is_err()).count();
    let bytes: u64 = results
        .iter()
        .filter_map(|r| r.2.as_ref().ok().map(|v| v.0))
        .sum();
    if json {
        let items: Vec<_> = results
            .iter()
            .map(|(from, to, r)| match r {
                Ok((size, meta)) => json!({
                    "src": from.describe(), "dst": to.describe(), "size": size,
                    "etag": meta.as_ref().and_then(|m| m.etag.clone()),
                    "checksums": meta.as_ref().map(|m| checksums_json(&m.checksums)),
                }),
                Err(e) => {
                    json!({"src": from.describe(), "dst": to.describe(), "error": e.to_string()})
                }
            })
            .collect();
        println!(
            "{}",
            json!({"copied": results.len() - failed, "failed": failed, "bytes": bytes, "items": items})
        );
    } else {
        for (from, to, r) in results {
            match r {
                Ok((size, _)) => println!(
                    "copied {} -> {} ({})",
                    from.describe(),
                    to.describe(),
                    human_size(*size)
                ),
                Err(e) => eprintln!("error: {} -> {}: {e}", from.describe(), to.describe()),
            }
        }
        let secs = elapsed.as_secs_f64();
        println!(
            "{} copied, {failed} failed, {} in {secs:.2} s",
            results.len() - failed,
            human_size(bytes)
        );
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
