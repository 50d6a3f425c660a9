//! `stowage` on Google Cloud Storage (fake-gcs-server, which takes any token): cp both
//! ways, upload and verify on a `gs://` URL with `--endpoint`.

use serde_json::Value;
use stowage::stores::gcs::{GcsAuth, GcsConfig, GcsStore};
use stowage_testkit::fake_gcs::FakeGcs;

use crate::common::{ok, stderr, stdout, stowage_without};

fn endpoint() -> &'static str {
    FakeGcs::shared()
        .unwrap_or_else(|e| panic!("{e}"))
        .endpoint()
}

/// Creates the bucket (Stowage never creates buckets).
pub fn create(bucket: &str) {
    let mut cfg = GcsConfig::new(bucket, GcsAuth::Anonymous);
    cfg.endpoint = Some(endpoint().to_string());
    let store = GcsStore::new(cfg).expect("store");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(store.create_bucket("stowage-test"))
        .expect("create bucket");
}

/// A service-account key file made for this process with openssl (never a real account's).
pub fn service_account_key_file() -> &'static std::path::Path {
    static KEY: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    let (_, file) = KEY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("key.pem");
        let out = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
            .args(["rsa_keygen_bits:2048", "-out", pem.to_str().unwrap()])
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{out:?}");
        let doc = serde_json::json!({
            "type": "service_account",
            "project_id": "stowage-test",
            "private_key_id": "cli-test-key",
            "private_key": std::fs::read_to_string(&pem).unwrap(),
            "client_email": "recorder@stowage-test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        let file = dir.path().join("sa.json");
        std::fs::write(&file, doc.to_string()).unwrap();
        (dir, file)
    });
    file
}

/// `args` then `--endpoint <fake-gcs-server>`, with an OAuth token from the environment
/// and no emulator variable (the endpoint comes from the flag alone).
fn run(args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--endpoint", endpoint()]);
    let cleared = [
        "STORAGE_EMULATOR_HOST",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GCS_ENDPOINT",
    ];
    stowage_without(
        &cleared,
        &all,
        &[("GOOGLE_OAUTH_ACCESS_TOKEN", "test-token")],
    )
}

#[test]
fn copy_upload_and_verify_on_gcs_with_an_endpoint() {
    let bucket = format!("cli-gs-{}", std::process::id());
    create(&bucket);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seg.ts");
    std::fs::write(&file, b"\x47 one GCS segment").unwrap();
    let dest = format!("gs://{bucket}/rec/seg.ts");
    ok(run(&["cp", file.to_str().unwrap(), &dest]));
    let listed = ok(run(&["ls", &format!("gcs://{bucket}/rec/")]));
    assert!(listed.contains("rec/seg.ts"), "{listed}");
    let back = dir.path().join("back.ts");
    ok(run(&["cp", &dest, back.to_str().unwrap()]));
    assert_eq!(std::fs::read(&back).unwrap(), b"\x47 one GCS segment");

    let spool = crate::common::sample_recording();
    let url = format!("gs://{bucket}/rec1/");
    let up = run(&["upload", spool.to_str().unwrap(), &url]);
    assert!(up.status.success(), "{}\n{}", stdout(&up), stderr(&up));
    let verify = run(&["verify", "--json", &url]);
    let report: Value = serde_json::from_str(&stdout(&verify))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&verify), stderr(&verify)));
    assert_eq!(verify.status.code(), Some(0), "{report}");
    assert_eq!(report["verdict"], "complete", "{report}");
    // GCS keeps an MD5 or CRC-32C for every object: every one is proven.
    assert_eq!(report["intact"], report["checked"], "{report}");
    assert!(
        report["unproven"].as_array().unwrap().is_empty(),
        "{report}"
    );
}

#[test]
fn hmac_keys_for_gs_urls_are_refused_with_the_way_out() {
    let o = run(&[
        "ls",
        "gs://some-bucket/",
        "--access-key",
        "GOOG1EXAMPLE",
        "--secret-key",
        "hmacTOPSECRET",
    ]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{err}");
    // gs:// is the JSON API; HMAC keys go to the XML API through the gcs S3 preset.
    assert!(err.contains("s3://some-bucket with the gcs"), "{err}");
    assert!(!err.contains("hmacTOPSECRET"), "{err}");
}

#[test]
fn doctor_checks_a_gcs_bucket() {
    let bucket = format!("cli-gs-doctor-{}", std::process::id());
    create(&bucket);
    let url = format!("gs://{bucket}/rec");
    let out = run(&["doctor", &url, "--probe-mib", "1", "--json"]);
    let doc: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(doc["ok"], true, "{doc}");
    let status = |check: &str| {
        let checks = doc["checks"].as_array().unwrap();
        let found = checks.iter().find(|c| c["check"] == check);
        found.map(|c| c["verdict"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(status("write").as_deref(), Some("pass"), "{doc}");
    // One global endpoint: no cross-region advice to give.
    assert_eq!(status("distance").as_deref(), Some("skip"), "{doc}");
    let bad = run(&["doctor", "gs://goog-recordings/rec"]);
    assert!(!bad.status.success());
    assert!(
        stdout(&bad).contains("must not start with `goog`"),
        "{}",
        stdout(&bad)
    );
}
