//! The Google Cloud Storage store against fake-gcs-server on a loopback port: the
//! conformance suite, proof (a reply without GCS's hashes, or with other ones, is not a
//! landing), composed uploads resumed and proven, answers that are not GCS's, and Google's
//! Python SDK reading what Stowage wrote (and the other way round).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

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

/// A service-account key made for this test process (an RSA key from openssl, never a
/// real account's): the key file (JSON) and the public half (PEM).
pub struct TestKey {
    pub file: PathBuf,
    pub public_pem: PathBuf,
    pub email: &'static str,
    _dir: tempfile::TempDir,
}

pub fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let pem = dir.path().join("key.pem");
        let public_pem = dir.path().join("pub.pem");
        let (pem_s, pub_s) = (pem.to_str().unwrap(), public_pem.to_str().unwrap());
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            pem_s,
        ]);
        openssl(&["pkey", "-in", pem_s, "-pubout", "-out", pub_s]);
        let email = "recorder@stowage-test.iam.gserviceaccount.com";
        let doc = serde_json::json!({
            "type": "service_account",
            "project_id": "stowage-test",
            "private_key_id": "test-key-1",
            "private_key": std::fs::read_to_string(&pem).expect("pem"),
            "client_email": email,
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        let file = dir.path().join("sa.json");
        std::fs::write(&file, doc.to_string()).expect("write key");
        TestKey {
            file,
            public_pem,
            email,
            _dir: dir,
        }
    })
}

/// A store for `bucket` at `endpoint` that authorises with [`test_key`] (the emulator
/// takes any token; the requests carry the JWT a real bucket would check) and signs URLs.
pub fn keyed_store_at(endpoint: &str, bucket: &str) -> GcsStore {
    let mut cfg = GcsConfig::new(bucket, GcsAuth::ServiceAccountFile(test_key().file.clone()));
    cfg.endpoint = Some(endpoint.to_string());
    cfg.retry = stowage_core::retry::RetryPolicy::immediate(3);
    GcsStore::new(cfg).unwrap_or_else(|e| panic!("build the GCS store: {e}"))
}

pub async fn harness() -> Harness {
    let (bucket, _) = fresh("conf").await;
    Harness::new(
        Arc::new(keyed_store_at(fake_gcs().endpoint(), &bucket)),
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
