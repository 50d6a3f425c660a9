//! `stowage cp/ls/stat` with `oss://bucket/key` URLs against the OSS emulator (a real
//! server on 127.0.0.1), credentials from flags and from the OSS_* environment.

use std::process::Output;

use crate::common::{
    files_in, ok, round_trip_with_flags_then_env, sample_recording, stowage_without,
};
use stowage_testkit::oss::OssEmulator;

/// Variables of the outer environment the tests must not see.
const CLEARED: &[&str] = &[
    "OSS_ACCESS_KEY_ID",
    "OSS_ACCESS_KEY_SECRET",
    "OSS_SESSION_TOKEN",
    "OSS_REGION",
    "OSS_ENDPOINT",
    "OSS_SIGNATURE_VERSION",
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_REGION",
];

/// Runs the binary with no OSS or Aliyun settings from the outer environment, plus `env`.
fn stowage(args: &[&str], env: &[(&str, &str)]) -> Output {
    stowage_without(CLEARED, args, env)
}

#[test]
fn cp_ls_stat_with_oss_urls() {
    let server = OssEmulator::shared();
    server.create_bucket("cli-oss");
    let flags = [
        "--endpoint",
        server.endpoint(),
        "--region",
        server.region(),
        "--access-key",
        server.access_key(),
        "--secret-key",
        server.secret_key(),
    ];
    // Back out, with the credentials from the environment this time.
    let env = [
        ("OSS_ACCESS_KEY_ID", server.access_key()),
        ("OSS_ACCESS_KEY_SECRET", server.secret_key()),
        ("OSS_ENDPOINT", server.endpoint()),
        ("OSS_REGION", server.region()),
    ];
    round_trip_with_flags_then_env(&stowage, "oss://cli-oss/rec/", &flags, &env);
}

#[test]
fn oss_errors_name_the_fix_without_the_secret() {
    let server = OssEmulator::shared();
    server.create_bucket("cli-oss-err");
    let o = stowage(
        &[
            "ls",
            "oss://cli-oss-err/",
            "--endpoint",
            server.endpoint(),
            "--region",
            server.region(),
            "--access-key",
            server.access_key(),
            "--secret-key",
            "not-the-secret-xyz",
        ],
        &[],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("signature mismatch") && err.contains("secretKey"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret-xyz"), "{err}");

    let o = stowage(
        &["ls", "oss://cli-oss-err/", "--endpoint", server.endpoint()],
        &[],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("OSS_ACCESS_KEY_ID"), "{err}");
}

#[test]
fn upload_and_verify_a_recording_on_oss() {
    let server = OssEmulator::shared();
    server.create_bucket("cli-oss-rec");
    let spool = tempfile::tempdir().unwrap();
    for (name, bytes) in files_in(&sample_recording()) {
        std::fs::write(spool.path().join(name), bytes).unwrap();
    }
    let env = [
        ("OSS_ACCESS_KEY_ID", server.access_key()),
        ("OSS_ACCESS_KEY_SECRET", server.secret_key()),
        ("OSS_ENDPOINT", server.endpoint()),
        ("OSS_REGION", server.region()),
    ];
    let spool_dir = spool.path().to_str().unwrap();
    ok(stowage(
        &["upload", spool_dir, "oss://cli-oss-rec/rec"],
        &env,
    ));
    let report = ok(stowage(
        &["verify", "--json", "oss://cli-oss-rec/rec"],
        &env,
    ));
    assert!(report.contains("\"intact\""), "{report}");

    // A segment lost after the upload is reported (exit 1).
    let segment = files_in(&sample_recording())
        .into_iter()
        .find(|(n, _)| n.ends_with(".ts"))
        .unwrap()
        .0;
    delete(server, "cli-oss-rec", &format!("rec/{segment}"));
    let o = stowage(&["verify", "oss://cli-oss-rec/rec"], &env);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(&segment));
}

/// Deletes an object through the OSS store (the CLI has no `rm`).
fn delete(server: &OssEmulator, bucket: &str, key: &str) {
    use stowage_core::ObjectStore as _;
    let mut cfg = stowage_oss::OssConfig::new(bucket);
    cfg.endpoint = Some(server.endpoint().to_string());
    cfg.region = Some(server.region().to_string());
    cfg.addressing = stowage_oss::Addressing::PathStyle;
    cfg.credentials = Some(stowage_core::Credentials::new(
        server.access_key(),
        server.secret_key(),
    ));
    let store = stowage_oss::OssStore::new(cfg).expect("store");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(store.delete(key)).expect("delete");
    assert!(server.object_bytes(bucket, key).is_none());
}
