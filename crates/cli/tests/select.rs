//! The region-aware endpoint flags on the upload path (`--from`, `--internal`,
//! `--accelerate`, `--probe-endpoints`) against the OSS and COS emulators on 127.0.0.1: the
//! Agora FAQ's cross-region warning on stderr (a plain line, or a JSON event with --json),
//! never blocking the upload; none in the bucket's own region; the probe refusing a dead
//! endpoint before anything is sent.
//!
//! Real vendor hosts cannot be reached here, so these tests give an explicit --endpoint (the
//! emulator), which wins over selection; what selection configures for each vendor is
//! unit-tested in `src/open.rs`, and the probe's choice between a live and a dead local
//! endpoint in `src/placement.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use stowage_testkit::cos::CosEmulator;
use stowage_testkit::oss::OssEmulator;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "stowage failed\nstdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

/// A copy of the example recording in a fresh directory (upload keeps its journal there).
fn spool() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/recording");
    for entry in std::fs::read_dir(sample).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// A segment of the example recording (its file name).
fn a_segment(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ts"))
        .collect();
    names.sort();
    names.remove(0)
}

/// Endpoint, region and keys of the OSS emulator, as flags.
fn oss_flags(server: &OssEmulator) -> Vec<String> {
    [
        "--endpoint",
        server.endpoint(),
        "--region",
        server.region(),
        "--access-key",
        server.access_key(),
        "--secret-key",
        server.secret_key(),
    ]
    .map(str::to_string)
    .to_vec()
}

fn run(args: &[&str], flags: &[String], env: &[(&str, &str)]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(flags.iter().map(String::as_str));
    common::stowage_env(&all, env)
}

fn cross_region_lines(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.contains("cross-region")).collect()
}

#[test]
fn upload_from_another_continent_warns_once_naming_both_places_and_still_lands() {
    let server = OssEmulator::shared();
    server.create_bucket("sel-far");
    let dir = spool();
    let spool_dir = dir.path().to_str().unwrap();
    let o = run(
        &[
            "upload",
            spool_dir,
            "oss://sel-far/rec",
            "--from",
            "eu-central-1",
        ],
        &oss_flags(server),
        &[],
    );
    assert_ok(&o);
    let err = stderr(&o);
    let warnings = cross_region_lines(&err);
    assert_eq!(warnings.len(), 1, "exactly one warning: {err}");
    let w = warnings[0];
    assert!(w.starts_with("warning: "), "{w}");
    for part in ["cn-hangzhou", "Hangzhou", "Frankfurt", "eu-central-1"] {
        assert!(w.contains(part), "the warning names {part}: {w}");
    }
    assert!(
        w.contains("Fix: run the recorder/uploader in China (Hangzhou)"),
        "{w}"
    );
    assert!(w.contains("--accelerate"), "{w}");
    assert!(stdout(&o).contains("uploaded:"), "{}", stdout(&o));
    let segment = a_segment(dir.path());
    assert_eq!(
        server
            .object_bytes("sel-far", &format!("rec/{segment}"))
            .as_deref(),
        Some(std::fs::read(dir.path().join(&segment)).unwrap().as_slice()),
        "the upload was not blocked"
    );

    // restore warns the same way at its start; a backup in the same region adds no second
    // warning.
    server.create_bucket("sel-far-backup");
    let o = run(
        &[
            "restore",
            spool_dir,
            "oss://sel-far/rec",
            "--backup",
            "oss://sel-far-backup/rec",
            "--from",
            "eu-central-1",
        ],
        &oss_flags(server),
        &[],
    );
    assert_ok(&o);
    assert_eq!(cross_region_lines(&stderr(&o)).len(), 1, "{}", stderr(&o));
}

#[test]
fn upload_in_the_bucket_region_prints_no_warning() {
    let server = OssEmulator::shared();
    server.create_bucket("sel-near");
    let dir = spool();
    for from in ["cn-hangzhou", "oss:cn-hangzhou"] {
        let o = run(
            &[
                "upload",
                dir.path().to_str().unwrap(),
                "oss://sel-near/rec",
                "--from",
                from,
            ],
            &oss_flags(server),
            &[],
        );
        assert_ok(&o);
        let err = stderr(&o);
        assert!(!err.contains("warning"), "--from {from}: {err}");
    }
}

#[test]
fn stowage_from_in_the_environment_works_like_the_flag() {
    let server = OssEmulator::shared();
    server.create_bucket("sel-env");
    let dir = spool();
    let o = run(
        &["upload", dir.path().to_str().unwrap(), "oss://sel-env/rec"],
        &oss_flags(server),
        &[("STOWAGE_FROM", "us-east-1")],
    );
    assert_ok(&o);
    let err = stderr(&o);
    let warnings = cross_region_lines(&err);
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("us-east-1"), "{err}");
}

#[test]
fn with_json_the_warning_is_an_event_line() {
    let server = OssEmulator::shared();
    server.create_bucket("sel-json");
    let dir = spool();
    let o = run(
        &[
            "upload",
            dir.path().to_str().unwrap(),
            "oss://sel-json/rec",
            "--json",
            "--from",
            "eu-central-1",
        ],
        &oss_flags(server),
        &[],
    );
    assert_ok(&o);
    let err = stderr(&o);
    let events: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "cross_region")
        .collect();
    assert_eq!(
        events.len(),
        1,
        "one cross_region event line on stderr: {err}"
    );
    let e = &events[0];
    assert_eq!(e["bucket"], "oss://sel-json");
    assert_eq!(e["vendor"], "oss");
    assert_eq!(e["bucket_region"], "cn-hangzhou");
    assert_eq!(e["from"], "eu-central-1");
    assert_eq!(e["distance"], "other-geography");
    assert!(e["message"].as_str().unwrap().contains("Frankfurt"), "{e}");
    assert!(e["fix"].as_str().unwrap().contains("--accelerate"), "{e}");
    // stdout stays the pipeline's own event stream, every line JSON, ending in the summary.
    let out = stdout(&o);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert_eq!(lines.last().unwrap()["event"], "summary");
    assert!(lines.iter().all(|l| l["event"] != "cross_region"));
}

#[test]
fn cp_to_cos_from_another_continent_warns_and_copies() {
    let server = CosEmulator::shared();
    let bucket = "sel-cp-1250000000";
    server.create_bucket(bucket);
    let dir = spool();
    let segment = a_segment(dir.path());
    let file: PathBuf = dir.path().join(&segment);
    let flags = [
        "--endpoint",
        server.endpoint(),
        "--region",
        server.region(),
        "--access-key",
        server.access_key(),
        "--secret-key",
        server.secret_key(),
    ]
    .map(str::to_string);
    let dest = format!("cos://{bucket}/rec/");
    let o = run(
        &["cp", file.to_str().unwrap(), &dest, "--from", "us-east-1"],
        &flags,
        &[],
    );
    assert_ok(&o);
    let err = stderr(&o);
    let warnings = cross_region_lines(&err);
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("ap-guangzhou"), "{err}");
    assert!(warnings[0].contains("us-east-1"), "{err}");
    assert!(
        server
            .object_bytes(bucket, &format!("rec/{segment}"))
            .is_some()
    );

    // cp --json keeps stdout one JSON document; the event goes to stderr.
    let o = run(
        &[
            "cp",
            "--json",
            file.to_str().unwrap(),
            &dest,
            "--from",
            "us-east-1",
        ],
        &flags,
        &[],
    );
    assert_ok(&o);
    let report: Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON document");
    assert_eq!(report["copied"], 1);
    let event: Value = serde_json::from_str(stderr(&o).lines().next().unwrap()).unwrap();
    assert_eq!(event["event"], "cross_region");
    assert_eq!(event["bucket_region"], "ap-guangzhou");
}

#[test]
fn a_flag_the_endpoint_choice_does_not_follow_gets_a_note() {
    let server = OssEmulator::shared();
    server.create_bucket("sel-note");
    let dir = spool();
    let o = run(
        &[
            "upload",
            dir.path().to_str().unwrap(),
            "oss://sel-note/rec",
            "--from",
            "oss:cn-hangzhou",
            "--internal",
        ],
        &oss_flags(server),
        &[],
    );
    assert_ok(&o);
    let err = stderr(&o);
    let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(
        notes[0].contains("--internal not followed for oss://sel-note"),
        "{err}"
    );
    assert!(notes[0].contains("explicit endpoint"), "{err}");
    assert!(!err.contains("cross-region"), "same region: {err}");
}

#[test]
fn probe_endpoints_accepts_a_live_endpoint_and_refuses_a_dead_one_before_sending() {
    let server = OssEmulator::shared();
    server.create_bucket("sel-probe");
    let dir = spool();
    let spool_dir = dir.path().to_str().unwrap();
    let o = run(
        &[
            "upload",
            spool_dir,
            "oss://sel-probe/live",
            "--probe-endpoints",
        ],
        &oss_flags(server),
        &[],
    );
    assert_ok(&o);

    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    }; // released: nothing listens there now
    let flags = [
        "--endpoint",
        &dead,
        "--region",
        server.region(),
        "--access-key",
        server.access_key(),
        "--secret-key",
        server.secret_key(),
    ]
    .map(str::to_string);
    let o = run(
        &[
            "upload",
            spool_dir,
            "oss://sel-probe/dead",
            "--probe-endpoints",
        ],
        &flags,
        &[],
    );
    assert!(!o.status.success(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("--probe-endpoints"), "{err}");
    assert!(err.contains(&dead), "the error names the endpoint: {err}");
    assert!(err.contains("Fix:"), "{err}");
    assert!(
        !stdout(&o).contains("sending"),
        "nothing was attempted: {}",
        stdout(&o)
    );
}

#[test]
fn verify_spells_the_uploader_region_from_region_and_doctor_from() {
    let o = common::stowage_env(&["verify", "--help"], &[]);
    assert_ok(&o);
    let help = stdout(&o);
    assert!(help.contains("--from-region <REGION>"), "{help}");
    assert!(
        help.contains("--from <DIR|URL>"),
        "verify keeps its repair source: {help}"
    );
    let o = common::stowage_env(&["doctor", "--help"], &[]);
    assert_ok(&o);
    assert!(stdout(&o).contains("--from <REGION>"), "{}", stdout(&o));
    let o = common::stowage_env(&["upload", "--help"], &[]);
    assert_ok(&o);
    for flag in [
        "--from <REGION>",
        "--internal",
        "--accelerate",
        "--probe-endpoints",
    ] {
        assert!(stdout(&o).contains(flag), "{flag}: {}", stdout(&o));
    }
}
