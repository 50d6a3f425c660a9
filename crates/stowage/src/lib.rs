//! Stowage: get cloud recordings (HLS segments, playlists, MP4) safely into object storage,
//! and prove they arrived. This is the one crate a recording backend adds.
//!
//! - [`open`] turns a URL (`s3://`, `oss://`, `cos://`, `kodo://`, `az://`, `gs://`, a directory) and
//!   [`Settings`] into an [`OpenedBucket`]: the [`ObjectStore`], the key prefix, the
//!   endpoint chosen for where the uploader runs and why, and cross-region advice as data.
//!   [`open_agora`] does the same from an Agora `storageConfig`.
//! - [`pipeline`] uploads a recording directory (crash-safe, with a backup bucket) or a
//!   live session segment by segment; [`verify`] proves every object landed intact;
//!   [`doctor`] checks a configuration before a recording starts.
//! - [`hls`] reads, validates, writes and merges playlists; [`region`] holds the vendors'
//!   region tables and the endpoint selector; [`text`] says reports, events and summaries
//!   in words (and JSON), for logs and command lines.
//!
//! Settings left unset come from the vendor's own environment (`AWS_*`, `OSS_*`,
//! `TENCENTCLOUD_*`, `QINIU_*`, `AZURE_STORAGE_*`, `GOOGLE_APPLICATION_CREDENTIALS`); [`Settings::from_env`] adds Stowage's
//! (`STOWAGE_FROM`, `STOWAGE_CA_BUNDLE`, …).
//!
//! # Upload a recording and verify it
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tmp = tempfile::tempdir()?;
//! # let spool = tmp.path().join("spool");
//! # std::fs::create_dir(&spool)?;
//! # std::fs::write(spool.join("a.ts"), b"segment")?;
//! # let bucket_dir = tmp.path().join("bucket");
//! # let url = bucket_dir.to_str().unwrap();
//! use stowage::{Settings, Targets, UploadOptions, open, upload_recording};
//!
//! // `url` is any bucket URL, e.g. "oss://my-bucket/recordings"; here a local directory.
//! let settings = Settings::builder().create_local(true).build();
//! let bucket = open(url, &settings).await?;
//! let targets = Targets { primary: bucket.store.clone(), backup: None };
//! let opts = UploadOptions { prefix: "room-1".into(), ..UploadOptions::default() };
//! let summary = upload_recording(&spool, &targets, &opts).await?;
//! assert_eq!(summary.status, stowage::pipeline::Status::Uploaded);
//!
//! let expected = stowage::verify::expected_from_dir(&spool, "room-1").await?;
//! let store = bucket.store.as_ref();
//! // The pipeline's manifest lands beside the recording; it is expected, not an orphan.
//! let manifest = stowage::join_key("room-1", stowage::pipeline::MANIFEST_NAME);
//! let report = stowage::verify::verify(store, None, "room-1", &expected, Some(&manifest)).await?;
//! assert!(report.problems.is_empty(), "{:?}", report.problems);
//! # Ok(())
//! # }
//! ```

//! # The shortest upload: an `oss://` bucket from the environment
//!
//! Credentials from `OSS_ACCESS_KEY_ID`/`OSS_ACCESS_KEY_SECRET`, the region from
//! `OSS_REGION`, where this machine runs from `STOWAGE_FROM`:
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let settings = stowage::Settings::from_env()?;
//!     let bucket = stowage::open("oss://my-bucket/recordings/room-1", &settings).await?;
//!     let targets = stowage::Targets { primary: bucket.store, backup: None };
//!     let opts = stowage::UploadOptions { prefix: bucket.prefix, ..Default::default() };
//!     stowage::upload_recording("spool".as_ref(), &targets, &opts).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Before a recording starts: the doctor
//!
//! ```no_run
//! # async fn check(storage_config_json: String) {
//! use stowage::doctor::{Checkup, Subject, diagnose, failed};
//!
//! let checkup = Checkup::new(Subject::AgoraJson(storage_config_json), stowage::Settings::default());
//! let findings = diagnose(&checkup).await;
//! for f in &findings {
//!     println!("{:?} {}: {} {}", f.status, f.check, f.cause, f.fix.as_deref().unwrap_or(""));
//! }
//! assert!(!failed(&findings), "fix these before calling Agora's start");
//! # }
//! ```

#![warn(missing_docs)]

mod agora;
pub mod check;
pub mod copy;
pub mod doctor;
pub mod endpoints;
mod open;
pub mod place;
pub mod placement;
mod placement_notes;
pub mod playlist_files;
mod settings;
pub mod text;

pub use agora::{agora_settings, open_agora, open_agora_json};
pub use open::{
    Endpoint, EndpointWhy, OpenError, OpenedBucket, Warning, join_key, known_regions, locate, open,
    open_url, split_local, vendor_of_scheme,
};
pub use placement::{CrossRegion, Placement, Switch, Unmet, UnmetReason};
pub use placement_notes::SettingWords;
pub use settings::{
    S3Integrity, Settings, SettingsBuilder, credential_variables, parse_s3_integrity,
};

/// The storage trait, its types, errors and checksums (`stowage-core`).
pub use stowage_core as core;
pub use stowage_core::{
    Capabilities, ChecksumAlgo, Checksums, Credentials, Error, ErrorKind, GetResult, ListPage,
    ListRequest, ObjectMeta, ObjectStore, PutBody, PutOptions, Result, Scheme, StorageUrl,
    checksum,
};
/// HLS playlists: tolerant reader, strict writer, validator, merge (`stowage-hls`).
pub use stowage_hls as hls;
/// A recording directory into buckets, and live sessions (`stowage-pipeline`).
pub use stowage_pipeline as pipeline;
pub use stowage_pipeline::{
    Options as UploadOptions, Session, Summary, Targets, restore, upload_recording, watch,
};
/// Region tables, Agora codes and `storageConfig`, endpoint selection (`stowage-region`).
pub use stowage_region as region;
pub use stowage_region::{AgoraStorage, Vendor};
/// Webhook receiver and verification workers (`stowage-serve`), with the `serve` feature.
#[cfg(feature = "serve")]
pub use stowage_serve as serve;
/// The stores themselves, for a caller that configures one directly.
pub mod stores {
    pub use stowage_azure as azure;
    pub use stowage_cos as cos;
    pub use stowage_fs as fs;
    pub use stowage_gcs as gcs;
    pub use stowage_kodo as kodo;
    pub use stowage_oss as oss;
    pub use stowage_s3 as s3;
}
/// Proof that a recording landed: expectations, verification, repair (`stowage-verify`).
pub use stowage_verify as verify;
