//! Tencent's official Python SDK (cos-python-sdk-v5) against the COS emulator, with objects
//! Stowage uploaded: tests/sdk/cos_crosscheck.py does the SDK side (simple and multipart
//! uploads with CRC-64 checks, reading back Stowage's objects, a wrong SecretKey refused);
//! this test starts the emulator, uploads with Stowage, runs the script, then reads the
//! SDK's objects back through Stowage.

use std::sync::Arc;

use stowage_core::Credentials;
use stowage_cos::{Addressing, CosConfig, CosStore};
use stowage_testkit::adapter_tests::{
    SdkScript, assert_wrong_secret_refused, check_sdk_result, presigned_first, run_sdk_script,
    upload_with_stowage,
};
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

fn script<'a>(
    server: &CosEmulator,
    objects: &str,
    presigned: &str,
    scratch: &std::path::Path,
) -> SdkScript<'a> {
    let env = vec![
        ("COS_XC_STOWAGE_PRESIGNED", presigned.to_string()),
        ("COS_XC_IP", server.addr().ip().to_string()),
        ("COS_XC_PORT", server.addr().port().to_string()),
        ("COS_XC_REGION", server.region().to_string()),
        ("COS_XC_BUCKET", BUCKET.to_string()),
        ("COS_XC_SECRET_ID", server.access_key().to_string()),
        ("COS_XC_SECRET_KEY", server.secret_key().to_string()),
        ("COS_XC_STOWAGE_OBJECTS", objects.to_string()),
        ("COS_XC_DIR", scratch.display().to_string()),
    ];
    SdkScript {
        script: "cos_crosscheck.py",
        env,
        missing: "the official COS SDK is missing: run `python3 -m pip install cos-python-sdk-v5`",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_and_stowage_agree_through_the_emulator() {
    let server = CosEmulator::start().expect("emulator");
    server.create_bucket(BUCKET);
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(store(&server, server.secret_key()));
    let objects = upload_with_stowage(s.as_ref(), scratch.path(), 1 << 20, 3).await;

    // Signed for the bucket's real COS host name: the script sends it to the emulator
    // with that Host.
    let presigned = presigned_first(s.as_ref(), &objects).await;

    let result = run_sdk_script(&script(&server, &objects, &presigned, scratch.path()));
    // Stowage reads what the SDK uploaded, and checks the CRC-64 the SDK computed; the
    // SDK fetched Stowage's presigned URL and the emulator accepted the SDK's.
    check_sdk_result(s.as_ref(), &result, 23, 3).await;

    // The same wrong secret is refused for Stowage too.
    let wrong = "wrong-secret-for-crosscheck";
    assert_wrong_secret_refused(&store(&server, wrong), wrong).await;
}
