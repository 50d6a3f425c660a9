//! `stowage cp SRC DST`: a file or a directory, either side local or a bucket URL.
//!
//! Plans which files or objects go where; each copy is `stowage::copy::copy` (single put or
//! resumable multipart checked against the checksums sent; downloads checked against the
//! store's checksums). Never deletes or overwrites the source.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use stowage::copy::CopyReport;
use stowage::core::{Scheme, StorageUrl};

use crate::flags::open_error;
use crate::notice;
use crate::open::{StoreArgs, print_warnings, settings};

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

pub async fn run(args: CpArgs) -> Result<ExitCode> {
    let src = StorageUrl::parse(&args.src)?;
    let dst = StorageUrl::parse(&args.dst)?;
    // The bucket side's scheme: its credentials flags apply (a directory takes none).
    let scheme = match src.scheme {
        Scheme::File => dst.scheme,
        bucket => bucket,
    };
    let settings = settings(&args.store, scheme, true)?;
    let plan = stowage::copy::plan(&src, &dst, &settings)
        .await
        .map_err(open_error)?;
    print_warnings(&plan.warnings);
    for opened in &plan.destinations {
        notice::opened(args.json, &dst, opened.placement.as_ref(), &args.store);
    }
    let plan = plan.pairs;
    if plan.is_empty() {
        bail!("nothing to copy: {src} names no file or object");
    }
    let report = stowage::copy::copy_all(plan, args.concurrency).await;
    print_report(&report, args.json);
    Ok(crate::flags::exit(report.failed() == 0))
}

fn print_report(report: &CopyReport, json: bool) {
    if json {
        println!("{}", report.json());
        return;
    }
    for item in &report.items {
        match item.result {
            Ok(_) => println!("{}", item.text()),
            Err(_) => eprintln!("error: {}", item.text()),
        }
    }
    println!("{}", report.summary_line());
}
