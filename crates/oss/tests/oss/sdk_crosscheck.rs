//! Aliyun's official Python SDK (alibabacloud-oss-v2) against the OSS emulator, with
//! objects Stowage uploaded: tests/sdk/oss_crosscheck.py does the SDK side (small and
//! multipart uploads with the SDK's CRC-64 checks, reading back Stowage's objects, a wrong
//! secret refused); this test starts the emulator, uploads with Stowage, runs the script,
//! then reads the SDK's objects back through Stowage.

use std::sync::Arc;

use stowage_core::Credentials;
use stowage_oss::{Addressing, OssConfig, OssStore};
use stowage_testkit::adapter_tests::{
    SdkScript, assert_wrong_secret_refused, check_sdk_result, presigned_first, run_sdk_script,
    upload_with_stowage,
};
use stowage_testkit::oss::OssEmulator;

const BUCKET: &str = "crosscheck";

fn store(server: &OssEmulator, secret: &str) -> OssStore {
    let mut cfg = OssConfig::new(BUCKET);
    cfg.endpoint = Some(server.endpoint().to_string());
    cfg.region = Some(server.region().to_string());
    cfg.addressing = Addressing::PathStyle;
    cfg.credentials = Some(Credentials::new(server.access_key(), secret));
    OssStore::new(cfg).expect("store")
}

fn script<'a>(
    server: &OssEmulator,
    objects: &str,
    presigned: &str,
    scratch: &std::path::Path,
) -> SdkScript<'a> {
    let env = vec![
        ("OSS_XC_STOWAGE_PRESIGNED", presigned.to_string()),
        ("OSS_XC_ENDPOINT", server.endpoint().to_string()),
        ("OSS_XC_REGION", server.region().to_string()),
        ("OSS_XC_BUCKET", BUCKET.to_string()),
        ("OSS_XC_ACCESS_KEY", server.access_key().to_string()),
        ("OSS_XC_SECRET_KEY", server.secret_key().to_string()),
        ("OSS_XC_STOWAGE_OBJECTS", objects.to_string()),
        ("OSS_XC_DIR", scratch.display().to_string()),
    ];
    SdkScript {
        script: "oss_crosscheck.py",
        env,
        missing: "the official OSS SDK is missing: run `python3 -m pip install alibabacloud-oss-v2`",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_and_stowage_agree_through_the_emulator() {
    let server = OssEmulator::start().expect("emulator");
    server.create_bucket(BUCKET);
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(store(&server, server.secret_key()));
    let objects = upload_with_stowage(s.as_ref(), scratch.path(), 200 * 1024, 5).await;

    let presigned = presigned_first(s.as_ref(), &objects).await;

    let result = run_sdk_script(&script(&server, &objects, &presigned, scratch.path()));
    // Stowage reads what the SDK uploaded, and checks the CRC-64 the SDK computed; the
    // SDK fetched Stowage's presigned URL and Stowage's emulator served the SDK's.
    check_sdk_result(s.as_ref(), &result, 17, 2).await;

    // The same wrong secret is refused for Stowage too.
    let wrong = "wrong-secret-for-crosscheck";
    assert_wrong_secret_refused(&store(&server, wrong), wrong).await;
}
