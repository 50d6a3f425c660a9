//! Will recordings land in this bucket, and fast? Each check of the Agora FAQ's "upload
//! failed" list gets a [`Status`] with the cause and the fix: configuration (bucket name,
//! `storageConfig` codes, STS expiry), endpoint, credentials, clock, access, region, distance,
//! write, latency, throughput and playback. Run it before a recording starts.

mod checks;
mod region;

use serde::Serialize;
use stowage_core::{Error, StorageUrl};

use crate::open::{OpenError, open_url};
use crate::settings::Settings;
pub use checks::bucket_name_problem;

/// What to examine.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A bucket URL (`s3://bucket/prefix`, `oss://…`, a directory).
    Url(String),
    /// Agora's `storageConfig` (or a whole `start` request) as JSON.
    AgoraJson(String),
    /// A file holding that JSON.
    AgoraFile(std::path::PathBuf),
}

/// A check-up: what, how to reach it, and how far to go.
#[derive(Debug, Clone)]
pub struct Checkup {
    /// The bucket, or the `storageConfig` naming it.
    pub subject: Subject,
    /// How to reach it; [`Settings::from`] also drives the cross-region check.
    pub settings: Settings,
    /// How long recordings last, in hours: an STS token expiring sooner is a warning.
    pub recording_hours: f64,
    /// Only read: skip the probe object and the throughput test.
    pub read_only: bool,
    /// Also check playback of a probe playlist through this URL of the bucket's root.
    pub playback_base: Option<String>,
    /// Size of the throughput probe upload, in MiB (0 skips it).
    pub probe_mib: u64,
}

impl Checkup {
    /// A check-up of `subject` with the CLI's defaults (4 h recordings, an 8 MiB probe).
    pub fn new(subject: Subject, settings: Settings) -> Self {
        Checkup {
            subject,
            settings,
            recording_hours: 4.0,
            read_only: false,
            playback_base: None,
            probe_mib: 8,
        }
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Pass,
    /// Works, but something will hurt.
    Warn,
    /// Recordings will not land.
    Fail,
    /// Not checked (see the cause).
    Skip,
}

/// The setting a finding's fix is about, for a caller to name in its own words (a flag,
/// a configuration key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// The key pair.
    Credentials,
    /// The bucket's region.
    Region,
    /// Where the uploader runs.
    From,
    /// The read-only switch.
    ReadOnly,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Which check.
    pub check: &'static str,
    /// How it came out.
    #[serde(rename = "verdict")]
    pub status: Status,
    /// What was found: the cause of a warning or failure.
    #[serde(rename = "detail")]
    pub cause: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The setting the cause or the fix is about.
    #[serde(skip)]
    pub setting: Option<Setting>,
}

impl Finding {
    fn new(check: &'static str, status: Status, cause: impl Into<String>) -> Self {
        Finding {
            check,
            status,
            cause: cause.into(),
            fix: None,
            setting: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    fn about(mut self, setting: Setting) -> Self {
        self.setting = Some(setting);
        self
    }

    /// A failed call: the error's cause, and the fix its kind names.
    fn from_error(check: &'static str, status: Status, e: &Error) -> Self {
        Finding::new(check, status, e.cause()).fix(e.kind().hint())
    }
}

/// True when a finding failed.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.status == Status::Fail)
}

/// What the doctor examines: a URL and how to reach it.
struct Target {
    url: StorageUrl,
    settings: Settings,
    /// The region the configuration names (setting or Agora code), if any.
    configured_region: Option<String>,
}

/// Runs every check in order; a failure that makes later checks meaningless stops there.
pub async fn diagnose(checkup: &Checkup) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(target) = target(checkup, &mut out) else {
        return out;
    };
    out.push(checks::configuration(&target.url));
    if failed(&out) {
        return out;
    }
    let store = match open_url(&target.url, &target.settings).await {
        Ok(opened) => opened.store,
        Err(e) => {
            out.push(open_failure(e));
            return out;
        }
    };
    remote_checks(checkup, &target, store.as_ref(), &mut out).await;
    out
}

/// The checks that talk to the bucket.
async fn remote_checks(
    checkup: &Checkup,
    target: &Target,
    store: &dyn stowage_core::ObjectStore,
    out: &mut Vec<Finding>,
) {
    let prefix = checks::prefix_of(&target.url);
    if let Some(f) = checks::clock(&target.url, &target.settings).await {
        out.push(f);
    }
    let access = checks::access(store, &prefix).await;
    let stop = access.status == Status::Fail;
    out.push(access);
    if stop {
        return;
    }
    let (found, bucket_region) = region::region(store, target.configured_region.clone()).await;
    out.push(found);
    let from = checkup.settings.from.as_deref();
    out.push(region::distance(target, bucket_region.as_deref(), from));
    if checkup.read_only {
        out.push(Finding::new("write", Status::Skip, "read-only").about(Setting::ReadOnly));
        return;
    }
    let write = checks::write_probe(store, &prefix).await;
    let stop = write.status == Status::Fail;
    out.push(write);
    if stop {
        return;
    }
    out.push(checks::latency(store, &prefix).await);
    if checkup.probe_mib > 0 {
        out.push(checks::throughput(store, &prefix, checkup.probe_mib).await);
    }
    if let Some(base) = &checkup.playback_base {
        out.push(checks::playback(store, &prefix, base).await);
    }
}

/// Opening failed: choosing the endpoint, or (anything else) the credentials.
fn open_failure(e: OpenError) -> Finding {
    match e {
        OpenError::Store(e) => Finding::new("credentials", Status::Fail, e.to_string())
            .fix("give a key pair, or the vendor's environment variables, or a profile")
            .about(Setting::Credentials),
        OpenError::Endpoint(e) => Finding::from_error("endpoint", Status::Fail, &e),
        other => Finding::new("endpoint", Status::Fail, other.to_string()),
    }
}

/// The target from a URL, or from Agora's storageConfig (whose checks are reported here:
/// codes, prefix, STS expiry).
fn target(checkup: &Checkup, out: &mut Vec<Finding>) -> Option<Target> {
    let json = match &checkup.subject {
        Subject::Url(raw) => return url_target(raw, &checkup.settings, out),
        Subject::AgoraJson(json) => Ok(json.clone()),
        Subject::AgoraFile(path) => {
            std::fs::read_to_string(path).map_err(|e| Error::local_io(path, e))
        }
    };
    region::agora_target(checkup, json, out)
}

fn url_target(raw: &str, settings: &Settings, out: &mut Vec<Finding>) -> Option<Target> {
    match StorageUrl::parse(raw) {
        Ok(url) => Some(Target {
            url,
            settings: settings.clone(),
            configured_region: settings.region.clone(),
        }),
        Err(e) => {
            out.push(Finding::from_error("configuration", Status::Fail, &e));
            None
        }
    }
}
