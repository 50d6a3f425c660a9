//! Tencent's official Python SDK (cos-python-sdk-v5) against the COS emulator, with objects
//! Stowage uploaded: tests/sdk/cos_crosscheck.py does the SDK side (simple and multipart
//! uploads with CRC-64 checks, reading back Stowage's objects, a wrong SecretKey refused);
//! this test starts the emulator, uploads with Stowage, runs the script, then reads the
//! SDK's objects back through Stowage.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::retry::RetryPolicy;
use stowage_core::upload::{UploadConfig, multipart_upload_file};
use stowage_core::{ChecksumAlgo, Credentials, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_cos::{Addressing, CosConfig, CosStore};
use stowage_testkit::conformance::pseudo_random;
use stowage_testkit::cos::CosEmulator;

const BUCKET: &str = "crosscheck-1250000000";

/// Real COS host names, pinned to the emulator.
fn store(server: &CosEmulator, secret: &str) -> CosStore {
    let mut cfg = CosConfig::new(BUCKET);
    let port = server.addr().port();
    cfg.endpoint = Some(format!(
        "http://cos.{}.myqcloud.com:{port}",
        server.region()
    ));
    cfg.region = Some(server.region().to_string());
    cfg.addressing = Addressing::VirtualHosted;
    cfg.resolve_to = Some(server.addr());
    cfg.credentials = Some(Credentials::new(server.access_key(), secret));
    CosStore::new(cfg).expect("store")
}

fn crc64(data: &[u8]) -> u64 {
    checksum_bytes(data, &[ChecksumAlgo::Crc64Ecma])
        .crc64ecma
        .expect("crc64")
}

/// Stowage uploads one small and one multipart object; returns `key=crc` pairs.
async fn upload_with_stowage(s: &CosStore, scratch: &Path) -> String {
    let small = pseudo_random(150_000, 31);
    s.put(
        "stowage/small.ts",
        PutBody::Bytes(Bytes::from(small.clone())),
        &PutOptions::default(),
    )
    .await
    .expect("stowage put");
    let big = pseudo_random(3 * (1 << 20) + 77, 32);
    let path = scratch.join("stowage-big.mp4");
    std::fs::write(&path, &big).expect("write");
    let cfg = UploadConfig {
        multipart_threshold: 1 << 20,
        part_size: 1 << 20,
        concurrency: 3,
        part_retry: RetryPolicy::immediate(2),
    };
    multipart_upload_file(
        s,
        "stowage/big.mp4",
        &path,
        &PutOptions::default(),
        &cfg,
        None,
    )
    .await
    .expect("stowage multipart");
    format!(
        "stowage/small.ts={},stowage/big.mp4={}",
        crc64(&small),
        crc64(&big)
    )
}

fn run_script(server: &CosEmulator, objects: &str, scratch: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk/cos_crosscheck.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("COS_XC_IP", server.addr().ip().to_string())
        .env("COS_XC_PORT", server.addr().port().to_string())
        .env("COS_XC_REGION", server.region())
        .env("COS_XC_BUCKET", BUCKET)
        .env("COS_XC_SECRET_ID", server.access_key())
        .env("COS_XC_SECRET_KEY", server.secret_key())
        .env("COS_XC_STOWAGE_OBJECTS", objects)
        .env("COS_XC_DIR", scratch)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!(
            "the official COS SDK is missing: run `python3 -m pip install cos-python-sdk-v5` (scripts/test installs it)\n{stderr}"
        );
    }
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("the cross-check printed no JSON result ({e}); status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_and_stowage_agree_through_the_emulator() {
    let server = CosEmulator::start().expect("emulator");
    server.create_bucket(BUCKET);
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(store(&server, server.secret_key()));
    let objects = upload_with_stowage(&s, scratch.path()).await;

    let result = run_script(&server, &objects, scratch.path());
    let checks = result["checks"].as_array().expect("checks");
    let failed: Vec<_> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "SDK checks failed: {failed:#?}");
    assert!(checks.len() >= 20, "too few checks ran: {checks:#?}");
    assert_eq!(result["ok"], true);

    // Stowage reads what the SDK uploaded, and checks the CRC-64 the SDK computed.
    let sdk_objects = result["sdk_objects"].as_object().expect("sdk_objects");
    assert_eq!(sdk_objects.len(), 3);
    for (key, want) in sdk_objects {
        let want = want.as_u64().expect("crc");
        let head = s.head(key).await.expect("head SDK object");
        assert_eq!(head.checksums.crc64ecma, Some(want), "{key}");
        let data = s
            .get(key, None)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read");
        assert_eq!(crc64(&data), want, "{key}");
    }

    // The same wrong secret is refused for Stowage too.
    let wrong = "wrong-secret-for-crosscheck";
    let e = store(&server, wrong)
        .head("sdk/small.ts")
        .await
        .expect_err("wrong secret accepted");
    assert_eq!(e.kind(), &ErrorKind::SignatureMismatch, "{e}");
    assert!(!e.to_string().contains(wrong));
}
