//! The release promise, end to end through the binary: an endpoint that is not S3 never
//! costs a local file; a run killed while CompleteMultipartUpload was in flight is finished
//! by the next run without sending a part again; two runs of one spool never run together.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stowage_testkit::conformance::pseudo_random;
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};
use stowage_testkit::s3s_server::S3sServer;

use crate::common::{ok, stderr, stdout};

fn s3_flags<'a>(endpoint: &'a str, server: &'a S3sServer) -> Vec<&'a str> {
    vec![
        "--endpoint",
        endpoint,
        "--access-key",
        server.access_key(),
        "--secret-key",
        server.secret_key(),
    ]
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stowage")
}

/// A spool with a few segments, their playlist, and an MP4 big enough to go multipart.
fn spool_with_mp4(dir: &Path, mp4_mib: usize) {
    let mut playlist = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    for i in 0..3u64 {
        let name = format!("sid_chan_2026112410000{i}000.ts");
        std::fs::write(dir.join(&name), pseudo_random(20_000, i + 1)).unwrap();
        playlist.push_str(&format!("#EXTINF:2.0,\n{name}\n"));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(dir.join("sid_chan.m3u8"), playlist).unwrap();
    std::fs::write(dir.join("sid_chan_0.mp4"), pseudo_random(mp4_mib << 20, 9)).unwrap();
}

fn local_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .is_file()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

/// `--endpoint` pointing at something that answers every request with `200 OK` and a web
/// page: `upload --delete-after-verify` lands nothing, deletes nothing, says what the
/// endpoint is once, and exits 1; `cp` fails with the same explanation.
#[test]
fn an_html_endpoint_costs_no_local_file() {
    let server = S3sServer::shared();
    let proxy = FaultProxy::start(
        server.endpoint(),
        vec![FaultRule::new(
            Match::Any,
            Fault::html_page(200),
            Times::Always,
        )],
    )
    .unwrap();
    let spool = tempfile::tempdir().unwrap();
    spool_with_mp4(spool.path(), 9);
    let before = local_names(spool.path());
    let mut args = vec![
        "upload",
        spool.path().to_str().unwrap(),
        "s3://cli-html/rec",
        "--delete-after-verify",
        "--multipart-threshold-mib",
        "8",
        "--part-size-mib",
        "5",
    ];
    args.extend(s3_flags(proxy.endpoint(), server));
    let o = Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(&args)
        .output()
        .unwrap();
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "stdout: {out}\nstderr: {err}");
    assert_eq!(
        local_names(spool.path()),
        before,
        "a local file was deleted"
    );
    let all = format!("{out}{err}");
    assert!(!all.lines().any(|l| l.starts_with("landed")), "{all}");
    let said = all.matches("not an S3 server").count();
    assert!((1..=2).contains(&said), "said {said} times:\n{all}");
    assert!(!all.contains("<html") && !all.contains("<title>"), "{all}");

    let file = spool.path().join("sid_chan_0.mp4");
    let mut cp = vec!["cp", file.to_str().unwrap(), "s3://cli-html/x.mp4"];
    cp.extend(s3_flags(proxy.endpoint(), server));
    let o = Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(&cp)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not an S3 server"), "{}", stderr(&o));
}

/// `kill -9` while CompleteMultipartUpload is in flight (the server completed the object;
/// the proxy holds the answer back): the next run HEADs the object, proves it from the
/// parts it journaled, and sends no part again.
#[test]
fn a_kill_during_completion_sends_no_part_again() {
    let server = S3sServer::shared();
    server.create_bucket("cli-complete").unwrap();
    let hold = FaultRule::new(
        Match::request("POST", "uploadId="),
        Fault::HoldAnswer(Duration::from_secs(30)),
        Times::Always,
    );
    let proxy = FaultProxy::start(server.endpoint(), vec![hold]).unwrap();
    let spool = tempfile::tempdir().unwrap();
    spool_with_mp4(spool.path(), 20);
    let mut args = vec![
        "upload",
        spool.path().to_str().unwrap(),
        "s3://cli-complete/rec",
        "--multipart-threshold-mib",
        "8",
        "--part-size-mib",
        "5",
    ];
    args.extend(s3_flags(proxy.endpoint(), server));
    let mut child = spawn(&args);
    let started = Instant::now();
    while proxy.matched(0) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the completion never came"
        );
        assert!(child.try_wait().unwrap().is_none(), "stowage ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500)); // the server completes meanwhile
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let count_parts = FaultRule::new(
        Match::request("PUT", "partNumber="),
        Fault::Delay(Duration::ZERO),
        Times::Always,
    );
    let count_creates = FaultRule::new(
        Match::request("POST", "uploads"),
        Fault::Delay(Duration::ZERO),
        Times::Always,
    );
    proxy.set_rules(vec![count_parts, count_creates]);
    let out = ok(Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(&args)
        .output()
        .unwrap());
    assert!(
        out.starts_with("uploaded") || out.contains("\nuploaded"),
        "{out}"
    );
    assert_eq!(proxy.matched(0), 0, "parts sent again:\n{out}");
    assert_eq!(proxy.matched(1), 0, "a new multipart upload:\n{out}");

    let back = tempfile::tempdir().unwrap();
    let dst = back.path().join("mp4");
    let mut get = vec![
        "cp",
        "s3://cli-complete/rec/sid_chan_0.mp4",
        dst.to_str().unwrap(),
    ];
    get.extend(s3_flags(server.endpoint(), server));
    ok(Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(&get)
        .output()
        .unwrap());
    assert!(
        std::fs::read(&dst).unwrap() == std::fs::read(spool.path().join("sid_chan_0.mp4")).unwrap()
    );
}

/// Two `stowage upload` runs of one spool started together: one uploads, the other is
/// refused at once naming the first one's pid, and nothing is sent twice.
#[test]
fn two_uploads_of_one_spool_do_not_race() {
    let server = S3sServer::shared();
    server.create_bucket("cli-twice").unwrap();
    let slow = FaultRule::new(
        Match::Any,
        Fault::Delay(Duration::from_millis(30)),
        Times::Always,
    );
    let proxy = FaultProxy::start(server.endpoint(), vec![slow]).unwrap();
    let spool = tempfile::tempdir().unwrap();
    spool_with_mp4(spool.path(), 1);
    let mut args = vec![
        "upload",
        spool.path().to_str().unwrap(),
        "s3://cli-twice/rec",
    ];
    args.extend(s3_flags(proxy.endpoint(), server));
    let (a, b) = (spawn(&args), spawn(&args));
    let pids = [a.id(), b.id()];
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    let refused: Vec<usize> = (0..2).filter(|i| !outs[*i].status.success()).collect();
    assert_eq!(refused.len(), 1, "exit codes {codes:?}");
    let (loser, winner) = (refused[0], 1 - refused[0]);
    let err = stderr(&outs[loser]);
    assert!(
        err.contains("already being uploaded by pid") && err.contains(&pids[winner].to_string()),
        "{err}"
    );
    assert!(
        stdout(&outs[winner]).contains("uploaded"),
        "{}",
        stdout(&outs[winner])
    );
}

/// `upload --watch` on a recording that stops without ENDLIST: the summary says it ended
/// idle, the bucket's playlist is closed, and the exit status is 3; with
/// `--no-close-on-idle` the playlist stays open.
#[test]
fn an_idle_end_is_said_and_exits_3() {
    for close in [true, false] {
        let spool = tempfile::tempdir().unwrap();
        let bucket = tempfile::tempdir().unwrap();
        let mut playlist = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
        for i in 0..3u64 {
            let name = format!("sid_chan_2026112410000{i}000.ts");
            std::fs::write(spool.path().join(&name), pseudo_random(5_000, i + 1)).unwrap();
            playlist.push_str(&format!("#EXTINF:2.000\n{name}\n"));
        }
        std::fs::write(spool.path().join("sid_chan.m3u8"), &playlist).unwrap();
        let url = format!("file://{}", bucket.path().display());
        let mut args = vec![
            "upload",
            spool.path().to_str().unwrap(),
            &url,
            "--watch",
            "--idle-timeout",
            "1s",
            "--playlist-every",
            "1s",
        ];
        if !close {
            args.push("--no-close-on-idle");
        }
        let o = Command::new(env!("CARGO_BIN_EXE_stowage"))
            .args(&args)
            .output()
            .unwrap();
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(3), "{out}\n{}", stderr(&o));
        assert!(out.contains("ended idle"), "{out}");
        let published = std::fs::read_to_string(bucket.path().join("sid_chan.m3u8")).unwrap();
        let closed = format!("{playlist}#EXT-X-ENDLIST\n");
        assert_eq!(
            &published,
            if close { &closed } else { &playlist },
            "close {close}\n{out}"
        );
    }
}
