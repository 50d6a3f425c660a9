//! The configuration's own checks (Agora `storageConfig`, STS expiry) and where the bucket
//! is against where it was configured and where the recorder runs.

use stowage_core::{Error, ObjectStore, Scheme};
use stowage_region::Vendor;

use super::{Checkup, Finding, Setting, Status, Target};

pub(super) fn agora_target(
    checkup: &Checkup,
    json: Result<String, Error>,
    out: &mut Vec<Finding>,
) -> Option<Target> {
    let parsed = json.and_then(|text| stowage_region::AgoraStorage::from_json(&text));
    let cfg = match parsed {
        Ok(c) => c,
        Err(e) => {
            out.push(Finding::from_error("agora config", Status::Fail, &e));
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
    let mut detail = format!(
        "vendor {} ({}), {}, bucket {}, prefix {:?}",
        cfg.vendor_code,
        cfg.vendor_name,
        region.unwrap_or_else(|| "no region".into()),
        cfg.bucket,
        cfg.prefix
    );
    if let Some(api) = cfg.gcs_api() {
        detail = format!("{detail}; through {api}");
    }
    out.push(Finding::new("agora config", Status::Pass, detail));
    if let Some(f) = sts_expiry(cfg.sts_expiration, checkup.recording_hours) {
        out.push(f);
    }
    let settings = crate::agora::agora_settings(&cfg, &checkup.settings);
    Some(Target {
        url: cfg.url.clone(),
        configured_region: settings.region.clone(),
        settings,
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
            Status::Fail,
            format!("expired {:.1} h ago", -left_h),
        )
        .fix(fix)
    } else if left_h < recording_hours {
        Finding::new(
            "sts token",
            Status::Warn,
            format!("expires in {left_h:.1} h, before a {recording_hours} h recording ends"),
        )
        .fix(fix)
    } else {
        Finding::new(
            "sts token",
            Status::Pass,
            format!("valid for {left_h:.1} h"),
        )
    })
}

/// The bucket's real region (asked of the server) against the configured one.
pub(super) async fn region(
    store: &dyn ObjectStore,
    configured: Option<String>,
) -> (Finding, Option<String>) {
    match store.bucket_region().await {
        Ok(Some(found)) => {
            let same = configured.as_deref().is_none_or(|c| same_region(c, &found));
            let finding = if same {
                Finding::new("region", Status::Pass, format!("the bucket is in {found}"))
            } else {
                let c = configured.as_deref().unwrap_or_default();
                Finding::new(
                    "region",
                    Status::Fail,
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
                Status::Skip,
                "the server does not report the bucket's region",
            ),
            configured,
        ),
        Err(e) => (Finding::from_error("region", Status::Warn, &e), configured),
    }
}

/// `oss-cn-hangzhou` (OSS's location form) and `cn-hangzhou` are the same region.
fn same_region(a: &str, b: &str) -> bool {
    let plain = |s: &str| s.trim().trim_start_matches("oss-").to_ascii_lowercase();
    plain(a) == plain(b)
}

/// The recorder's region against the bucket's: the FAQ's cross-region warning.
pub(super) fn distance(
    target: &Target,
    bucket_region: Option<&str>,
    from: Option<&str>,
) -> Finding {
    let preset = target.settings.s3_preset;
    let vendor = preset.or_else(|| crate::open::vendor_of_scheme(target.url.scheme));
    let Some(vendor) = vendor.filter(|v| *v != Vendor::Gcs) else {
        let why = match (target.url.scheme, preset) {
            (Scheme::Gcs, _) | (_, Some(Vendor::Gcs)) => {
                "Google Cloud Storage has one global endpoint: keep the recorder near the bucket's location"
            }
            (Scheme::Azure, _) => {
                "Azure has one endpoint per storage account: keep the recorder in the account's region"
            }
            _ => "a local directory",
        };
        return Finding::new("distance", Status::Skip, why);
    };
    let Some(region_id) = bucket_region else {
        let why = "the bucket's region is unknown";
        return Finding::new("distance", Status::Skip, why).about(Setting::Region);
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
        let detail = format!("where the recorder runs is unknown{endpoint}");
        return Finding::new("distance", Status::Skip, detail).about(Setting::From);
    };
    let selection = select(Some(from));
    match selection {
        Err(e) => Finding::from_error("distance", Status::Warn, &e),
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
                Status::Warn,
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
                Status::Pass,
                format!("recorder and bucket in the same region; endpoint {endpoint}"),
            )
        }
    }
}
