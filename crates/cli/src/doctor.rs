//! `stowage doctor URL`: will recordings land here, and fast? Each check of the Agora FAQ's
//! "upload failed" list gets a pass, a warning or a failure, with the fix in plain words.
//!
//! Exit codes: 0 when nothing failed (warnings allowed), 1 when a check failed.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use serde::Serialize;
use stowage_core::checksum::checksum_bytes;
use stowage_core::{
    ChecksumAlgo, Error, ErrorKind, ListRequest, ObjectStore, PutBody, PutOptions, Scheme,
    StorageUrl,
};

use crate::StoreArgs;
use crate::open::{EndpointChoiceError, open_bucket};

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

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn new(check: &'static str, verdict: Verdict, detail: impl Into<String>) -> Self {
        Finding {
            check,
            verdict,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// A failed store call: the error's own message names the cause; its fix is split out.
    fn from_error(check: &'static str, verdict: Verdict, e: &Error) -> Self {
        let text = e.to_string();
        match text.split_once(" Fix: ") {
            Some((detail, fix)) => Finding::new(check, verdict, detail).fix(fix),
            None => Finding::new(check, verdict, text),
        }
    }
}

pub async fn run(args: DoctorArgs) -> ExitCode {
    let findings = diagnose(&args).await;
    print(&findings, args.json);
    if findings.iter().any(|f| f.verdict == Verdict::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs every check in order; a failure that makes later checks meaningless stops there.
pub async fn diagnose(args: &DoctorArgs) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(target) = target(args, &mut out) else {
        return out;
    };
    out.push(configuration(&target.url));
    if out.iter().any(|f| f.verdict == Verdict::Fail) {
        return out;
    }
    let store = match open_bucket(&target.url, &target.store, false).await {
        Ok(s) => s,
        Err(e) if e.downcast_ref::<EndpointChoiceError>().is_some() => {
            let text = e.to_string();
            out.push(match text.split_once(" Fix: ") {
                Some((detail, fix)) => Finding::new("endpoint", Verdict::Fail, detail).fix(fix),
                None => Finding::new("endpoint", Verdict::Fail, text),
            });
            return out;
        }
        Err(e) => {
            out.push(
                Finding::new("credentials", Verdict::Fail, format!("{e:#}"))
                    .fix("give --access-key and --secret-key, or the vendor's environment variables, or a profile"),
            );
            return out;
        }
    };
    let prefix = prefix_of(&target.url);
    if let Some(f) = clock(&target.url, &target.store).await {
        out.push(f);
    }
    let access = access(store.as_ref(), &prefix).await;
    let stop = access.verdict == Verdict::Fail;
    out.push(access);
    if stop {
        return out;
    }
    let region = region(store.as_ref(), &target).await;
    out.push(region.0);
    out.push(distance(
        &target,
        region.1.as_deref(),
        args.store.from.as_deref(),
    ));
    if args.read_only {
        out.push(Finding::new("write", Verdict::Skip, "--read-only"));
        return out;
    }
    let write = write_probe(store.as_ref(), &prefix).await;
    let stop = write.verdict == Verdict::Fail;
    out.push(write);
    if stop {
        return out;
    }
    out.push(latency(store.as_ref(), &prefix).await);
    if args.probe_mib > 0 {
        out.push(throughput(store.as_ref(), &prefix, args.probe_mib).await);
    }
    if let Some(base) = &args.playback_base {
        out.push(playback(store.as_ref(), &prefix, base).await);
    }
    out
}

/// What the doctor examines: a URL and how to reach it.
struct Target {
    url: StorageUrl,
    store: StoreArgs,
    /// The region the configuration names (flag or Agora code), if any.
    configured_region: Option<String>,
}

/// The target from a URL and flags, or from Agora's storageConfig (whose checks are
/// reported here: codes, prefix, STS expiry).
fn target(args: &DoctorArgs, out: &mut Vec<Finding>) -> Option<Target> {
    if let Some(path) = &args.agora {
        return agora_target(args, path, out);
    }
    let raw = args.url.as_deref().unwrap_or_default();
    match StorageUrl::parse(raw) {
        Ok(url) => Some(Target {
            url,
            store: args.store.clone(),
            configured_region: args.store.region.clone(),
        }),
        Err(e) => {
            out.push(Finding::from_error("configuration", Verdict::Fail, &e));
            None
        }
    }
}

fn agora_target(
    args: &DoctorArgs,
    path: &std::path::Path,
    out: &mut Vec<Finding>,
) -> Option<Target> {
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| Error::local_io(path, e))
        .and_then(|text| stowage_region::AgoraStorage::from_json(&text));
    let cfg = match parsed {
        Ok(c) => c,
        Err(e) => {
            out.push(Finding::from_error("agora config", Verdict::Fail, &e));
            return None;
        }
    };
    // Agora gives labels, not region ids: every mapping is inferred from the label.
    let region = cfg.region.as_ref().map(|r| {
        format!(
            "region {} {} → {} (inferred from the label)",
            r.code, r.label, r.region.id
        )
    });
    // Vendors without region tables (Azure, S3-compatible) say why in the code table.
    let region = region.or_else(|| {
        stowage_region::agora::agora_vendor(i64::from(cfg.vendor_code))
            .ok()
            .and_then(|v| v.note.clone())
    });
    let detail = format!(
        "vendor {} ({}), {}, bucket {}, prefix {:?}",
        cfg.vendor_code,
        cfg.vendor_name,
        region.unwrap_or_else(|| "no region".into()),
        cfg.bucket,
        cfg.prefix
    );
    out.push(Finding::new("agora config", Verdict::Pass, detail));
    if let Some(f) = sts_expiry(cfg.sts_expiration, args.recording_hours) {
        out.push(f);
    }
    let mut store = args.store.clone();
    // Huawei, Baidu and Kingsoft: the S3 adapter with the vendor's preset.
    if let Some(preset) = cfg.s3_preset() {
        store.s3_preset = Some(preset.as_str().to_string());
    }
    store.access_key = Some(cfg.credentials.access_key_id.clone());
    store.secret_key = Some(cfg.credentials.secret_access_key().to_string());
    store.session_token = cfg.credentials.session_token().map(str::to_string);
    store.region = cfg
        .region
        .as_ref()
        .map(|r| r.region.id.clone())
        .or(store.region);
    if store.endpoint.is_none() {
        store.endpoint.clone_from(&cfg.endpoint);
    }
    Some(Target {
        url: cfg.url.clone(),
        configured_region: store.region.clone(),
        store,
    })
}

/// Agora asks for at least 4 hours of validity, and a new token every hour on long tasks.
fn sts_expiry(expires_at: Option<i64>, recording_hours: f64) -> Option<Finding> {
    let at = expires_at?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let left_h = (at - now) as f64 / 3600.0;
    let fix = "request a new STS token (valid ≥ 4 h) and send it with Agora's update call every 60 minutes";
    Some(if left_h <= 0.0 {
        Finding::new(
            "sts token",
            Verdict::Fail,
            format!("expired {:.1} h ago", -left_h),
        )
        .fix(fix)
    } else if left_h < recording_hours {
        Finding::new(
            "sts token",
            Verdict::Warn,
            format!("expires in {left_h:.1} h, before a {recording_hours} h recording ends"),
        )
        .fix(fix)
    } else {
        Finding::new(
            "sts token",
            Verdict::Pass,
            format!("valid for {left_h:.1} h"),
        )
    })
}

/// The bucket's real region (asked of the server) against the configured one.
async fn region(store: &dyn ObjectStore, target: &Target) -> (Finding, Option<String>) {
    let configured = target.configured_region.clone();
    match store.bucket_region().await {
        Ok(Some(found)) => {
            let same = configured.as_deref().is_none_or(|c| same_region(c, &found));
            let finding = if same {
                Finding::new("region", Verdict::Pass, format!("the bucket is in {found}"))
            } else {
                let c = configured.as_deref().unwrap_or_default();
                Finding::new(
                    "region",
                    Verdict::Fail,
                    format!("the bucket is in {found}, the configuration says {c}"),
                )
                .fix(format!(
                    "set the region to {found} (in Agora's storageConfig, the code for {found})"
                ))
            };
            (finding, Some(found))
        }
        Ok(None) => (
            Finding::new(
                "region",
                Verdict::Skip,
                "the server does not report the bucket's region",
            ),
            configured,
        ),
        Err(e) => (Finding::from_error("region", Verdict::Warn, &e), configured),
    }
}

/// `oss-cn-hangzhou` (OSS's location form) and `cn-hangzhou` are the same region.
fn same_region(a: &str, b: &str) -> bool {
    let plain = |s: &str| s.trim().trim_start_matches("oss-").to_ascii_lowercase();
    plain(a) == plain(b)
}

/// The recorder's region against the bucket's: the FAQ's cross-region warning.
fn distance(target: &Target, bucket_region: Option<&str>, from: Option<&str>) -> Finding {
    let preset = target.store.s3_preset.as_deref();
    let Some(vendor) = preset
        .and_then(|p| p.parse().ok())
        .or_else(|| vendor_of(target.url.scheme))
    else {
        let why = match target.url.scheme {
            Scheme::Azure => {
                "Azure has one endpoint per storage account: keep the recorder in the account's region"
            }
            _ => "a local directory",
        };
        return Finding::new("distance", Verdict::Skip, why);
    };
    let Some(region_id) = bucket_region else {
        return Finding::new(
            "distance",
            Verdict::Skip,
            "the bucket's region is unknown (--region)",
        );
    };
    let select = |from: Option<&str>| {
        vendor
            .region(region_id.trim_start_matches("oss-"))
            .and_then(|region| {
                let mut req = stowage_region::SelectRequest::new(vendor, region);
                req.bucket = Some(target.url.bucket.clone());
                if let Some(f) = from {
                    req.from = stowage_region::select::Origin::parse(f, vendor)?;
                }
                stowage_region::select::select(&req)
            })
    };
    let Some(from) = from else {
        let endpoint = select(None)
            .ok()
            .and_then(|s| s.candidates.into_iter().next())
            .map(|c| format!("; the selector's endpoint for {region_id}: {}", c.url))
            .unwrap_or_default();
        let detail = format!("where the recorder runs is unknown (--from REGION){endpoint}");
        return Finding::new("distance", Verdict::Skip, detail);
    };
    let selection = select(Some(from));
    match selection {
        Err(e) => Finding::from_error("distance", Verdict::Warn, &e),
        Ok(sel) if sel.is_cross_region() => {
            let warning = sel
                .advice
                .iter()
                .find(|a| a.level == stowage_region::select::Level::Warning);
            let endpoint = sel
                .candidates
                .first()
                .map(|c| c.url.clone())
                .unwrap_or_default();
            let mut f = Finding::new(
                "distance",
                Verdict::Warn,
                warning.map_or_else(|| "cross-region upload".to_string(), |a| a.message.clone()),
            );
            f.fix = warning
                .and_then(|a| a.fix.clone())
                .map(|fix| format!("{fix} (endpoint to use: {endpoint})"));
            f
        }
        Ok(sel) => {
            let endpoint = sel
                .candidates
                .first()
                .map(|c| c.url.clone())
                .unwrap_or_default();
            Finding::new(
                "distance",
                Verdict::Pass,
                format!("recorder and bucket in the same region; endpoint {endpoint}"),
            )
        }
    }
}

fn vendor_of(scheme: Scheme) -> Option<stowage_region::Vendor> {
    match scheme {
        Scheme::S3 => Some(stowage_region::Vendor::S3),
        Scheme::Oss => Some(stowage_region::Vendor::Oss),
        Scheme::Cos => Some(stowage_region::Vendor::Cos),
        Scheme::Kodo => Some(stowage_region::Vendor::Kodo),
        _ => None,
    }
}

fn prefix_of(url: &StorageUrl) -> String {
    match url.local_path() {
        Some(_) => String::new(),
        None => url.key.trim_matches('/').to_string(),
    }
}

fn probe_key(prefix: &str, name: &str) -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let file = format!("stowage-doctor-{}-{name}", &tag[..8]);
    if prefix.is_empty() {
        file
    } else {
        format!("{prefix}/{file}")
    }
}

/// The bucket name is one the vendor accepts.
fn configuration(url: &StorageUrl) -> Finding {
    match bucket_name_problem(url.scheme, &url.bucket) {
        Some(why) => Finding::new("configuration", Verdict::Fail, why)
            .fix("use the bucket's exact name as the vendor's console shows it"),
        None => {
            let what = match url.local_path() {
                Some(dir) => format!("local directory bucket {}", dir.display()),
                None => format!("{} bucket {}", url.scheme.as_str(), url.bucket),
            };
            Finding::new("configuration", Verdict::Pass, what)
        }
    }
}

/// Why `name` cannot be a bucket of `scheme`, if it cannot.
pub fn bucket_name_problem(scheme: Scheme, name: &str) -> Option<String> {
    let dns_like = |max: usize| {
        (3..=max).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !name.starts_with(['-', '.'])
            && !name.ends_with(['-', '.'])
    };
    match scheme {
        Scheme::File => None,
        Scheme::S3 | Scheme::Oss if !dns_like(63) => Some(format!(
            "{name:?} is not a valid bucket name: 3–63 lowercase letters, digits, hyphens (and dots on S3), starting and ending with a letter or digit"
        )),
        Scheme::Oss if name.contains('.') => Some(format!(
            "{name:?} is not a valid OSS bucket name: OSS bucket names have no dots"
        )),
        Scheme::Cos => {
            let appid_ok = name.rsplit_once('-').is_some_and(|(n, id)| {
                !n.is_empty() && id.len() >= 5 && id.bytes().all(|b| b.is_ascii_digit())
            });
            (!appid_ok || !dns_like(60)).then(|| {
                format!("{name:?} is not a COS bucket: COS names are <name>-<APPID>, e.g. examplebucket-1250000000")
            })
        }
        Scheme::Azure => stowage_azure::config::container_name_problem(name)
            .map(|p| format!("{name:?} is not a valid Azure container name: {p}")),
        Scheme::Kodo => (!(4..=63).contains(&name.len())
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then(|| {
            format!("{name:?} is not a valid Kodo bucket name: 4–63 letters, digits and hyphens")
        }),
        _ => None,
    }
}

/// The local clock against the server's `Date`: SigV4 and OSS/COS signatures are refused
/// beyond 15 minutes of skew, and a drifting clock gets there during a long recording.
async fn clock(url: &StorageUrl, args: &StoreArgs) -> Option<Finding> {
    let endpoint = clock_endpoint(url, args)?;
    let ca = crate::open::ca_bundle(args).ok().flatten();
    let builder = stowage_http::client::client_builder(ca.as_ref()).ok()?;
    let client = builder.timeout(Duration::from_secs(10)).build().ok()?;
    let resp = match client.head(&endpoint).send().await {
        Ok(r) => r,
        Err(_) => {
            return Some(
                Finding::new(
                    "clock",
                    Verdict::Warn,
                    format!("could not reach {endpoint} to read its clock"),
                )
                .fix("check the endpoint and the network"),
            );
        }
    };
    let date = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok());
    let Some(server) = date else {
        return Some(Finding::new(
            "clock",
            Verdict::Skip,
            "the server sent no Date header",
        ));
    };
    let local = std::time::SystemTime::now();
    let skew = match local.duration_since(server) {
        Ok(ahead) => ahead.as_secs_f64(),
        Err(behind) => -behind.duration().as_secs_f64(),
    };
    Some(clock_verdict(skew))
}

/// Where to read the server's clock: the explicit endpoint, else (S3) the SDK's endpoint
/// variables, else the vendor's public endpoint for the region from stowage-region's tables
/// (S3 defaults to us-east-1; the others need --region).
fn clock_endpoint(url: &StorageUrl, args: &StoreArgs) -> Option<String> {
    if let Some(ep) = &args.endpoint {
        return Some(ep.clone());
    }
    if url.scheme == Scheme::S3
        && let Some(ep) = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    {
        return Some(ep);
    }
    let vendor = vendor_of(url.scheme)?;
    let region_id = match (args.region.as_deref(), url.scheme) {
        (Some(r), _) => r,
        (None, Scheme::S3) => "us-east-1",
        (None, _) => return None,
    };
    let region = vendor.region(region_id).ok()?;
    let request = stowage_region::SelectRequest::new(vendor, region);
    let selection = stowage_region::select::select(&request).ok()?;
    selection.candidates.first().map(|c| c.url.clone())
}

/// Skew in seconds (local minus server; `Date` has one-second resolution).
fn clock_verdict(skew: f64) -> Finding {
    let side = if skew >= 0.0 { "ahead of" } else { "behind" };
    let detail = format!("local clock {:.0} s {side} the server", skew.abs());
    let fix = "synchronise the clock (chrony or systemd-timesyncd with NTP)";
    match skew.abs() {
        s if s > 900.0 => Finding::new(
            "clock",
            Verdict::Fail,
            format!("{detail}: requests are refused beyond 15 minutes (RequestTimeTooSkewed)"),
        )
        .fix(fix),
        s if s > 60.0 => Finding::new(
            "clock",
            Verdict::Warn,
            format!("{detail}: uploads fail once it reaches 15 minutes"),
        )
        .fix(fix),
        _ => Finding::new("clock", Verdict::Pass, detail),
    }
}

/// Credentials accepted and the bucket there: one listing of at most one key. A write-only
/// key (what Agora recommends) may not list: that is a warning, the write probe decides.
async fn access(store: &dyn ObjectStore, prefix: &str) -> Finding {
    let req = ListRequest {
        prefix: prefix.to_string(),
        max_keys: Some(1),
        ..ListRequest::default()
    };
    match store.list(&req).await {
        Ok(_) => Finding::new(
            "access",
            Verdict::Pass,
            format!("{} is there and answers", store.name()),
        ),
        Err(e) if *e.kind() == ErrorKind::AccessDenied => {
            Finding::from_error("access", Verdict::Warn, &e)
        }
        Err(e) => Finding::from_error("access", Verdict::Fail, &e),
    }
}

/// Put, head (checksum confirmed) and delete a small probe object under the prefix.
async fn write_probe(store: &dyn ObjectStore, prefix: &str) -> Finding {
    let key = probe_key(prefix, "probe.ts");
    let body = Bytes::from(vec![0x47u8; 188 * 8]);
    let sums = checksum_bytes(&body, &ChecksumAlgo::ALL);
    let opts = PutOptions {
        checksums: Some(sums.clone()),
        ..PutOptions::default()
    };
    if let Err(e) = store.put(&key, PutBody::Bytes(body.clone()), &opts).await {
        return Finding::from_error("write", Verdict::Fail, &e);
    }
    let checked = match store.head(&key).await {
        Ok(meta) if meta.size != body.len() as u64 => Err(format!(
            "HEAD says {} bytes, {} were sent",
            meta.size,
            body.len()
        )),
        Ok(meta) => match sums.verify(&meta.checksums) {
            Ok(0) => Ok("size confirmed (the store reports no checksum)".to_string()),
            Ok(n) => Ok(format!("size and {n} checksum(s) confirmed")),
            Err(e) => Err(e.message().to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    let deleted = store.delete(&key).await;
    match (checked, deleted) {
        (Err(why), _) => Finding::new("write", Verdict::Fail, format!("{key}: {why}"))
            .fix("the bucket does not keep what it was sent: check server-side processing (encryption, lifecycle) and the endpoint"),
        (Ok(what), Err(e)) => Finding::new("write", Verdict::Warn, format!("put and head work ({what}); delete of {key} failed: {e}"))
            .fix("the probe object stays behind; delete permission is not needed for recording"),
        (Ok(what), Ok(())) => Finding::new("write", Verdict::Pass, format!("put, head and delete of a probe object: {what}")),
    }
}

/// Round-trip time of a few small requests.
async fn latency(store: &dyn ObjectStore, prefix: &str) -> Finding {
    let key = probe_key(prefix, "absent");
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let _ = store.head(&key).await; // a 404 is a full round trip
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    let ms = median.as_secs_f64() * 1000.0;
    let detail = format!("median of 5 HEADs: {ms:.1} ms");
    if ms > 300.0 {
        Finding::new("latency", Verdict::Warn, format!("{detail}: the bucket is far from here"))
            .fix("record into a bucket in the recorder's region, or use the vendor's accelerated endpoint")
    } else {
        Finding::new("latency", Verdict::Pass, detail)
    }
}

/// One upload of `mib` MiB, timed, then deleted.
async fn throughput(store: &dyn ObjectStore, prefix: &str, mib: u64) -> Finding {
    let key = probe_key(prefix, "throughput.bin");
    let body = Bytes::from(vec![0u8; (mib << 20) as usize]);
    let t = Instant::now();
    let put = store
        .put(&key, PutBody::Bytes(body), &PutOptions::default())
        .await;
    let secs = t.elapsed().as_secs_f64();
    let _ = store.delete(&key).await;
    match put {
        Err(e) => Finding::from_error("throughput", Verdict::Warn, &e),
        Ok(_) => {
            let rate = mib as f64 / secs.max(1e-6);
            let detail = format!("{mib} MiB in {secs:.2} s = {rate:.1} MiB/s");
            // A 1080p recording is ~0.5 MiB/s per stream; below 2 MiB/s a few streams queue up.
            if rate < 2.0 {
                Finding::new(
                    "throughput",
                    Verdict::Warn,
                    format!("{detail}: too slow for several recordings at once"),
                )
                .fix(
                    "use a bucket in the recorder's region, or an internal or accelerated endpoint",
                )
            } else {
                Finding::new("throughput", Verdict::Pass, detail)
            }
        }
    }
}

/// A probe playlist and segment, loaded through `base` as a web player would.
async fn playback(store: &dyn ObjectStore, prefix: &str, base: &str) -> Finding {
    let seg = probe_key(prefix, "play.ts");
    let seg_name = seg.rsplit('/').next().unwrap_or(&seg).to_string();
    let playlist = seg.replace(".ts", ".m3u8");
    let text = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.000,\n{seg_name}\n#EXT-X-ENDLIST\n"
    );
    let ts = Bytes::from(vec![0x47u8; 188 * 4]);
    let opts = PutOptions::default();
    let put = async {
        store.put(&seg, PutBody::Bytes(ts), &opts).await?;
        store
            .put(&playlist, PutBody::Bytes(Bytes::from(text)), &opts)
            .await
    };
    let finding = match put.await {
        Err(e) => Finding::from_error("playback", Verdict::Fail, &e),
        Ok(_) => {
            let check = stowage_verify::playback::PlaybackCheck {
                base: base.to_string(),
                origin: stowage_verify::playback::DEFAULT_ORIGIN.to_string(),
                signer: None,
            };
            let seen = check.check(&playlist).await;
            let problems: Vec<String> = seen
                .problems
                .iter()
                .filter_map(|p| match p {
                    stowage_verify::Problem::Playback { key, detail } => {
                        Some(format!("{key}: {detail}"))
                    }
                    _ => None,
                })
                .collect();
            if problems.is_empty() {
                Finding::new(
                    "playback",
                    Verdict::Pass,
                    "a probe playlist and segment load with the right Content-Type and CORS",
                )
            } else {
                Finding::new("playback", Verdict::Fail, problems.join("; "))
            }
        }
    };
    let _ = store.delete(&playlist).await;
    let _ = store.delete(&seg).await;
    finding
}

fn print(findings: &[Finding], json: bool) {
    if json {
        let failed = findings.iter().any(|f| f.verdict == Verdict::Fail);
        let doc = serde_json::json!({ "ok": !failed, "checks": findings });
        println!("{doc}");
        return;
    }
    for f in findings {
        let mark = match f.verdict {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        };
        println!("{mark}  {:<13} {}", f.check, f.detail);
        if let Some(fix) = &f.fix {
            println!("      {:<13} fix: {fix}", "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_per_vendor() {
        assert!(bucket_name_problem(Scheme::S3, "my.bucket-1").is_none());
        assert!(bucket_name_problem(Scheme::S3, "My_Bucket").is_some());
        assert!(bucket_name_problem(Scheme::Oss, "rec.bucket").is_some());
        assert!(bucket_name_problem(Scheme::Cos, "examplebucket-1250000000").is_none());
        assert!(
            bucket_name_problem(Scheme::Cos, "examplebucket")
                .unwrap()
                .contains("<name>-<APPID>")
        );
        assert!(bucket_name_problem(Scheme::Kodo, "rec-2026").is_none());
        assert!(bucket_name_problem(Scheme::Kodo, "a.b").is_some());
    }

    #[test]
    fn the_clock_is_read_from_the_vendors_public_endpoint_without_an_explicit_one() {
        let at = |url: &str, region: Option<&str>| {
            let args = StoreArgs {
                region: region.map(str::to_string),
                ..StoreArgs::default()
            };
            clock_endpoint(&StorageUrl::parse(url).unwrap(), &args)
        };
        assert_eq!(
            at("oss://rec/p", Some("cn-hangzhou")).as_deref(),
            Some("https://oss-cn-hangzhou.aliyuncs.com")
        );
        assert_eq!(
            at("cos://rec-1250000000/p", Some("ap-guangzhou")).as_deref(),
            Some("https://cos.ap-guangzhou.myqcloud.com")
        );
        assert_eq!(at("oss://rec/p", None), None, "OSS needs a region");
        assert_eq!(at("file:///tmp/x", None), None);
        let explicit = StoreArgs {
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..StoreArgs::default()
        };
        assert_eq!(
            clock_endpoint(&StorageUrl::parse("oss://rec/p").unwrap(), &explicit).as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn clock_skew_thresholds() {
        assert_eq!(clock_verdict(2.0).verdict, Verdict::Pass);
        assert_eq!(clock_verdict(-120.0).verdict, Verdict::Warn);
        let f = clock_verdict(3600.0);
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("3600 s ahead"), "{}", f.detail);
        assert!(f.fix.unwrap().contains("NTP"));
    }
}
