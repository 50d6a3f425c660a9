//! Where a bucket is and how to reach it fast: region tables for Amazon S3, Aliyun OSS,
//! Tencent COS and Qiniu Kodo (as data), Agora Cloud Recording's vendor and region codes and
//! its `storageConfig`, endpoint selection with the Agora FAQ's cross-region warning, a
//! latency probe, the Agora REST domain order, and S3-compatible presets for OSS, COS and Kodo.
//!
//! Data flow: a bucket's vendor and region (from flags, an Agora `storageConfig`, or asked of
//! the server with [`stowage_core::ObjectStore::bucket_region`]) → [`select`] with where the
//! uploader runs → ordered [`Candidate`]s and [`Advice`] → optionally [`Prober::rank`] →
//! [`with_failover`] uses them in order.

pub mod agora;
pub mod presets;
pub mod probe;
pub mod rest;
pub mod select;
pub mod tables;

pub use agora::{AgoraStorage, AgoraTarget, agora_table, agora_vendor, gcs_secret_is_hmac};
pub use presets::{S3Preset, S3Settings, s3_preset};
pub use probe::{Probe, Prober, Ranked, with_failover};
pub use select::{
    Advice, Candidate, Distance, EndpointKind, Level, Origin, Protocol, SelectRequest, Selection,
    select,
};
pub use tables::{Geography, Region, Vendor, tables};

use stowage_core::{ObjectStore, Result};

/// Asks the store for its bucket's region and looks it up in `vendor`'s table. `Ok(None)`
/// when the store does not say (a local directory, a server that does not report regions).
pub async fn discover_region(
    store: &dyn ObjectStore,
    vendor: Vendor,
) -> Result<Option<&'static Region>> {
    match store.bucket_region().await? {
        Some(id) => vendor.region(&id).map(Some),
        None => Ok(None),
    }
}
