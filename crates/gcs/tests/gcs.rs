//! The Google Cloud Storage store against fake-gcs-server on a loopback port: the
//! conformance suite, proof (a reply without GCS's hashes, or with other ones, is not a
//! landing), composed uploads resumed and proven, answers that are not GCS's, and Google's
//! Python SDK reading what Stowage wrote (and the other way round).

use std::sync::Arc;

use stowage_core::ObjectStore;
use stowage_gcs::{GcsAuth, GcsConfig, GcsStore};
use stowage_testkit::adapter_tests::unique_name;
use stowage_testkit::conformance::Harness;
use stowage_testkit::fake_gcs::FakeGcs;

#[path = "gcs/behaviour.rs"]
mod behaviour;
#[path = "gcs/sdk_crosscheck.rs"]
mod sdk_crosscheck;

/// A bucket name GCS accepts, new for each test.
pub fn unique_bucket(tag: &str) -> String {
    unique_name(tag).to_ascii_lowercase()
}

pub fn fake_gcs() -> &'static FakeGcs {
    FakeGcs::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// A store for `bucket` at `endpoint` (the emulator, or a proxy in front of it).
pub fn store_at(endpoint: &str, bucket: &str) -> GcsStore {
    let mut cfg = GcsConfig::new(bucket, GcsAuth::Anonymous);
    cfg.endpoint = Some(endpoint.to_string());
    cfg.retry = stowage_core::retry::RetryPolicy::immediate(3);
    GcsStore::new(cfg).unwrap_or_else(|e| panic!("build the GCS store: {e}"))
}

/// A new, empty bucket on the shared emulator, and its store.
pub async fn fresh(tag: &str) -> (String, GcsStore) {
    let bucket = unique_bucket(tag);
    let store = store_at(fake_gcs().endpoint(), &bucket);
    store
        .create_bucket("stowage-test")
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e}"));
    (bucket, store)
}

pub async fn harness() -> Harness {
    let (_, store) = fresh("conf").await;
    Harness::new(
        Arc::new(store),
        Arc::new(store_at(fake_gcs().endpoint(), "no-such-bucket")),
    )
}

stowage_testkit::conformance_suite!(harness);

#[tokio::test]
async fn the_store_is_named_and_declares_what_gcs_keeps() {
    let (bucket, s) = fresh("name").await;
    assert_eq!(s.name(), format!("gs://{bucket}"));
    let caps = s.capabilities();
    assert!(
        caps.returned_by_head
            .contains(&stowage_core::ChecksumAlgo::Crc32c)
    );
    assert_eq!(
        s.bucket_region().await.unwrap().as_deref(),
        Some("us-central1")
    );
}
