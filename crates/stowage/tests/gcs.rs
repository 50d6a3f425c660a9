//! Opening `gs://` buckets through the library's front door, against fake-gcs-server (which
//! takes any token; the requests carry the service account's JWT a real bucket checks):
//! a URL with an endpoint, and an Agora vendor 6 `storageConfig` with a service-account key;
//! vendor 6 with HMAC keys goes through the XML API, here on the s3s server.

use std::path::Path;
use std::sync::OnceLock;

use stowage::stores::gcs::{GcsAuth, GcsConfig, GcsStore};
use stowage::{Credentials, ErrorKind, OpenError, Settings, Targets, UploadOptions};
use stowage_testkit::fake_gcs::FakeGcs;
use stowage_testkit::proxy::{FaultProxy, Recorded};
use stowage_testkit::s3s_server::S3sServer;

fn fake_gcs() -> &'static FakeGcs {
    FakeGcs::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// A new bucket on the emulator.
async fn fresh_bucket(tag: &str) -> String {
    let bucket = format!("lib-{tag}-{}", std::process::id());
    let mut cfg = GcsConfig::new(&bucket, GcsAuth::Anonymous);
    cfg.endpoint = Some(fake_gcs().endpoint().to_string());
    let store = GcsStore::new(cfg).expect("store");
    store.create_bucket("stowage-test").await.expect("bucket");
    bucket
}

/// A service-account key made for this process with openssl (never a real account's).
fn service_account_json() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let pem = dir.path().join("key.pem");
        let out = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
            .args(["rsa_keygen_bits:2048", "-out", pem.to_str().unwrap()])
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{out:?}");
        serde_json::json!({
            "type": "service_account",
            "project_id": "stowage-test",
            "private_key_id": "lib-test-key",
            "private_key": std::fs::read_to_string(&pem).expect("pem"),
            "client_email": "recorder@stowage-test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string()
    })
}

fn spool() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.m3u8"), b"#EXTM3U\n#EXTINF:2.0,\na0.ts\n").unwrap();
    std::fs::write(dir.path().join("a0.ts"), vec![0x47u8; 4096]).unwrap();
    dir
}

/// Uploads the spool to the opened bucket's prefix and verifies it; the verification report.
async fn upload_and_verify(
    spool: &Path,
    bucket: &stowage::OpenedBucket,
) -> stowage::verify::Report {
    let targets = Targets {
        primary: bucket.store.clone(),
        backup: None,
    };
    let opts = UploadOptions {
        prefix: bucket.prefix.clone(),
        ..UploadOptions::default()
    };
    let summary = stowage::upload_recording(spool, &targets, &opts)
        .await
        .unwrap();
    assert_eq!(summary.status, stowage::pipeline::Status::Uploaded);
    let expected = stowage::verify::expected_from_dir(spool, &bucket.prefix)
        .await
        .unwrap();
    let manifest = stowage::join_key(&bucket.prefix, stowage::pipeline::MANIFEST_NAME);
    let store = bucket.store.as_ref();
    stowage::verify::verify(store, None, &bucket.prefix, &expected, Some(&manifest))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_gs_url_with_an_endpoint_opens_uploads_and_verifies() {
    let bucket = fresh_bucket("url").await;
    let settings = Settings::builder()
        .endpoint(fake_gcs().endpoint())
        .credentials(Credentials::new("ignored", service_account_json()))
        .build();
    let opened = stowage::open(&format!("gcs://{bucket}/rec/room-1"), &settings)
        .await
        .unwrap();
    assert_eq!(opened.url.to_string(), format!("gs://{bucket}/rec/room-1"));
    assert_eq!(opened.prefix, "rec/room-1");
    assert_eq!(opened.endpoint.why, stowage::EndpointWhy::Explicit);
    assert_eq!(opened.endpoint.url.as_deref(), Some(fake_gcs().endpoint()));
    assert!(opened.placement.is_none() && opened.warnings.is_empty());
    let spool = spool();
    let report = upload_and_verify(spool.path(), &opened).await;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(
        report.intact >= 2 && report.intact == report.checked,
        "{report:?}"
    );
    let listed = opened.store.list_all("rec/room-1/").await.unwrap();
    assert!(
        listed.iter().any(|o| o.key == "rec/room-1/a0.ts"),
        "{listed:?}"
    );
}

fn agora_config(bucket: &str, secret: &str) -> String {
    serde_json::json!({
        "vendor": 6, "region": 0, "bucket": bucket,
        "accessKey": "GOOG1EXAMPLEACCESSKEY", "secretKey": secret,
        "fileNamePrefix": ["app", "day1"],
    })
    .to_string()
}

#[tokio::test]
async fn agora_vendor_6_opens_gcs_with_a_service_account_key() {
    let bucket = fresh_bucket("agora").await;
    let settings = Settings::builder().endpoint(fake_gcs().endpoint()).build();
    let json = agora_config(&bucket, service_account_json());
    let opened = stowage::open_agora_json(&json, &settings).await.unwrap();
    assert_eq!(opened.url.to_string(), format!("gs://{bucket}/app/day1/"));
    let spool = spool();
    let report = upload_and_verify(spool.path(), &opened).await;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let listed = opened.store.list_all("app/day1/").await.unwrap();
    assert!(
        listed.iter().any(|o| o.key == "app/day1/a.m3u8"),
        "{listed:?}"
    );
}

/// Vendor 6 with HMAC keys (a secret that is no service-account key) goes through GCS's XML
/// API: an `s3://` URL with the `gcs` preset. Here the endpoint override points it at the
/// s3s server behind the recording proxy, which shows what Google would be sent.
#[tokio::test]
async fn agora_vendor_6_hmac_keys_go_through_the_xml_api_and_verify() {
    let server = S3sServer::shared();
    let bucket = format!("lib-gcs-hmac-{}", std::process::id());
    server.create_bucket(&bucket).unwrap();
    let proxy = FaultProxy::start(server.endpoint(), vec![]).unwrap();
    let json = serde_json::json!({
        "vendor": 6, "region": 0, "bucket": bucket,
        "accessKey": server.access_key(), "secretKey": server.secret_key(),
        "fileNamePrefix": ["app", "day1"],
    })
    .to_string();
    let settings = Settings::builder().endpoint(proxy.endpoint()).build();
    let opened = stowage::open_agora_json(&json, &settings).await.unwrap();
    assert_eq!(opened.url.to_string(), format!("s3://{bucket}/app/day1/"));
    let spool = spool();
    let report = upload_and_verify(spool.path(), &opened).await;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(
        report.intact >= 2 && report.intact == report.checked,
        "{report:?}"
    );
    let recorded = proxy.recorded();
    let puts: Vec<&Recorded> = recorded.iter().filter(|r| r.method == "PUT").collect();
    assert!(!puts.is_empty(), "no upload went through the proxy");
    for r in puts {
        assert!(
            r.target.starts_with(&format!("/{bucket}/app/day1/")),
            "{r:?}"
        );
        assert!(r.header("content-md5").is_some(), "no Content-MD5: {r:?}");
        assert!(r.header("x-amz-trailer").is_none(), "a trailer: {r:?}");
        let auth = r.header("authorization").unwrap_or_default();
        assert!(auth.contains("/auto/s3/aws4_request"), "{auth}");
    }
}

#[tokio::test]
async fn a_gs_url_with_hmac_keys_is_refused_with_the_way_out() {
    let settings = Settings::builder()
        .endpoint(fake_gcs().endpoint())
        .credentials(Credentials::new("GOOG1EXAMPLE", "hmacSECRETvalue/abc+def"))
        .build();
    let Err(OpenError::Store(e)) = stowage::open("gs://rec-bucket/rec", &settings).await else {
        panic!("HMAC keys must be refused on the JSON API before any request");
    };
    assert_eq!(e.kind(), &ErrorKind::Unsupported);
    let text = e.to_string();
    assert!(text.contains("XML API") && text.contains("gcs"), "{text}");
    assert!(!text.contains("hmacSECRETvalue"), "{text}");
}
