//! Stowage's main job: a recording directory into the bucket.
//!
//! 1. Every file is registered in a SQLite [`journal`] beside the spool
//!    (`<dir>/.stowage/journal-<destination hash>.sqlite`); objects already confirmed are never sent again.
//!    One run per spool at a time: each holds `<dir>/.stowage/upload.lock`, and another run
//!    (upload, restore, live session) is refused while it does. A damaged journal is moved
//!    aside and rebuilt.
//! 2. Media and other files go first, `concurrency` at a time, each hashed once, sent with
//!    its checksums (multipart above the threshold, resumable from the journaled upload id),
//!    retried with backoff and jitter while the error is retryable and the object's budget
//!    lasts, then sent to the backup bucket — per object.
//! 3. A playlist is published to a bucket only when every segment it names is confirmed in
//!    that bucket; otherwise it is held and reported.
//! 4. A manifest of every object is written locally and uploaded beside the playlist.
//!
//! Local files are deleted only with `delete_after_verify`, after their checksum was
//! confirmed by the bucket.

mod growing;
pub mod journal;
mod live;
mod lock;
pub mod plan;
mod run;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use stowage_core::ObjectStore;
use stowage_core::retry::RetryPolicy;
use stowage_core::upload::UploadConfig;

pub use live::{Session, WatchOptions, watch};
pub use run::{MANIFEST_NAME, restore, upload_recording};

/// Where objects go.
#[derive(Clone)]
pub struct Targets {
    pub primary: Arc<dyn ObjectStore>,
    pub backup: Option<Arc<dyn ObjectStore>>,
}

/// A callback for progress events.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// How to upload.
#[derive(Clone)]
pub struct Options {
    /// Key prefix (like Agora's `fileNamePrefix`), joined to each file's relative path.
    pub prefix: String,
    /// Objects in flight at once.
    pub concurrency: usize,
    /// Attempts per object and bucket, with exponential backoff and full jitter.
    pub retry: RetryPolicy,
    pub upload: UploadConfig,
    /// Give up after this long; what has not landed stays in the spool and the journal.
    pub deadline: Option<Duration>,
    /// Delete each local file once the bucket confirmed its checksum.
    pub delete_after_verify: bool,
    pub events: Option<EventSink>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: String::new(),
            // Measured (docs/decisions.md, "Default concurrency"): 16 objects in flight.
            concurrency: 16,
            retry: RetryPolicy {
                max_attempts: 5,
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(10),
            },
            upload: UploadConfig::default(),
            deadline: None,
            delete_after_verify: false,
            events: None,
        }
    }
}

/// What happened, as it happens (`--json` prints one per line).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// What a run has to send (objects not yet landed and their bytes).
    Planned {
        objects: usize,
        bytes: u64,
    },
    Sending {
        key: String,
        size: u64,
        bucket: String,
    },
    Retrying {
        key: String,
        attempt: u32,
        error: String,
    },
    Landed {
        key: String,
        size: u64,
        location: journal::State,
    },
    SentToBackup {
        key: String,
        primary_error: String,
    },
    Failed {
        key: String,
        error: String,
    },
    PlaylistPublished {
        key: String,
        bucket: String,
    },
    /// A growing playlist was re-published with this many confirmed segments.
    PlaylistUpdated {
        key: String,
        segments: usize,
    },
    PlaylistHeld {
        key: String,
        reason: String,
    },
    /// A recording that ended without ENDLIST: its playlist was closed as a complete VOD in
    /// the bucket (its lines plus `#EXT-X-ENDLIST`).
    PlaylistClosed {
        key: String,
        ended: Ended,
    },
    /// A bucket refused in a way no other object would escape (missing, credentials
    /// refused, not a storage API): nothing more is sent there this run. Said once.
    BucketUnusable {
        bucket: String,
        error: String,
    },
    /// A file of the spool that is not uploaded, and why (a symlink leaving the spool).
    Skipped {
        path: String,
        reason: String,
    },
    AbortedStaleUpload {
        key: String,
        upload_id: String,
    },
    Deleted {
        key: String,
    },
    DeadlineReached {
        pending: usize,
    },
}

/// How a followed recording ended (`stowage upload --watch`, [`Session::finish_ended`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ended {
    /// The recorder's playlist says `#EXT-X-ENDLIST`: it finished the recording.
    EndList,
    /// Nothing new arrived for the idle timeout: the recorder stopped without saying so.
    Idle,
    /// Stopped from outside (Ctrl-C, [`WatchOptions::stop`]).
    Stopped,
    /// The deadline passed before everything was sent.
    Deadline,
}

/// Like Agora's `uploadingStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything is in the primary bucket.
    Uploaded,
    /// Everything landed, some of it in the backup bucket.
    Backuped,
    /// Something has not landed (see `pending` and `failed`).
    Incomplete,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub status: Status,
    pub objects: usize,
    pub bytes: u64,
    pub in_primary: usize,
    pub in_backup: Vec<String>,
    pub pending: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub playlists_published: Vec<String>,
    pub playlists_held: Vec<(String, String)>,
    pub manifest: Option<String>,
    pub elapsed_secs: f64,
    /// How a followed recording ended; `None` for a recording uploaded after the fact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
}

impl Summary {
    /// The process exit status a run maps to, as `stowage upload` reports it: 1 when
    /// something has not landed; 3 when a followed recording ended without the recorder's
    /// ENDLIST (idle, stopped, deadline) though everything it wrote landed; else 0 when all
    /// is in the primary bucket, 2 when some of it is in the backup.
    pub fn exit_code(&self) -> u8 {
        let unfinished = matches!(
            self.ended,
            Some(Ended::Idle | Ended::Stopped | Ended::Deadline)
        );
        match self.status {
            Status::Incomplete => 1,
            _ if unfinished => 3,
            Status::Uploaded => 0,
            Status::Backuped => 2,
        }
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let summary = |status, ended| Summary {
            status,
            objects: 0,
            bytes: 0,
            in_primary: 0,
            in_backup: vec![],
            pending: vec![],
            failed: vec![],
            playlists_published: vec![],
            playlists_held: vec![],
            manifest: None,
            elapsed_secs: 0.0,
            ended,
        };
        assert_eq!(summary(Status::Uploaded, None).exit_code(), 0);
        assert_eq!(summary(Status::Backuped, None).exit_code(), 2);
        assert_eq!(summary(Status::Incomplete, None).exit_code(), 1);
        let endlist = Some(Ended::EndList);
        assert_eq!(summary(Status::Uploaded, endlist).exit_code(), 0);
        let idle = Some(Ended::Idle);
        assert_eq!(summary(Status::Backuped, idle).exit_code(), 3);
        assert_eq!(summary(Status::Incomplete, idle).exit_code(), 1);
    }
}
