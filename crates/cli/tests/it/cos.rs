//! `stowage cp/ls/stat/upload/verify` with `cos://<name>-<appid>/key` URLs against the COS
//! emulator (a real server on 127.0.0.1), credentials from flags and from the
//! TENCENTCLOUD_* / COS_* environment.

use std::process::Output;

use crate::common::{
    files_in, ok, round_trip_with_flags_then_env, sample_recording, stowage_without,
};
use stowage_testkit::cos::CosEmulator;

/// Variables of the outer environment the tests must not see.
const CLEARED: &[&str] = &[
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_SESSION_TOKEN",
    "TENCENTCLOUD_REGION",
    "COS_SECRET_ID",
    "COS_SECRET_KEY",
    "COS_SESSION_TOKEN",
    "COS_REGION",
    "COS_ENDPOINT",
];

/// Runs the binary with no COS or Tencent Cloud settings from the outer environment, plus
/// `env`.
fn stowage(args: &[&str], env: &[(&str, &str)]) -> Output {
    stowage_without(CLEARED, args, env)
}

fn env_of(server: &CosEmulator) -> [(&'static str, &str); 4] {
    [
        ("TENCENTCLOUD_SECRET_ID", server.access_key()),
        ("TENCENTCLOUD_SECRET_KEY", server.secret_key()),
        ("COS_ENDPOINT", server.endpoint()),
        ("COS_REGION", server.region()),
    ]
}

#[test]
fn cp_ls_stat_with_cos_urls() {
    let server = CosEmulator::shared();
    server.create_bucket("cli-cos-1250000000");
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
    let prefix = "cos://cli-cos-1250000000/rec/";
    let local = round_trip_with_flags_then_env(&stowage, prefix, &flags, &env_of(server));
    let (name, _) = &local[0];

    // COS_SECRET_ID / COS_SECRET_KEY work too.
    let alt = [
        ("COS_SECRET_ID", server.access_key()),
        ("COS_SECRET_KEY", server.secret_key()),
        ("COS_ENDPOINT", server.endpoint()),
    ];
    let out = ok(stowage(&["ls", "cos://cli-cos-1250000000/rec/"], &alt));
    assert!(out.contains(name.as_str()), "{out}");
}

#[test]
fn cos_errors_name_the_fix_without_the_secret() {
    let server = CosEmulator::shared();
    server.create_bucket("cli-cos-err-1250000000");
    let o = stowage(
        &[
            "ls",
            "cos://cli-cos-err-1250000000/",
            "--endpoint",
            server.endpoint(),
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
        &[
            "ls",
            "cos://cli-cos-err-1250000000/",
            "--endpoint",
            server.endpoint(),
        ],
        &[],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("TENCENTCLOUD_SECRET_ID"), "{err}");

    let o = stowage(&["ls", "cos://recordings/"], &env_of(server));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("recordings-1250000000") || err.contains("<name>-<APPID>"),
        "{err}"
    );
}

/// Uploads a recording while COS's listing lags behind the writes: the verifier confirms
/// the objects the listing misses with HEAD, and still reports one truly lost.
#[test]
fn upload_and_verify_a_recording_on_cos_with_a_lagging_listing() {
    let server = CosEmulator::start().expect("emulator");
    server.create_bucket("cli-cos-rec-1250000000");
    // Every listing during this test misses the new objects: only HEAD can confirm them.
    server.hide_new_objects_from_listings(1_000);
    let spool = tempfile::tempdir().unwrap();
    for (name, bytes) in files_in(&sample_recording()) {
        std::fs::write(spool.path().join(name), bytes).unwrap();
    }
    let env = env_of(&server);
    let spool_dir = spool.path().to_str().unwrap();
    ok(stowage(
        &["upload", spool_dir, "cos://cli-cos-rec-1250000000/rec"],
        &env,
    ));
    let report = ok(stowage(
        &["verify", "--json", "cos://cli-cos-rec-1250000000/rec"],
        &env,
    ));
    assert!(report.contains("\"intact\""), "{report}");

    let segment = files_in(&sample_recording())
        .into_iter()
        .find(|(n, _)| n.ends_with(".ts"))
        .unwrap()
        .0;
    delete(&server, "cli-cos-rec-1250000000", &format!("rec/{segment}"));
    let o = stowage(&["verify", "cos://cli-cos-rec-1250000000/rec"], &env);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(&segment));
}

/// Deletes an object through the COS store (the CLI has no `rm`).
fn delete(server: &CosEmulator, bucket: &str, key: &str) {
    use stowage_core::ObjectStore as _;
    let mut cfg = stowage_cos::CosConfig::new(bucket);
    cfg.endpoint = Some(server.endpoint().to_string());
    cfg.addressing = stowage_cos::Addressing::PathStyle;
    cfg.credentials = Some(stowage_core::Credentials::new(
        server.access_key(),
        server.secret_key(),
    ));
    let store = stowage_cos::CosStore::new(cfg).expect("store");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(store.delete(key)).expect("delete");
    assert!(server.object_bytes(bucket, key).is_none());
}
