//! The proof of `stowage serve` under load, from a second process: 2 000 NCS notifications for
//! 200 recordings on the local S3 server (30 % duplicates, some under new noticeIds, 5 % bad
//! signatures, 10 % of recordings whose 31 never comes), shuffled, sent concurrently.
//! Every good delivery must get 200, every bad one 401, and every recording must be verified
//! exactly once (the lost ones by the sweeper). Prints accepted notifications/s, the p99 of
//! the 200s, and verification throughput.
//!
//! ```text
//! cargo build -p stowage-cli --release
//! cargo run --release -p stowage-benches --bin serve-load -- \
//!     --stowage target/release/stowage --queue sqlite|nats [--scenario load|worker-crash|receiver-crash] \
//!     [--segments 3] [--recordings 200] [--concurrency 32]
//! ```
//!
//! - `load`: one `stowage serve` process (receiver and 4 workers).
//! - `worker-crash`: a receiver process and 3 worker processes; one worker is killed with
//!   SIGKILL while it runs a job, which must be redelivered and finished by another.
//! - `receiver-crash`: the receiver is killed with SIGKILL mid-load and restarted; every
//!   notification it had answered 200 must still be there, the rest are sent again (as
//!   Agora does) and everything is verified exactly once.
//!
//! NATS: a `nats-server -js` ($STOWAGE_NATS_SERVER or on the PATH) is started on a free
//! loopback port for the run. Exits non-zero when any check fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use stowage_core::{Credentials, ObjectStore, PutBody, PutOptions};
use stowage_s3::{S3Config, S3Integrity, S3Store};
use stowage_serve::signature::{sign_sha1, sign_sha256};
use stowage_testkit::s3s_server::S3sServer;

const SECRET: &str = "load-test-ncs-secret";
const BUCKET: &str = "serve-load";

struct Args {
    stowage: PathBuf,
    queue: String,
    scenario: String,
    segments: usize,
    recordings: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        stowage: PathBuf::from("target/release/stowage"),
        queue: "sqlite".into(),
        scenario: "load".into(),
        segments: 3,
        recordings: 200,
        concurrency: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_default();
        match flag.as_str() {
            "--stowage" => a.stowage = v.into(),
            "--queue" => a.queue = v,
            "--scenario" => a.scenario = v,
            "--segments" => a.segments = v.parse().expect("--segments N"),
            "--recordings" => a.recordings = v.parse().expect("--recordings N"),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency N"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// A small deterministic generator (xorshift64*), so a run can be repeated.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// One delivery to make.
#[derive(Clone)]
struct Delivery {
    sid: String,
    event_type: i64,
    sequence: i64,
    body: Vec<u8>,
    good: bool,
}

fn notifications(recordings: usize, rng: &mut Rng) -> (Vec<Delivery>, BTreeSet<String>) {
    let total = recordings * 10;
    let lost: BTreeSet<String> = (0..recordings).filter(|i| i % 10 == 3).map(sid).collect();
    let mut unique = Vec::new();
    let mut notice = 0u64;
    let mut make = |s: &str, event_type: i64, sequence: i64, details: Value| {
        notice += 1;
        let body = json!({
            "noticeId": format!("n-{notice}"), "productId": 3, "eventType": event_type,
            "notifyMs": 1_700_000_000_000i64 + notice as i64,
            "payload": {"cname": "room", "uid": "527", "sid": s, "sequence": sequence,
                        "sendts": 1_700_000_000_000i64, "serviceType": 0, "details": details}
        });
        (s.to_string(), event_type, sequence, body)
    };
    for i in 0..recordings {
        let s = sid(i);
        unique.push(make(&s, 40, 0, json!({"msgName": "recorder_started"})));
        unique.push(make(
            &s,
            30,
            1,
            json!({"msgName": "uploader_started", "status": 0}),
        ));
        unique.push(make(
            &s,
            42,
            2,
            json!({"startUtcMs": 1_700_000_000_000i64, "discontinueUtcMs": 0}),
        ));
        unique.push(make(&s, 33, 3, json!({"progress": 5000})));
        unique.push(make(&s, 41, 4, json!({"leaveCode": 4})));
        if !lost.contains(&s) {
            let files = json!([{"fileName": format!("agora/{s}_room.m3u8"), "trackType": "audio_and_video",
                                "uid": "0", "mixedAllUser": "true", "isPlayable": "true",
                                "sliceStartTime": "1700000000000"}]);
            unique.push(make(
                &s,
                31,
                5,
                json!({"msgName": "uploaded", "status": 0, "fileList": files}),
            ));
        }
    }
    // Fill to 65 % of the total with further progress events.
    let mut extra = 6;
    while unique.len() < total * 65 / 100 {
        let i = unique.len() % recordings;
        unique.push(make(&sid(i), 33, extra, json!({"progress": 6000})));
        if i == recordings - 1 {
            extra += 1;
        }
    }
    let mut out: Vec<Delivery> = unique
        .iter()
        .map(|(s, t, q, b)| Delivery {
            sid: s.clone(),
            event_type: *t,
            sequence: *q,
            body: serde_json::to_vec(b).unwrap(),
            good: true,
        })
        .collect();
    // 30 % duplicates: half the same bytes (a resend), half under a new noticeId.
    for k in 0..total * 30 / 100 {
        let (s, t, q, b) = &unique[rng.below(unique.len())];
        let mut b = b.clone();
        if k % 2 == 0 {
            b["noticeId"] = json!(format!("redundant-{k}"));
        }
        out.push(Delivery {
            sid: s.clone(),
            event_type: *t,
            sequence: *q,
            body: serde_json::to_vec(&b).unwrap(),
            good: true,
        });
    }
    // 5 % bad signatures, the 31s of lost recordings among them (they must enqueue nothing).
    let mut bad = 0;
    for s in &lost {
        let b = make(
            s,
            31,
            5,
            json!({"fileList": format!("agora/{s}_room.m3u8")}),
        )
        .3;
        out.push(Delivery {
            sid: s.clone(),
            event_type: 31,
            sequence: 5,
            body: serde_json::to_vec(&b).unwrap(),
            good: false,
        });
        bad += 1;
    }
    while bad < total * 5 / 100 {
        let (s, t, q, b) = &unique[rng.below(unique.len())];
        out.push(Delivery {
            sid: s.clone(),
            event_type: *t,
            sequence: *q,
            body: serde_json::to_vec(b).unwrap(),
            good: false,
        });
        bad += 1;
    }
    rng.shuffle(&mut out);
    (out, lost)
}

fn sid(i: usize) -> String {
    format!("sid{i:05}")
}

async fn put_recordings(server: &S3sServer, recordings: usize, segments: usize) {
    let store: Arc<dyn ObjectStore> = Arc::new(
        S3Store::new(S3Config {
            bucket: BUCKET.into(),
            region: Some("us-east-1".into()),
            endpoint: Some(server.endpoint().into()),
            force_path_style: true,
            credentials: Some(Credentials::new(server.access_key(), server.secret_key())),
            profile: None,
            max_attempts: 3,
            integrity: S3Integrity::Md5AndCrc64Nvme,
            ca_bundle: None,
        })
        .await
        .expect("store"),
    );
    let mut puts = Vec::new();
    for i in 0..recordings {
        let s = sid(i);
        let mut playlist = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
        for n in 0..segments {
            let name = format!("{s}_room_20240101120000{n:03}.ts");
            playlist.push_str(&format!("#EXTINF:2.000,\n{name}\n"));
            puts.push((
                format!("agora/{name}"),
                Bytes::from(vec![(n % 251) as u8; 2048]),
            ));
        }
        playlist.push_str("#EXT-X-ENDLIST\n");
        puts.push((format!("agora/{s}_room.m3u8"), Bytes::from(playlist)));
    }
    futures::stream::iter(puts)
        .map(|(key, bytes)| {
            let store = Arc::clone(&store);
            async move {
                store
                    .put(&key, PutBody::Bytes(bytes), &PutOptions::default())
                    .await
                    .expect("put")
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}

struct Service {
    child: Child,
    name: String,
    /// Where its stderr goes, shown when it dies before it is healthy.
    log: Option<PathBuf>,
}

impl Service {
    fn kill9(&mut self) {
        eprintln!("kill -9 {} (pid {})", self.name, self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup<'a> {
    stowage: &'a Path,
    config: PathBuf,
    queue: String,
    server: &'a S3sServer,
    logs: PathBuf,
}

impl Setup<'_> {
    fn spawn(&self, name: &str, role: &str, workers: usize, listen: Option<&str>) -> Service {
        let log_path = self.logs.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(self.stowage);
        cmd.args(["serve", "--config"])
            .arg(&self.config)
            .args([
                "--queue",
                &self.queue,
                "--role",
                role,
                "--workers",
                &workers.to_string(),
            ])
            .args(["--endpoint", self.server.endpoint()])
            .env("AGORA_NCS_SECRET", SECRET)
            .env("AWS_ACCESS_KEY_ID", self.server.access_key())
            .env("AWS_SECRET_ACCESS_KEY", self.server.secret_key())
            .env("AWS_REGION", "us-east-1")
            .env("STOWAGE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(l) = listen {
            cmd.args(["--listen", l]);
        }
        Service {
            child: cmd.spawn().expect("spawn stowage serve"),
            name: name.into(),
            log: Some(log_path),
        }
    }
}

/// Waits for `service`'s /healthz at `base`; a service that exits first is reported with its log.
async fn wait_healthy(http: &reqwest::Client, base: &str, service: &mut Service) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = service.child.try_wait() {
            let log = service
                .log
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok());
            panic!(
                "{} ({base}) exited before it was healthy ({status}); its log:\n{}",
                service.name,
                log.unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "{base} never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends every delivery, `concurrency` at a time; returns (delivery index, status or None
/// for a connection failure, latency).
async fn send_all(
    http: &reqwest::Client,
    base: &str,
    deliveries: &[(usize, Delivery)],
    concurrency: usize,
) -> Vec<(usize, Option<u16>, Duration)> {
    let url = format!("{base}/agora/ncs");
    futures::stream::iter(deliveries.iter().cloned())
        .map(|(i, d)| {
            let url = url.clone();
            let http = http.clone();
            async move {
                let (v2, v1) = if d.good {
                    (
                        sign_sha256(SECRET.as_bytes(), &d.body),
                        sign_sha1(SECRET.as_bytes(), &d.body),
                    )
                } else {
                    (
                        sign_sha256(b"not-the-secret", &d.body),
                        sign_sha1(b"not-the-secret", &d.body),
                    )
                };
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("Agora-Signature-V2", v2)
                    .header("Agora-Signature", v1)
                    .body(d.body.clone())
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let status = match r {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        if s == 200 {
                            assert_eq!(body, "{}");
                        }
                        Some(s)
                    }
                    Err(_) => None,
                };
                (i, status, t.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get((v.len() * 99).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    match http.get(url).send().await {
        Ok(r) => serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        println!("{} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            failures.push(what);
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let server = S3sServer::start().expect("s3 server");
    server.create_bucket(BUCKET).unwrap();
    let t = Instant::now();
    put_recordings(&server, a.recordings, a.segments).await;
    eprintln!(
        "{} recordings of {} segments on the local S3 server in {:.1} s",
        a.recordings,
        a.segments,
        t.elapsed().as_secs_f64()
    );
    let _nats = (a.queue == "nats").then(|| start_nats(tmp.path()));
    let queue = match &_nats {
        Some((_, url)) => url.clone(),
        None => "sqlite".into(),
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = tmp.path().join("stowage.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
listen = "127.0.0.1:{port}"
state = "{state}"
[jobs]
workers = 4
grace = "15s"
sweep_every = "500ms"
visibility_timeout = "3s"
max_attempts = 5
[[recordings]]
bucket = "s3://{BUCKET}"
prefix = "agora"
"#,
            state = tmp.path().join("state.sqlite").display()
        ),
    )
    .unwrap();
    let setup = Setup {
        stowage: &a.stowage,
        config,
        queue: queue.clone(),
        server: &server,
        logs: tmp.path().to_path_buf(),
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (deliveries, lost) = notifications(a.recordings, &mut rng);
    let indexed: Vec<(usize, Delivery)> = deliveries.iter().cloned().enumerate().collect();
    let good = deliveries.iter().filter(|d| d.good).count();
    println!(
        "scenario {} on {}: {} notifications ({} good, {} bad signatures) for {} recordings, {} without a 31",
        a.scenario,
        a.queue,
        deliveries.len(),
        good,
        deliveries.len() - good,
        a.recordings,
        lost.len()
    );

    let mut receiver;
    let mut workers = Vec::new();
    let mut worker_ports = Vec::new();
    if a.scenario == "worker-crash" {
        receiver = setup.spawn("receiver", "receiver", 0, None);
        for w in 0..3 {
            let p = free_port();
            worker_ports.push(p);
            workers.push(setup.spawn(
                &format!("worker{w}"),
                "worker",
                2,
                Some(&format!("127.0.0.1:{p}")),
            ));
        }
    } else {
        receiver = setup.spawn("serve", "all", 4, None);
    }
    wait_healthy(&http, &base, &mut receiver).await;
    for (p, worker) in worker_ports.iter().zip(&mut workers) {
        wait_healthy(&http, &format!("http://127.0.0.1:{p}"), worker).await;
    }

    let started = Instant::now();
    let mut results: Vec<(usize, Option<u16>, Duration)>;
    match a.scenario.as_str() {
        "receiver-crash" => {
            // Send the first half, then kill the receiver with requests in flight.
            let half = indexed.len() / 2;
            let sending = send_all(&http, &base, &indexed, a.concurrency);
            tokio::pin!(sending);
            let killed_at = tokio::select! {
                r = &mut sending => { results = r; None }
                _ = async {
                    loop {
                        let m = get_json(&http, &format!("{base}/recordings")).await;
                        if m["events"].as_u64().unwrap_or(0) as usize >= half / 2 { break; }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                } => { receiver.kill9(); results = sending.await; Some(()) }
            };
            check(
                killed_at.is_some(),
                "the receiver was killed mid-load".into(),
            );
            let acked: Vec<usize> = results
                .iter()
                .filter(|(_, s, _)| *s == Some(200))
                .map(|(i, _, _)| *i)
                .collect();
            let failed = results.iter().filter(|(_, s, _)| s.is_none()).count();
            println!(
                "before the kill: {} answered 200; {failed} not answered",
                acked.len()
            );
            receiver = setup.spawn("serve-restarted", "all", 4, None);
            wait_healthy(&http, &base, &mut receiver).await;
            // Every notification answered 200 must be there.
            let mut missing = 0;
            let mut by_sid: BTreeMap<&str, Vec<&Delivery>> = BTreeMap::new();
            for i in &acked {
                by_sid
                    .entry(&deliveries[*i].sid)
                    .or_default()
                    .push(&deliveries[*i]);
            }
            for (s, ds) in &by_sid {
                let v = get_json(&http, &format!("{base}/recordings/{s}")).await;
                let have: BTreeSet<(i64, String)> = v["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        (
                            e["event_type"].as_i64().unwrap_or(-1),
                            e["sequence"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect();
                for d in ds.iter().filter(|d| d.good) {
                    if !have.contains(&(d.event_type, d.sequence.to_string())) {
                        missing += 1;
                    }
                }
            }
            check(
                missing == 0,
                format!("every acknowledged notification survived kill -9 ({missing} lost)"),
            );
            // Agora resends what was not answered.
            let again: Vec<(usize, Delivery)> = results
                .iter()
                .filter(|(_, s, _)| s.is_none() || *s == Some(503))
                .map(|(i, _, _)| (*i, deliveries[*i].clone()))
                .collect();
            println!("resending {} unanswered notifications", again.len());
            let more = send_all(&http, &base, &again, a.concurrency).await;
            results.retain(|(_, s, _)| s.is_some() && *s != Some(503));
            results.extend(more);
        }
        "worker-crash" => {
            let sending = send_all(&http, &base, &indexed, a.concurrency);
            tokio::pin!(sending);
            let victim = 0;
            let metrics_url = format!("http://127.0.0.1:{}/metrics", worker_ports[victim]);
            let mut r = None;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                tokio::select! {
                    done = &mut sending, if r.is_none() => { r = Some(done); }
                    _ = tokio::time::sleep(Duration::from_millis(2)) => {}
                }
                let text = http.get(&metrics_url).send().await.ok();
                let running = match text {
                    Some(t) => t.text().await.unwrap_or_default(),
                    None => String::new(),
                };
                let busy = running
                    .lines()
                    .find(|l| l.starts_with("stowage_serve_jobs_running "))
                    .and_then(|l| l.rsplit(' ').next())
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0);
                if busy >= 1.0 {
                    workers[victim].kill9();
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the worker to kill never ran a job"
                );
            }
            results = match r {
                Some(r) => r,
                None => sending.await,
            };
            println!("ok   a worker was killed with a job in hand");
        }
        _ => {
            results = send_all(&http, &base, &indexed, a.concurrency).await;
        }
    }
    let send_time = started.elapsed();

    // Every good delivery 200, every bad one 401.
    let mut last: BTreeMap<usize, Option<u16>> = BTreeMap::new();
    for (i, s, _) in &results {
        last.insert(*i, *s);
    }
    let good_ok = deliveries
        .iter()
        .enumerate()
        .filter(|(i, d)| d.good && last.get(i).copied().flatten() != Some(200))
        .count();
    let bad_401 = deliveries
        .iter()
        .enumerate()
        .filter(|(i, d)| !d.good && last.get(i).copied().flatten() == Some(401))
        .count();
    let bad_total = deliveries.iter().filter(|d| !d.good).count();
    check(
        good_ok == 0,
        format!("every good delivery answered 200 ({good_ok} not)"),
    );
    check(
        bad_401 == bad_total,
        format!("every bad signature answered 401 ({bad_401} of {bad_total})"),
    );
    let latencies: Vec<Duration> = results
        .iter()
        .filter(|(_, s, _)| *s == Some(200))
        .map(|(_, _, d)| *d)
        .collect();
    let accepted = latencies.len();

    // Wait for every recording to be verified.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut uploaded_done_at = None;
    loop {
        let s = get_json(&http, &format!("{base}/recordings")).await;
        let uploaded = s["reports"]["uploaded"].as_u64().unwrap_or(0) as usize;
        if uploaded_done_at.is_none() && uploaded >= a.recordings - lost.len() {
            uploaded_done_at = Some(started.elapsed());
        }
        if s["verified_recordings"].as_u64().unwrap_or(0) as usize >= a.recordings {
            break;
        }
        if Instant::now() > deadline {
            check(false, format!("all recordings verified in time: {s}"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let stragglers (a redelivered job's second report) land before counting.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut once = 0;
    let mut complete = 0;
    let mut swept_ok = 0;
    let mut redelivered = 0;
    for i in 0..a.recordings {
        let s = sid(i);
        let v = get_json(&http, &format!("{base}/recordings/{s}")).await;
        let reports = v["reports"].as_array().cloned().unwrap_or_default();
        if reports.len() == 1 && v["verifications"] == 1 {
            once += 1;
        }
        if reports.iter().all(|r| r["verdict"] == "complete") && !reports.is_empty() {
            complete += 1;
        }
        let reason = reports
            .first()
            .map(|r| r["reason"].clone())
            .unwrap_or(Value::Null);
        if lost.contains(&s) == (reason == "swept") {
            swept_ok += 1;
        }
        if reports
            .iter()
            .any(|r| r["attempt"].as_u64().unwrap_or(0) > 1)
        {
            redelivered += 1;
        }
    }
    check(
        once == a.recordings,
        format!(
            "every recording verified exactly once ({once} of {})",
            a.recordings
        ),
    );
    check(
        complete == a.recordings,
        format!(
            "every verification complete ({complete} of {})",
            a.recordings
        ),
    );
    check(
        swept_ok == a.recordings,
        format!(
            "the {} recordings without a 31 verified by the sweeper, the others by their 31 ({swept_ok} of {})",
            lost.len(),
            a.recordings
        ),
    );
    let summary = get_json(&http, &format!("{base}/recordings")).await;
    let unique_good: BTreeSet<(String, i64, i64)> = deliveries
        .iter()
        .filter(|d| d.good)
        .map(|d| (d.sid.clone(), d.event_type, d.sequence))
        .collect();
    check(
        summary["events"].as_u64() == Some(unique_good.len() as u64),
        format!(
            "events recorded = distinct good events ({} vs {}): duplicates collapsed, bad signatures never recorded",
            summary["events"],
            unique_good.len()
        ),
    );
    let jobs: u64 = summary["jobs"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    check(
        jobs == a.recordings as u64,
        format!("one job per recording ({jobs})"),
    );
    if a.scenario == "worker-crash" {
        check(
            redelivered >= 1,
            format!(
                "the killed worker's job was redelivered and finished ({redelivered} report(s) on attempt ≥ 2)"
            ),
        );
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bad_metric = metrics
        .lines()
        .find(|l| l.contains("ncs_notifications_total") && l.contains("bad_signature"))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or("0")
        .to_string();
    check(
        bad_metric.parse::<f64>().unwrap_or(0.0) as usize == bad_total
            || a.scenario == "receiver-crash",
        format!("bad signatures counted in /metrics ({bad_metric})"),
    );

    println!("--- figures ({} queue, scenario {})", a.queue, a.scenario);
    println!(
        "accepted {accepted} notifications in {:.2} s: {:.0}/s at concurrency {}; p99 of the 200s {:.1} ms",
        send_time.as_secs_f64(),
        accepted as f64 / send_time.as_secs_f64(),
        a.concurrency,
        p99(latencies).as_secs_f64() * 1000.0
    );
    if let Some(t) = uploaded_done_at {
        let n = a.recordings - lost.len();
        println!(
            "{n} recordings of {} segments verified by their 31 within {:.2} s of the first notification: {:.0} recordings/min",
            a.segments,
            t.as_secs_f64(),
            n as f64 / t.as_secs_f64() * 60.0
        );
    }
    drop(receiver);
    drop(workers);
    if !failures.is_empty() {
        eprintln!(
            "{} check(s) failed; logs in {}",
            failures.len(),
            tmp.path().display()
        );
        let _ = tmp.keep();
        std::process::exit(1);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_nats(dir: &Path) -> (Service, String) {
    let bin = std::env::var("STOWAGE_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("nats"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e} (apt-get install nats-server)"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        Service {
            child,
            name: "nats-server".into(),
            log: None,
        },
        format!("nats://127.0.0.1:{port}"),
    )
}
