//! `stowage endpoints`: which endpoints to use for a bucket, in order, with the Agora FAQ's
//! cross-region advice, the Agora REST domains to call, and optionally a latency probe.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::to_string_pretty;
use stowage::endpoints::{Bucket, Query, Report};
use stowage::region::{Vendor, s3_preset};

#[derive(Debug, Args)]
pub struct EndpointsArgs {
    /// The bucket's vendor: s3, oss, cos or kodo.
    #[arg(long, required_unless_present_any = ["agora", "discover"])]
    vendor: Option<String>,
    /// The bucket's region id (us-east-1, cn-hangzhou, ap-guangzhou, z0); with --vendor.
    #[arg(long, requires = "vendor")]
    region: Option<String>,
    /// An Agora storageConfig (or whole start request) JSON file: vendor, region and bucket from it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["vendor", "discover"])]
    agora: Option<PathBuf>,
    /// Ask the bucket itself where it is (s3://bucket; keys and endpoint from the AWS_*
    /// environment), then select for that region.
    #[arg(long, value_name = "URL", conflicts_with = "vendor")]
    discover: Option<String>,
    /// Where the uploader runs: vendor:region (s3:us-east-1), a bare region id (looked up at
    /// the bucket's vendor first), or a geography (europe, mainland-china, north-america,
    /// asia-pacific, …). Default: unknown.
    #[arg(long, value_name = "REGION")]
    from: Option<String>,
    /// The bucket name, to show the bucket's own hosts (COS: name-APPID).
    #[arg(long)]
    bucket: Option<String>,
    /// Use the vendor's S3-compatible API (through the S3 adapter) instead of its native one.
    #[arg(long)]
    s3_compatible: bool,
    /// Transfer acceleration is enabled on the bucket: try it first across continents.
    #[arg(long)]
    accelerate: bool,
    /// Never offer the internal endpoint.
    #[arg(long)]
    no_internal: bool,
    /// An extra endpoint to consider first (an OSS custom domain, a private link); repeatable.
    #[arg(long, value_name = "URL")]
    endpoint: Vec<String>,
    /// Time each endpoint (connect + one HEAD request) and order them fastest first.
    #[arg(long)]
    probe: bool,
    /// Give up on an endpoint after this long when probing.
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    probe_timeout_ms: u64,
    /// List the vendor's regions and their endpoints instead of selecting.
    #[arg(long, requires = "vendor", conflicts_with_all = ["region", "probe"])]
    list: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: EndpointsArgs) -> Result<ExitCode> {
    if args.list {
        let vendor: Vendor = args.vendor.as_deref().unwrap_or_default().parse()?;
        let table = stowage::endpoints::table_json(vendor);
        match args.json {
            true => println!("{}", to_string_pretty(&table)?),
            false => print!("{}", stowage::endpoints::table_text(vendor)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let query = Query {
        bucket: bucket(&args)?,
        from: args.from.clone(),
        bucket_name: args.bucket.clone(),
        s3_compatible: args.s3_compatible,
        accelerate: args.accelerate,
        allow_internal: !args.no_internal,
        custom: args.endpoint.clone(),
        probe: args
            .probe
            .then(|| Duration::from_millis(args.probe_timeout_ms)),
    };
    let report = stowage::endpoints::endpoints(&query, &stowage::Settings::default()).await?;
    if args.json {
        println!("{}", to_string_pretty(&report.json())?);
    } else {
        print!("{}", text(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn bucket(args: &EndpointsArgs) -> Result<Bucket> {
    if let Some(path) = &args.agora {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the storageConfig file {}", path.display()))?;
        return Ok(Bucket::Agora(text));
    }
    if let Some(url) = &args.discover {
        return Ok(Bucket::Discover(url.clone()));
    }
    let vendor: Vendor = args.vendor.as_deref().unwrap_or_default().parse()?;
    let Some(region) = &args.region else {
        bail!(
            "--region is missing: give the bucket's {} region id (known: {}), or use --discover s3://bucket to ask the bucket",
            vendor.table().name,
            stowage::known_regions(vendor).join(", ")
        );
    };
    Ok(Bucket::Region {
        vendor,
        region: region.clone(),
    })
}

/// The report, and the flags that reach the vendor through its S3-compatible API.
fn text(report: &Report) -> String {
    let mut out = report.text();
    if let Some(p) = s3_preset(report.vendor) {
        let s = p.for_region(report.region);
        let path_style = if s.force_path_style {
            " --path-style"
        } else {
            ""
        };
        out += &format!(
            "S3-compatible preset: --endpoint {} --region {}{path_style} --s3-integrity {}\n",
            s.endpoint, s.region, s.integrity
        );
    }
    out
}
