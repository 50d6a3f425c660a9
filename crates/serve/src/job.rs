//! What a verification job carries (everything a worker on another machine needs), and the
//! report it leaves.

use serde::{Deserialize, Serialize};

/// Why a recording is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Event 31: every file is in the bucket, Agora says.
    Uploaded,
    /// Event 32: some files went to Agora's backup cloud, to be re-sent to the bucket.
    Backuped,
    /// No 31/32 within the grace period (a lost webhook): verified anyway.
    Swept,
    /// A sampled second verification, later, for objects changed behind our back.
    Reverify,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Uploaded => "uploaded",
            Reason::Backuped => "backuped",
            Reason::Swept => "swept",
            Reason::Reverify => "reverify",
        }
    }
}

/// A documented lost slice (event 42 with `discontinueUtcMs`): the recording has a hole
/// between `after_ms` (end of the last good slice) and `resumed_ms`; a known loss, not a
/// missing object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostSlice {
    pub after_ms: i64,
    pub resumed_ms: i64,
}

/// One verification to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The dedupe key: `verify:<sid>` (one initial verification per recording, whatever
    /// triggered it) or `reverify:<sid>`. NATS: the `Nats-Msg-Id`.
    pub key: String,
    pub sid: String,
    pub reason: Reason,
    /// The `<app>` of `POST /agora/ncs/<app>` the events came through.
    pub app: Option<String>,
    pub cname: Option<String>,
    /// Object keys from the events' fileList (31/32, and 4's M3U8 name).
    pub file_list: Vec<String>,
    pub lost_slices: Vec<LostSlice>,
    pub created_ms: i64,
}

impl Job {
    pub fn verify_key(sid: &str) -> String {
        format!("verify:{sid}")
    }
    pub fn reverify_key(sid: &str) -> String {
        format!("reverify:{sid}")
    }
}

/// A finished job's report, as stored and served by `GET /recordings/<sid>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    pub job_key: String,
    pub sid: String,
    pub reason: Reason,
    /// `complete`, `repaired` (complete after a repair from the backup), `incomplete`,
    /// or `dead` (the verification could not run, `max_attempts` times).
    pub verdict: String,
    pub attempt: u32,
    pub worker: String,
    pub finished_ms: i64,
    /// The verification's details (the verifier's report, the repair, known losses).
    pub body: serde_json::Value,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
