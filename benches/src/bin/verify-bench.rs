//! Verifying a 10 000-segment recording on a local S3 server (s3s-fs, in-process, which
//! counts every request it answers), beside `rclone check` of the same data on the same
//! server. (A counting proxy in the way cost each 1 000-key listing page 20 ms of its own.)
//! Goals (issue #20): ≤ 13 requests (no download), ≤ 0.05× rclone's time.
//!
//! The recording is uploaded with `--s3-integrity` MODE (default `md5`: single-part ETags
//! are MD5s the manifest names, so listings prove content; `auto` on this server sends the
//! CRC alone, and the verifier then needs a HEAD per object).
//!
//! `cargo run --release -p stowage-benches --bin verify-bench [SEGMENTS] [md5|auto|crc64nvme]`

use std::sync::Arc;
use std::time::Instant;

use stowage_core::{Credentials, ObjectStore};
use stowage_pipeline::{Options, Targets, upload_recording};
use stowage_s3::{S3Config, S3Integrity, S3Store};
use stowage_testkit::conformance::pseudo_random;
use stowage_testkit::s3s_server::S3sServer;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let integrity = match std::env::args().nth(2).as_deref() {
        None | Some("md5") => S3Integrity::Md5AndCrc64Nvme,
        Some("auto") => S3Integrity::Auto,
        Some("crc64nvme") => S3Integrity::Crc64Nvme,
        Some(other) => panic!("unknown integrity mode {other}: md5, auto or crc64nvme"),
    };
    let server = S3sServer::start().expect("server");
    server.create_bucket("verify-bench").expect("bucket");
    let spool = tempfile::tempdir().expect("tempdir");
    let mut playlist = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
    for i in 0..n {
        let name = format!("seg_{i:06}.ts");
        std::fs::write(spool.path().join(&name), pseudo_random(4096, i as u64 + 1)).expect("write");
        playlist.push_str(&format!("#EXTINF:2.000,\n{name}\n"));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(spool.path().join("rec.m3u8"), playlist).expect("write");

    let store = |endpoint: &str| {
        S3Store::new(S3Config {
            bucket: "verify-bench".into(),
            region: Some("us-east-1".into()),
            endpoint: Some(endpoint.into()),
            force_path_style: true,
            credentials: Some(Credentials::new(server.access_key(), server.secret_key())),
            profile: None,
            max_attempts: 3,
            integrity,
            ca_bundle: None,
        })
    };
    let direct: Arc<dyn ObjectStore> = Arc::new(store(server.endpoint()).await.expect("store"));
    let t = Instant::now();
    let opts = Options {
        prefix: "rec".into(),
        concurrency: 32,
        ..Options::default()
    };
    let summary = upload_recording(
        spool.path(),
        &Targets {
            primary: direct,
            backup: None,
        },
        &opts,
    )
    .await
    .expect("upload");
    eprintln!(
        "uploaded {} objects in {:.1} s ({:?})",
        summary.objects,
        t.elapsed().as_secs_f64(),
        summary.status
    );

    let counted = store(server.endpoint()).await.expect("store");
    let before = server.requests_seen();
    let t = Instant::now();
    let manifest = counted
        .get("rec/stowage-manifest.json", None)
        .await
        .expect("manifest")
        .bytes()
        .await
        .expect("bytes");
    let expected = stowage_verify::expected_from_manifest(&manifest).expect("manifest");
    let manifest_secs = t.elapsed().as_secs_f64();
    let report = stowage_verify::verify(
        &counted,
        None,
        "rec",
        &expected,
        Some("rec/stowage-manifest.json"),
    )
    .await
    .expect("verify");
    let ours = t.elapsed().as_secs_f64();
    let our_requests = server.requests_seen() - before;
    assert!(report.is_complete(), "{:?}", report.problems);

    let before = server.requests_seen();
    let t = Instant::now();
    let status = std::process::Command::new("rclone")
        .args(["check", "--one-way", "--checkers", "16"])
        .arg(spool.path())
        .arg("b:verify-bench/rec")
        .args(["--exclude", ".stowage/**", "-q"])
        .env_remove("AWS_CA_BUNDLE")
        .envs([
            ("RCLONE_CONFIG_B_TYPE", "s3"),
            ("RCLONE_CONFIG_B_PROVIDER", "Other"),
            ("RCLONE_CONFIG_B_ENDPOINT", server.endpoint()),
            ("RCLONE_CONFIG_B_ACCESS_KEY_ID", server.access_key()),
            ("RCLONE_CONFIG_B_SECRET_ACCESS_KEY", server.secret_key()),
            ("RCLONE_CONFIG_B_FORCE_PATH_STYLE", "true"),
        ])
        .status()
        .expect("rclone (apt-get install rclone)");
    let theirs = t.elapsed().as_secs_f64();
    let rclone_requests = server.requests_seen() - before;

    println!(
        "verify {n} segments + playlist + manifest on the local S3 server (uploaded with {integrity:?})"
    );
    println!(
        "  stowage verify: {ours:.2} s ({manifest_secs:.2} s of it reading the manifest), {our_requests} requests, {} intact, {} unproven",
        report.intact,
        report.unproven.len()
    );
    println!("  rclone check:   {theirs:.2} s, {rclone_requests} requests (exit {status})");
    println!("  time ratio stowage/rclone: {:.2}", ours / theirs);
}
