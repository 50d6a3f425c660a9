//! The region-aware endpoint flags on the upload path (`--from`, `--internal`,
//! `--accelerate`, `--probe-endpoints`) against the OSS and COS emulators on 127.0.0.1: the
//! Agora FAQ's cross-region warning on stderr (a plain line, or a JSON event with --json),
//! never blocking the upload; none in the bucket's own region; the probe refusing a dead
//! endpoint before anything is sent.
//!
//! Real vendor hosts cannot be reached here. Uploads that must land give an explicit
//! --endpoint (the emulator), which wins over selection; which vendor host selection picks is
//! seen through a local `HTTPS_PROXY` that records each `CONNECT` and refuses it (the OSS,
//! COS and Kodo adapters' reqwest honours it; the S3 SDK does not, so S3's mapping is
//! unit-tested in `src/open.rs`). The probe's choice between a live and a dead local endpoint
//! is tested in `src/placement.rs`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use crate::common::{self, sample_recording, stderr, stdout};
use serde_json::Value;
use stowage_testkit::cos::CosEmulator;
use stowage_testkit::oss::OssEmulator;

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
    for (name, bytes) in common::files_in(&sample_recording()) {
        std::fs::write(dir.path().join(name), bytes).unwrap();
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

    // The switch from the environment, in the spellings operators use.
    for (value, notes) in [("yes", 1), ("1", 1), ("0", 0), ("false", 0)] {
        let o = run(
            &[
                "upload",
                dir.path().to_str().unwrap(),
                "oss://sel-note/rec",
                "--from",
                "oss:cn-hangzhou",
            ],
            &oss_flags(server),
            &[("STOWAGE_INTERNAL", value)],
        );
        assert_ok(&o);
        let err = stderr(&o);
        let seen = err.lines().filter(|l| l.starts_with("note: ")).count();
        assert_eq!(seen, notes, "STOWAGE_INTERNAL={value}: {err}");
    }
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

/// A forward proxy that writes down the host of every `CONNECT` and refuses it: which vendor
/// host an adapter was configured with, seen over a real socket without reaching the vendor
/// (reqwest, under the OSS, COS and Kodo adapters, honours `HTTPS_PROXY`).
struct ConnectRecorder {
    proxy: String,
    hosts: Arc<Mutex<Vec<String>>>,
}

impl ConnectRecorder {
    fn start() -> ConnectRecorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        let hosts = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&hosts);
        // Lives as long as the test process; each connection is answered at once.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(host) = refuse_connect(stream) {
                    seen.lock().unwrap().push(host);
                }
            }
        });
        ConnectRecorder { proxy, hosts }
    }

    /// Runs stowage through the proxy; returns its output and the hosts it asked for.
    fn run(&self, args: &[&str]) -> (Output, Vec<String>) {
        let env = [
            ("HTTPS_PROXY", self.proxy.as_str()),
            ("https_proxy", self.proxy.as_str()),
            ("ALL_PROXY", ""),
            ("all_proxy", ""),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
        ];
        let o = common::stowage_env(args, &env);
        // The refusal reaches the client before the host is written down: wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.hosts.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut hosts = self.hosts.lock().unwrap().clone();
        hosts.dedup();
        (o, hosts)
    }
}

/// Reads one request head; answers 403 and returns the CONNECT target.
fn refuse_connect(mut stream: TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).ok()? == 1 {
        head.push(byte[0]);
    }
    let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    let head = String::from_utf8_lossy(&head);
    let target = head.strip_prefix("CONNECT ")?.split(' ').next()?;
    Some(target.to_string())
}

#[test]
fn each_adapter_is_sent_to_the_selected_vendor_host_in_its_own_spelling() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"segment").unwrap();
    let file = file.path().to_str().unwrap();
    let keys = [
        "--access-key",
        "AKIDexample",
        "--secret-key",
        "not-a-secret",
    ];
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "oss://sel-host/x",
            &[
                "--region",
                "cn-hangzhou",
                "--from",
                "oss:cn-hangzhou",
                "--internal",
            ],
            "sel-host.oss-cn-hangzhou-internal.aliyuncs.com:443",
        ),
        (
            "oss://sel-host/x",
            &[
                "--region",
                "cn-hangzhou",
                "--from",
                "us-east-1",
                "--accelerate",
            ],
            "sel-host.oss-accelerate.aliyuncs.com:443",
        ),
        // Where this machine runs is unknown: the regional public host, --internal or not.
        (
            "oss://sel-host/x",
            &["--region", "cn-hangzhou", "--internal"],
            "sel-host.oss-cn-hangzhou.aliyuncs.com:443",
        ),
        // An explicit endpoint wins over selection.
        (
            "oss://sel-host/x",
            &[
                "--region",
                "cn-shanghai",
                "--from",
                "oss:cn-shanghai",
                "--internal",
                "--endpoint",
                "https://oss-cn-shanghai.aliyuncs.com",
            ],
            "sel-host.oss-cn-shanghai.aliyuncs.com:443",
        ),
        (
            "cos://sel-host-1250000000/x",
            &[
                "--region",
                "ap-guangzhou",
                "--from",
                "eu-central-1",
                "--accelerate",
            ],
            "sel-host-1250000000.cos.accelerate.myqcloud.com:443",
        ),
        (
            "cos://sel-host-1250000000/x",
            &[
                "--region",
                "ap-guangzhou",
                "--from",
                "cos:ap-guangzhou",
                "--internal",
            ],
            "sel-host-1250000000.cos-internal.ap-guangzhou.tencentcos.cn:443",
        ),
        (
            "kodo://sel-host/x",
            &["--region", "z0", "--from", "us-east-1", "--accelerate"],
            "upload.qiniup.com:443",
        ),
        (
            "kodo://sel-host/x",
            &["--region", "z2", "--from", "cn-shenzhen"],
            "up-z2.qiniup.com:443",
        ),
    ];
    for (url, flags, host) in cases {
        // A proxy per case: a connection the previous run opened and abandoned can still
        // wait in a shared listener's backlog and be counted against the next case.
        let proxy = ConnectRecorder::start();
        let mut args = vec!["cp", file, url];
        args.extend_from_slice(flags);
        args.extend_from_slice(&keys);
        let (o, hosts) = proxy.run(&args);
        assert!(!o.status.success(), "the proxy refuses everything");
        assert_eq!(hosts, [host.to_string()], "{url} {flags:?}: {}", stderr(&o));
    }
}

#[test]
fn doctor_reports_a_bad_from_as_an_endpoint_failure_not_a_credentials_one() {
    let server = OssEmulator::shared();
    server.create_bucket("sel-doctor");
    let o = run(
        &[
            "doctor",
            "--json",
            "oss://sel-doctor/rec",
            "--from",
            "atlantis-1",
        ],
        &oss_flags(server),
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let last = report["checks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["check"], "endpoint", "{report}");
    assert_eq!(last["verdict"], "fail");
    assert!(
        last["detail"].as_str().unwrap().contains("atlantis-1"),
        "{last}"
    );

    // A good --from: the doctor runs through, with the distance check from the same flag.
    let o = run(
        &[
            "doctor",
            "--json",
            "oss://sel-doctor/rec",
            "--from",
            "eu-central-1",
        ],
        &oss_flags(server),
        &[],
    );
    let report: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let distance = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "distance")
        .cloned()
        .unwrap_or_else(|| panic!("no distance check: {report}"));
    assert_eq!(distance["verdict"], "warn", "{distance}");
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
