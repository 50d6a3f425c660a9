//! `stowage checksum`: the checksums each vendor uses, computed in one pass per file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use stowage::core::ChecksumAlgo;
use stowage::core::checksum::checksum_file;

use stowage::text::checksums_json;

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

fn algos(spec: &str) -> Result<Vec<ChecksumAlgo>> {
    if spec.eq_ignore_ascii_case("all") {
        return Ok(ChecksumAlgo::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in spec.split(',') {
        out.push(ChecksumAlgo::parse(name.trim())?);
    }
    Ok(out)
}

pub async fn run(args: ChecksumArgs) -> Result<ExitCode> {
    let algos = algos(&args.algo)?;
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
            let mut obj = checksums_json(&sums);
            obj["file"] = file.display().to_string().into();
            obj["size"] = size.into();
            println!("{obj}");
        } else if algos.len() == 1 {
            println!(
                "{}  {}",
                sums.get(algos[0]).unwrap_or_default(),
                file.display()
            );
        } else {
            println!("{} ({size} bytes)", file.display());
            for a in &algos {
                println!("  {:<10} {}", a.name(), sums.get(*a).unwrap_or_default());
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
