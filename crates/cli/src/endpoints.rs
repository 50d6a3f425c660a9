//! `stowage endpoints`: which endpoints to use for a bucket, in order, with the Agora FAQ's
//! cross-region advice, the Agora REST domains to call, and optionally a latency probe.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};
use stowage_core::StorageUrl;
use stowage_region::agora::AgoraStorage;
use stowage_region::rest;
use stowage_region::{
    AgoraTarget, Candidate, Geography, Level, Origin, Prober, Protocol, Ranked, Region,
    SelectRequest, Selection, Vendor, s3_preset, select,
};

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

/// What the bucket is, however it was named.
struct Target {
    vendor: Vendor,
    region: &'static Region,
    bucket: Option<String>,
    agora: Option<Value>,
    protocol: Protocol,
}

pub async fn run(args: EndpointsArgs) -> Result<ExitCode> {
    if args.list {
        let vendor: Vendor = args.vendor.as_deref().unwrap_or_default().parse()?;
        print!("{}", list(vendor, args.json)?);
        return Ok(ExitCode::SUCCESS);
    }
    let target = target(&args).await?;
    let from = match &args.from {
        Some(f) => Origin::parse(f, target.vendor)?,
        None => Origin::Unknown,
    };
    let caller_in_mainland = from.geography() == Some(Geography::MainlandChina);
    let req = SelectRequest {
        vendor: target.vendor,
        region: target.region,
        bucket: target.bucket.clone(),
        from,
        allow_internal: !args.no_internal,
        accelerate: args.accelerate,
        protocol: target.protocol,
        custom: args.endpoint.clone(),
    };
    let selection = select(&req)?;
    let candidates = &selection.candidates;
    let ranked = if args.probe {
        let prober = Prober::new(
            Duration::from_millis(args.probe_timeout_ms),
            Duration::from_secs(60),
        )?;
        Some(prober.rank(candidates).await)
    } else {
        None
    };
    let domains = rest::domains(caller_in_mainland, Some(target.region));
    let report = Report {
        target: &target,
        selection: &selection,
        candidates,
        ranked: ranked.as_deref(),
        domains: &domains,
        caller_in_mainland,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}

async fn target(args: &EndpointsArgs) -> Result<Target> {
    let protocol = if args.s3_compatible {
        Protocol::S3Compatible
    } else {
        Protocol::Native
    };
    if let Some(path) = &args.agora {
        return agora_target(path, args, protocol);
    }
    if let Some(url) = &args.discover {
        return discover_target(url, args, protocol).await;
    }
    let vendor: Vendor = args.vendor.as_deref().unwrap_or_default().parse()?;
    let Some(region) = &args.region else {
        bail!(
            "--region is missing: give the bucket's {} region id (known: {}), or use --discover s3://bucket to ask the bucket",
            vendor.table().name,
            region_ids(vendor)
        );
    };
    Ok(Target {
        vendor,
        region: vendor.region(region)?,
        bucket: args.bucket.clone(),
        agora: None,
        protocol,
    })
}

/// The vendor's table: one line per region, or the whole table as JSON.
fn list(vendor: Vendor, as_json: bool) -> Result<String> {
    let table = vendor.table();
    if as_json {
        let v = json!({
            "vendor": vendor,
            "name": table.name,
            "discovery": table.discovery,
            "notes": table.notes,
            "services": table.services,
            "regions": table.regions,
        });
        return Ok(serde_json::to_string_pretty(&v)? + "\n");
    }
    let mut out = format!(
        "{} regions (bucket region: {}):\n",
        table.name, table.discovery
    );
    for r in &table.regions {
        let mut flags = Vec::new();
        if let Some(s) = r.status {
            flags.push(s.as_str().to_string());
        }
        if !r.verified {
            flags.push("unverified".into());
        }
        if r.custom_domain_required {
            flags.push("custom domain for new users".into());
        }
        let public = r
            .endpoints
            .public
            .as_deref()
            .unwrap_or("(no native host known)");
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join("; "))
        };
        out += &format!(
            "  {:<18} {:<34} {:<15} {public}{flags}\n",
            r.id,
            r.name,
            r.geography.as_str()
        );
    }
    Ok(out)
}

fn region_ids(vendor: Vendor) -> String {
    let ids: Vec<&str> = vendor
        .table()
        .regions
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    ids.join(", ")
}

fn agora_target(path: &PathBuf, args: &EndpointsArgs, protocol: Protocol) -> Result<Target> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the storageConfig file {}", path.display()))?;
    let cfg = AgoraStorage::from_json(&text)?;
    if cfg.target == AgoraTarget::Azure {
        bail!(
            "vendor {} ({}) is reached at its storage account's own endpoint, https://{}.blob.core.windows.net: Azure has no regional endpoints to choose from",
            cfg.vendor_code,
            cfg.vendor_name,
            cfg.credentials.access_key_id
        );
    }
    // Huawei, Baidu and Kingsoft are reached through their S3-compatible APIs.
    let protocol = match cfg.s3_preset() {
        Some(_) => Protocol::S3Compatible,
        None => protocol,
    };
    let (AgoraTarget::Vendor(vendor), Some(resolved)) = (cfg.target, &cfg.region) else {
        bail!(
            "vendor {} ({}) is S3-compatible storage at {}: there is no region table to choose from; use that endpoint as it is (stowage … --endpoint {})",
            cfg.vendor_code,
            cfg.vendor_name,
            cfg.endpoint.as_deref().unwrap_or("?"),
            cfg.endpoint.as_deref().unwrap_or("URL")
        );
    };
    let agora = json!({
        "vendor": cfg.vendor_code,
        "vendor_name": cfg.vendor_name,
        "region_code": resolved.code,
        "region_label": resolved.label,
        "region_id_inferred": true,
        "url": cfg.url.to_string(),
        "prefix": cfg.prefix,
        "sts_token": cfg.credentials.session_token().is_some(),
    });
    Ok(Target {
        vendor,
        region: resolved.region,
        bucket: args.bucket.clone().or(Some(cfg.bucket)),
        agora: Some(agora),
        protocol,
    })
}

async fn discover_target(url: &str, args: &EndpointsArgs, protocol: Protocol) -> Result<Target> {
    let url = StorageUrl::parse(url)?;
    let vendor = match (stowage::vendor_of_scheme(url.scheme), url.scheme) {
        (Some(vendor), _) => vendor,
        (None, stowage_core::Scheme::File) => bail!("{url} is a local directory: it has no region"),
        (None, _) => bail!(
            "{url} is an Azure container: Azure has one endpoint per storage account (https://<account>.blob.core.windows.net), no regional endpoints to choose from"
        ),
    };
    let store = crate::open::open_bucket(&url, &crate::StoreArgs::default(), false).await?;
    let Some(region) = stowage_region::discover_region(store.as_ref(), vendor).await? else {
        bail!(
            "{} does not report its region; give it with --vendor {vendor} --region REGION",
            store.name()
        );
    };
    Ok(Target {
        vendor,
        region,
        bucket: args.bucket.clone().or(Some(url.bucket.clone())),
        agora: None,
        protocol,
    })
}

struct Report<'a> {
    target: &'a Target,
    selection: &'a Selection,
    candidates: &'a [Candidate],
    ranked: Option<&'a [Ranked]>,
    domains: &'a [String],
    caller_in_mainland: bool,
}

impl Report<'_> {
    fn json(&self) -> Value {
        let endpoints = match self.ranked {
            Some(r) => serde_json::to_value(r),
            None => serde_json::to_value(self.candidates),
        }
        .unwrap_or(Value::Null);
        let preset = self.s3_settings();
        json!({
            "vendor": self.target.vendor,
            "region": self.selection.region,
            "agora": self.target.agora,
            "protocol": self.selection.protocol,
            "distance": self.selection.distance,
            "cross_region": self.selection.is_cross_region(),
            "endpoints": endpoints,
            "advice": self.selection.advice,
            "agora_rest": {
                "caller_in_mainland_china": self.caller_in_mainland,
                "domains": self.domains,
                "backoff_seconds": rest::BACKOFF.map(|d| d.as_secs()),
            },
            "s3_compatible": preset,
        })
    }

    fn s3_settings(&self) -> Value {
        match s3_preset(self.target.vendor) {
            Some(p) => json!({
                "settings": p.for_region(self.target.region),
                "list_version": p.list_version,
                "multipart_etag_is_md5": p.multipart_etag_is_md5,
                "bucket_name_may_differ": p.bucket_name_may_differ,
            }),
            None => Value::Null,
        }
    }

    fn text(&self) -> String {
        let r = &self.selection.region;
        let mut out = format!(
            "bucket region: {} {} — {} ({})\n",
            self.target.vendor, r.id, r.name, r.geography
        );
        if let Some(a) = &self.target.agora {
            out += &format!(
                "agora: vendor {} ({}), region code {} = {} → {} (region id inferred from Agora's label)\n",
                a["vendor"],
                a["vendor_name"].as_str().unwrap_or(""),
                a["region_code"],
                a["region_label"].as_str().unwrap_or(""),
                r.id
            );
            out += &format!("recording URL: {}\n", a["url"].as_str().unwrap_or(""));
        }
        out += "endpoints, in order (on failure use the next):\n";
        out += &self.endpoint_lines();
        for a in &self.selection.advice {
            let level = match a.level {
                Level::Warning => "warning",
                Level::Info => "note",
            };
            out += &format!("{level}: {}\n", a.message);
            if let Some(fix) = &a.fix {
                out += &format!("  Fix: {fix}\n");
            }
        }
        out += &format!(
            "agora REST domains, in order (retry after 1, 3, 6 s): {}\n",
            self.domains.join(", ")
        );
        if let Some(p) = s3_preset(self.target.vendor) {
            let s = p.for_region(self.target.region);
            out += &format!(
                "S3-compatible preset: --endpoint {} --region {}{} --s3-integrity {}\n",
                s.endpoint,
                s.region,
                if s.force_path_style {
                    " --path-style"
                } else {
                    ""
                },
                s.integrity
            );
        }
        out
    }

    fn endpoint_lines(&self) -> String {
        let kind = |c: &Candidate| {
            serde_json::to_value(c.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        match self.ranked {
            Some(ranked) => ranked
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let probe = match &r.probe {
                        stowage_region::Probe::Alive { latency, status } => {
                            format!("{} ms (HTTP {status})", latency.as_millis())
                        }
                        stowage_region::Probe::Dead { reason } => format!("dead: {reason}"),
                    };
                    format!(
                        "  {}. {:<12} {}  [{probe}]\n",
                        i + 1,
                        kind(&r.candidate),
                        r.candidate.url
                    )
                })
                .collect(),
            None => self
                .candidates
                .iter()
                .enumerate()
                .map(|(i, c)| format!("  {}. {:<12} {}\n", i + 1, kind(c), c.url))
                .collect(),
        }
    }
}
