//! Every vendor over HTTPS, through a TLS front whose certificate comes from a private CA:
//! with `--ca-bundle` the copy lands and reads back; without it the command fails with a
//! message naming the certificate and the flag, never the secret.

use serde_json::Value;
use stowage_testkit::cos::CosEmulator;
use stowage_testkit::kodo::KodoEmulator;
use stowage_testkit::oss::OssEmulator;
use stowage_testkit::s3s_server::S3sServer;
use stowage_testkit::tls_front::TlsFront;

use crate::common::{fails, ok, stowage_without};

/// The vendors' variables a developer's shell may hold.
const CLEARED: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "OSS_ACCESS_KEY_ID",
    "OSS_ACCESS_KEY_SECRET",
    "OSS_ENDPOINT",
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "COS_ENDPOINT",
    "QINIU_ACCESS_KEY",
    "QINIU_SECRET_KEY",
    "STOWAGE_CA_BUNDLE",
];

/// One bucket behind a TLS front: its URL prefix, the flags that reach it (the front's
/// https endpoint in place of the server's), and the secret that must not leak.
struct Target {
    url: String,
    flags: Vec<String>,
    secret: String,
}

/// Copies a file up over HTTPS with the CA bundle and reads its size back; then shows that
/// without the bundle the certificate is refused with the fix named.
fn round_trip_over_tls(front: &TlsFront, target: Target) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, front.ca_pem()).unwrap();
    let src = dir.path().join("seg0.ts");
    std::fs::write(&src, vec![0x47u8; 70_000]).unwrap();
    let key_url = format!("{}/tls/seg0.ts", target.url);
    let run = |extra: &[&str]| {
        let args: Vec<&str> = extra
            .iter()
            .copied()
            .chain(target.flags.iter().map(String::as_str))
            .collect();
        stowage_without(CLEARED, &args, &[])
    };
    let ca_flag = ["--ca-bundle", ca.to_str().unwrap()];

    let with_ca = |extra: &[&str]| {
        let args: Vec<&str> = extra.iter().chain(&ca_flag).copied().collect();
        ok(run(&args))
    };
    with_ca(&["cp", src.to_str().unwrap(), &key_url]);
    let stat: Value = serde_json::from_str(&with_ca(&["stat", "--json", &key_url])).unwrap();
    assert_eq!(stat["size"], 70_000, "{stat}");

    let err = fails(run(&["stat", &key_url]));
    assert!(err.contains("TLS"), "{err}");
    assert!(
        err.contains("UnknownIssuer"),
        "the certificate's complaint: {err}"
    );
    assert!(err.contains("--ca-bundle"), "the fix: {err}");
    assert!(!err.contains(&target.secret), "secret leaked: {err}");

    // The same bundle through the environment.
    let args: Vec<&str> = ["stat", key_url.as_str()]
        .into_iter()
        .chain(target.flags.iter().map(String::as_str))
        .collect();
    ok(stowage_without(
        CLEARED,
        &args,
        &[("STOWAGE_CA_BUNDLE", ca.to_str().unwrap())],
    ));
}

/// Puts a TLS front before `backend` and runs the round trip on `url` with `pairs` as flags.
fn through_a_front(backend: &str, url: &str, pairs: &[(&str, &str)], secret: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let front = rt.block_on(TlsFront::start(backend));
    let mut flags = vec!["--endpoint".to_string(), front.url().to_string()];
    for (flag, value) in pairs {
        flags.extend([flag.to_string(), value.to_string()]);
    }
    let target = Target {
        url: url.into(),
        flags,
        secret: secret.into(),
    };
    round_trip_over_tls(&front, target);
}

#[test]
fn s3_over_tls_with_a_private_ca() {
    let server = S3sServer::shared();
    server.create_bucket("cli-tls").unwrap();
    let keys = [
        ("--access-key", server.access_key()),
        ("--secret-key", server.secret_key()),
    ];
    through_a_front(
        server.endpoint(),
        "s3://cli-tls",
        &keys,
        server.secret_key(),
    );
}

#[test]
fn oss_over_tls_with_a_private_ca() {
    let server = OssEmulator::shared();
    server.create_bucket("cli-tls");
    let flags = [
        ("--region", server.region()),
        ("--access-key", server.access_key()),
        ("--secret-key", server.secret_key()),
    ];
    through_a_front(
        server.endpoint(),
        "oss://cli-tls",
        &flags,
        server.secret_key(),
    );
}

#[test]
fn cos_over_tls_with_a_private_ca() {
    let server = CosEmulator::shared();
    server.create_bucket("cli-tls-1250000000");
    let flags = [
        ("--region", server.region()),
        ("--access-key", server.access_key()),
        ("--secret-key", server.secret_key()),
    ];
    let url = "cos://cli-tls-1250000000";
    through_a_front(server.endpoint(), url, &flags, server.secret_key());
}

#[test]
fn kodo_over_tls_with_a_private_ca() {
    let emu = KodoEmulator::start().unwrap();
    emu.create_bucket("cli-tls", "z0");
    let keys = [
        ("--access-key", emu.access_key()),
        ("--secret-key", emu.secret_key()),
    ];
    through_a_front(emu.endpoint(), "kodo://cli-tls", &keys, emu.secret_key());
}

#[test]
fn gcs_over_tls_with_a_private_ca() {
    let server = stowage_testkit::fake_gcs::FakeGcs::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = "cli-tls-gcs";
    crate::gcs::create(bucket);
    let key = crate::gcs::service_account_key_file();
    let flags = [
        ("--access-key", "recorder"),
        ("--secret-key", key.to_str().unwrap()),
    ];
    let url = format!("gs://{bucket}");
    // The key file's path is what is given; its private key must not be printed.
    let secret = "PRIVATE KEY";
    through_a_front(server.endpoint(), &url, &flags, secret);
}
