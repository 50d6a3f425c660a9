//! `stowage checksum`: the checksums each vendor uses, computed in one pass per file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use stowage::core::ChecksumAlgo;
use stowage::core::checksum::checksum_file;

use stowage::text::{file_checksum_lines, file_checksums_json};

#[derive(Debug, Args)]
pub struct ChecksumArgs {
    /// crc64ecma, crc64nvme, md5, sha1, sha256, qetag, crc32c, or all.
    #[arg(long, default_value = "all")]
    algo: String,
    /// One JSON object per file (per line).
    #[arg(long)]
    json: bool,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub async fn run(args: ChecksumArgs) -> Result<ExitCode> {
    let algos = ChecksumAlgo::parse_list(&args.algo)?;
    let mut failed = false;
    for file in &args.files {
        let (size, sums) = match checksum_file(file, &algos).await {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        if args.json {
            println!("{}", file_checksums_json(file, size, &sums));
        } else {
            file_checksum_lines(file, size, &sums, &algos)
                .iter()
                .for_each(|line| println!("{line}"));
        }
    }
    Ok(crate::flags::exit(!failed))
}
