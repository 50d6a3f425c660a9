//! `stowage-serve` over real sockets: the receiver (signatures, leniency, dedupe, state), the
//! jobs (verify, sweep, repair) against local buckets, and the queue's guarantees on both
//! backends (SQLite, and NATS JetStream on a `nats-server -js` started per test).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{Value, json};
use stowage_core::{ObjectStore, PutBody, PutOptions, Result};
use stowage_fs::FsStore;
use stowage_serve::queue::Queue;
use stowage_serve::signature::{sign_sha1, sign_sha256};
use stowage_serve::{Config, OpenBucket, Options, QueueKind, Role, Running};

const SECRET: &str = "test-ncs-secret-5ecr3t";

// ---------------------------------------------------------------- harness

/// Opens `file://` buckets as local directory stores; counts opens; can be told to fail.
#[derive(Default)]
struct LocalOpener {
    opens: AtomicUsize,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl OpenBucket for LocalOpener {
    async fn open(&self, url: &str) -> Result<Arc<dyn ObjectStore>> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(stowage_core::Error::new(
                stowage_core::ErrorKind::Network,
                "the bucket is unreachable (test)",
            ));
        }
        let path = url.strip_prefix("file://").expect("file:// URL");
        Ok(Arc::new(FsStore::create(path).await?))
    }
}

/// A `nats-server -js` on a free loopback port with its own store directory, stopped on drop.
struct NatsServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `$STOWAGE_NATS_SERVER` (scripts/test sets it) or `nats-server` on the PATH.
fn start_nats() -> NatsServer {
    let bin = std::env::var("STOWAGE_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {bin} ({e}): apt-get install nats-server, or run scripts/test")
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    NatsServer {
        child,
        url: format!("nats://127.0.0.1:{port}"),
        _dir: dir,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Sqlite,
    Nats,
}

const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Nats];

struct Harness {
    dir: tempfile::TempDir,
    running: Option<Running>,
    addr: SocketAddr,
    http: reqwest::Client,
    opener: Arc<LocalOpener>,
    _nats: Option<NatsServer>,
    queue: QueueKind,
    config: Config,
}

impl Harness {
    fn bucket(&self) -> PathBuf {
        self.dir.path().join("bucket")
    }
    fn backup(&self) -> PathBuf {
        self.dir.path().join("backup")
    }
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
    fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    async fn post_raw(&self, path: &str, body: &[u8], headers: &[(&str, String)]) -> (u16, String) {
        let mut req = self.http.post(self.url(path)).body(body.to_vec());
        req = req.header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts a notification signed like Agora does (both headers).
    async fn notify(&self, body: &Value) -> u16 {
        let bytes = serde_json::to_vec(body).unwrap();
        let headers = [
            ("Agora-Signature-V2", sign_sha256(SECRET.as_bytes(), &bytes)),
            ("Agora-Signature", sign_sha1(SECRET.as_bytes(), &bytes)),
        ];
        let (status, text) = self.post_raw("/agora/ncs", &bytes, &headers).await;
        if status == 200 {
            assert_eq!(text, "{}");
        }
        status
    }

    async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the recording has a report with a verdict.
    async fn report(&self, sid: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, v) = self.get_json(&format!("/recordings/{sid}")).await;
            if status == 200 && !v["verdict"].is_null() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no report for {sid} in time: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn restart(&mut self) {
        self.running.take().unwrap().stop().await;
        let opts = Options {
            config: self.config.clone(),
            queue: self.queue.clone(),
            role: Role::All,
            workers: None,
            listen: Some(self.addr.to_string()),
        };
        self.running = Some(
            stowage_serve::start(opts, self.opener.clone() as Arc<dyn OpenBucket>)
                .await
                .unwrap(),
        );
    }
}

fn config_text(dir: &Path, extra_jobs: &str, backup: bool) -> String {
    let backup = if backup {
        format!("backup = \"file://{}\"\n", dir.join("backup").display())
    } else {
        String::new()
    };
    // `[jobs]` defaults for tests, each overridable by a line of `extra_jobs`.
    let mut jobs: Vec<(String, String)> = [
        ("workers", "2"),
        ("grace", "\"1h\""),
        ("sweep_every", "\"200ms\""),
        ("visibility_timeout", "\"2s\""),
        ("max_attempts", "3"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for line in extra_jobs.lines().filter(|l| l.contains('=')) {
        let (k, v) = line.split_once('=').unwrap();
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        jobs.retain(|(old, _)| *old != k);
        jobs.push((k, v));
    }
    let jobs: String = jobs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
state = "{state}"
[ncs]
secret_env = "TEST_NCS_SECRET"
[jobs]
{jobs}
[[recordings]]
bucket = "file://{bucket}"
prefix = "agora/rec"
{backup}"#,
        state = dir.join("state/serve.sqlite").display(),
        bucket = dir.join("bucket").display(),
    )
}

async fn harness_with(backend: Backend, extra_jobs: &str, backup: bool, workers: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), extra_jobs, backup);
    let config = Config::parse(&text, |n| (n == "TEST_NCS_SECRET").then(|| SECRET.into())).unwrap();
    let nats = (backend == Backend::Nats).then(start_nats);
    let queue = match &nats {
        Some(n) => QueueKind::Nats(n.url.clone()),
        None => QueueKind::Sqlite,
    };
    let opener = Arc::new(LocalOpener::default());
    let opts = Options {
        config: config.clone(),
        queue: queue.clone(),
        role: Role::All,
        workers: Some(workers),
        listen: None,
    };
    let running = stowage_serve::start(opts, opener.clone() as Arc<dyn OpenBucket>)
        .await
        .unwrap();
    let addr = running.addr().unwrap();
    Harness {
        dir,
        running: Some(running),
        addr,
        http: reqwest::Client::new(),
        opener,
        _nats: nats,
        queue,
        config,
    }
}

async fn harness(backend: Backend) -> Harness {
    harness_with(backend, "", false, 2).await
}

/// Puts a recording `<prefix>/<sid>_<cname>.m3u8` naming `segments` segments into a bucket
/// directory; returns the playlist's key and the segments' keys.
async fn put_recording(
    root: &Path,
    sid: &str,
    cname: &str,
    segments: usize,
) -> (String, Vec<String>) {
    let store = FsStore::create(root).await.unwrap();
    let mut playlist = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
    let mut keys = Vec::new();
    for i in 0..segments {
        let name = format!("{sid}_{cname}_2024010112000{i}.ts");
        let key = format!("agora/rec/{name}");
        let bytes = Bytes::from(format!("segment {i} of {sid}").repeat(20));
        store
            .put(&key, PutBody::Bytes(bytes), &PutOptions::default())
            .await
            .unwrap();
        playlist.push_str(&format!("#EXTINF:2.000,\n{name}\n"));
        keys.push(key);
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    let key = format!("agora/rec/{sid}_{cname}.m3u8");
    store
        .put(
            &key,
            PutBody::Bytes(Bytes::from(playlist)),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    (key, keys)
}

fn event(sid: &str, event_type: i64, sequence: i64, notice: &str, details: Value) -> Value {
    json!({
        "noticeId": notice,
        "productId": 3,
        "eventType": event_type,
        "notifyMs": 1_700_000_000_000i64 + sequence,
        "payload": {
            "cname": "room", "uid": "527", "sid": sid, "sequence": sequence,
            "sendts": 1_700_000_000_000i64, "serviceType": 0, "details": details,
        }
    })
}

fn uploaded(sid: &str, sequence: i64, notice: &str) -> Value {
    event(
        sid,
        31,
        sequence,
        notice,
        json!({"msgName": "uploaded", "status": 0, "fileList": [
            {"fileName": format!("agora/rec/{sid}_room.m3u8"), "trackType": "audio_and_video",
             "uid": "0", "mixedAllUser": "true", "isPlayable": "true", "sliceStartTime": "1700000000000"}
        ]}),
    )
}

fn count_metric(text: &str, name: &str, label: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

// ---------------------------------------------------------------- receiver

/// ncs.md's signature vector, exactly as given, with a secret of `secret`.
const VECTOR_BODY: &str = r#"{"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f","notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}"#;
const VECTOR_SHA1: &str = "5a3bb6a6d9fad2ea9ae3fb707a14c9d7f3136df1";
const VECTOR_SHA256: &str = "de96da5acf03b0021ac3b4fa2225e7ae6f3533a30d50bb02c08ea4fa748bda24";

#[tokio::test]
async fn the_documented_signature_vectors_are_accepted_and_a_reserialised_body_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), "", false);
    let config = Config::parse(&text, |_| Some("secret".into())).unwrap();
    let opts = Options {
        config,
        queue: QueueKind::Sqlite,
        role: Role::Receiver,
        workers: None,
        listen: None,
    };
    let running = stowage_serve::start(opts, Arc::new(LocalOpener::default()))
        .await
        .unwrap();
    let url = format!("http://{}/agora/ncs", running.addr().unwrap());
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, headers: Vec<(&'static str, &'static str)>| {
        let mut r = http.post(&url).body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        async move {
            let resp = r.send().await.unwrap();
            let status = resp.status().as_u16();
            let ct = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, ct, resp.text().await.unwrap())
        }
    };
    let body = VECTOR_BODY.as_bytes().to_vec();
    let (s, ct, text) = post(body.clone(), vec![("Agora-Signature-V2", VECTOR_SHA256)]).await;
    assert_eq!((s, text.as_str()), (200, "{}"));
    assert_eq!(ct.as_deref(), Some("application/json"));
    let (s, _, _) = post(body.clone(), vec![("Agora-Signature", VECTOR_SHA1)]).await;
    assert_eq!(s, 200);
    // The SHA-1 digest where the SHA-256 one belongs, no header, and a reserialised body.
    let (s, _, _) = post(body.clone(), vec![("Agora-Signature-V2", VECTOR_SHA1)]).await;
    assert_eq!(s, 401);
    let (s, _, _) = post(body.clone(), vec![]).await;
    assert_eq!(s, 401);
    let v: Value = serde_json::from_str(VECTOR_BODY).unwrap();
    let reserialised = serde_json::to_vec_pretty(&v).unwrap();
    let (s, _, text) = post(
        reserialised,
        vec![
            ("Agora-Signature-V2", VECTOR_SHA256),
            ("Agora-Signature", VECTOR_SHA1),
        ],
    )
    .await;
    assert_eq!(s, 401);
    assert!(!text.contains("secret"), "{text}");
    let metrics = http
        .get(format!("http://{}/metrics", running.addr().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        count_metric(
            &metrics,
            "stowage_serve_ncs_notifications_total",
            "bad_signature"
        ),
        3,
        "{metrics}"
    );
    // The vector is an RTC (productId 1) test event: answered, not a recording.
    assert_eq!(
        count_metric(&metrics, "stowage_serve_ncs_notifications_total", "ignored"),
        2
    );
    let summary = running.db().unwrap().summary().await.unwrap();
    assert_eq!(summary["events"], 0);
    running.stop().await;
}

/// `--tls-cert`/`--tls-key` (NCS posts only to https URLs): a client trusting the
/// certificate's CA gets `200 {}` for a signed delivery over HTTPS; plain HTTP on the port and
/// a client that does not trust the certificate get nothing recorded; a key that is not the
/// certificate's, or an unreadable file, is refused at start naming the file.
#[tokio::test]
async fn https_serves_the_given_certificate_and_refuses_a_wrong_key() {
    use stowage_testkit::tls_front::IssuedCertificate;
    let dir = tempfile::tempdir().unwrap();
    let issued = IssuedCertificate::new();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    std::fs::write(&key, &issued.key_pem).unwrap();
    let text = config_text(dir.path(), "", false);
    let mut config = Config::parse(&text, |_| Some(SECRET.into())).unwrap();
    let start = |config: Config| {
        let opts = Options {
            config,
            queue: QueueKind::Sqlite,
            role: Role::Receiver,
            workers: None,
            listen: None,
        };
        stowage_serve::start(opts, Arc::new(LocalOpener::default()))
    };
    config.tls = Some(stowage_serve::TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    });
    let running = start(config.clone()).await.unwrap();
    let port = running.addr().unwrap().port();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(issued.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let body = serde_json::to_vec(&uploaded("STLS", 1, "n1")).unwrap();
    let resp = trusting
        .post(format!("https://localhost:{port}/agora/ncs"))
        .header("Agora-Signature-V2", sign_sha256(SECRET.as_bytes(), &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "{}");
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let refused = plain
        .post(format!("http://127.0.0.1:{port}/agora/ncs"))
        .body(body.clone())
        .send()
        .await;
    assert!(refused.is_err(), "plain HTTP was answered: {refused:?}");
    let untrusting = reqwest::Client::new()
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await;
    assert!(untrusting.is_err(), "an unknown CA was trusted");
    let summary = running.db().unwrap().summary().await.unwrap();
    assert_eq!(summary["events"], 1, "{summary}");
    running.stop().await;

    let other = IssuedCertificate::new();
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let mut wrong = config.clone();
    wrong.tls = Some(stowage_serve::TlsFiles {
        cert: cert.clone(),
        key: other_key.clone(),
    });
    let err = start(wrong)
        .await
        .err()
        .expect("a wrong key was taken")
        .to_string();
    assert!(err.contains("does not fit"), "{err}");
    assert!(err.contains(&other_key.display().to_string()), "{err}");
    let mut missing = config;
    missing.tls = Some(stowage_serve::TlsFiles {
        cert: dir.path().join("absent.pem"),
        key,
    });
    let err = start(missing)
        .await
        .err()
        .expect("an absent file was taken")
        .to_string();
    assert!(err.contains("absent.pem") && err.contains("PEM"), "{err}");
    let half = text.replace("[server]\n", "[server]\ntls_cert = \"/x/cert.pem\"\n");
    let err = Config::parse(&half, |_| Some(SECRET.into()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("without its key"), "{err}");
}

#[tokio::test]
async fn bad_signatures_are_never_recorded_or_enqueued() {
    let h = harness(Backend::Sqlite).await;
    let body = serde_json::to_vec(&uploaded("SBAD", 1, "n1")).unwrap();
    let wrong = sign_sha256(b"not-the-secret", &body);
    let (s, _) = h
        .post_raw("/agora/ncs", &body, &[("Agora-Signature-V2", wrong)])
        .await;
    assert_eq!(s, 401);
    let (s, _) = h.get_json("/recordings/SBAD").await;
    assert_eq!(s, 404);
    let (_, summary) = h.get_json("/recordings").await;
    assert_eq!(summary["events"], 0);
    assert_eq!(summary["jobs"], json!({}));
    let m = h.metrics().await;
    assert!(!m.contains(SECRET));
    h.running.unwrap().stop().await;
}

#[tokio::test]
async fn duplicates_are_one_event_and_state_follows_the_events() {
    let h = harness(Backend::Sqlite).await;
    put_recording(&h.bucket(), "S1", "room", 3).await;
    let started = event("S1", 40, 0, "a", json!({"msgName": "recorder_started"}));
    assert_eq!(h.notify(&started).await, 200);
    // The same event again under another noticeId (redundant delivery), and 42 with a hole.
    let mut copy = started.clone();
    copy["noticeId"] = json!("b");
    assert_eq!(h.notify(&copy).await, 200);
    let gap = event(
        "S1",
        42,
        1,
        "c",
        json!({"startUtcMs": "1700000030000", "discontinueUtcMs": 1700000020000i64}),
    );
    assert_eq!(h.notify(&gap).await, 200);
    let left = event("S1", 41, 2, "d", json!({"leaveCode": 20}));
    assert_eq!(h.notify(&left).await, 200);
    // fileList as a string, numbers as strings: lenient.
    let mut up = event(
        "S1",
        31,
        3,
        "e",
        json!({"status": "0", "fileList": "agora/rec/S1_room.m3u8"}),
    );
    up["eventType"] = json!("31");
    assert_eq!(h.notify(&up).await, 200);
    let mut up2 = up.clone();
    up2["noticeId"] = json!("f");
    assert_eq!(h.notify(&up2).await, 200);

    let v = h.report("S1", Duration::from_secs(20)).await;
    assert_eq!(v["verdict"], "complete", "{v}");
    assert_eq!(v["verifications"], 1);
    assert!(v["started_ms"].is_i64());
    assert!(v["uploaded_ms"].is_i64());
    assert_eq!(v["leave_code"], 20);
    assert_eq!(v["leave_reasons"], json!(["NO_USERS", "CLIENT_LEAVE"]));
    assert_eq!(
        v["lost_slices"],
        json!([{"after_ms": 1700000020000i64, "resumed_ms": 1700000030000i64}])
    );
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 4, "{v}");
    let copies: Vec<i64> = events
        .iter()
        .map(|e| e["copies"].as_i64().unwrap())
        .collect();
    assert_eq!(copies.iter().sum::<i64>(), 6);
    let report = &v["reports"][0]["report"];
    assert_eq!(report["expected_from"], "file_list");
    // The playlist Agora named, and the 3 segments it names, all there.
    assert_eq!(report["report"]["checked"], 4, "{report}");
    assert_eq!(report["report"]["problems"], json!([]), "{report}");
    assert_eq!(report["report"]["duration_secs"], 6.0, "{report}");
    assert_eq!(report["lost_slices"][0]["after_ms"], 1700000020000i64);
    let m = h.metrics().await;
    assert_eq!(
        count_metric(&m, "stowage_serve_ncs_notifications_total", "duplicate"),
        2
    );
    assert_eq!(
        count_metric(&m, "stowage_serve_ncs_notifications_total", "accepted"),
        4
    );
    h.running.unwrap().stop().await;
}

#[tokio::test]
async fn an_acknowledged_event_survives_a_restart() {
    let mut h = harness(Backend::Sqlite).await;
    assert_eq!(h.notify(&event("S9", 40, 0, "a", json!({}))).await, 200);
    h.restart().await;
    let (s, v) = h.get_json("/recordings/S9").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    h.running.unwrap().stop().await;
}

// ---------------------------------------------------------------- jobs, both backends

#[tokio::test]
async fn uploaded_recordings_are_verified_once_and_missing_objects_named() {
    for backend in BACKENDS {
        let h = harness(backend).await;
        put_recording(&h.bucket(), "OK1", "room", 2).await;
        let (_, segs) = put_recording(&h.bucket(), "BAD1", "room", 3).await;
        std::fs::remove_file(h.bucket().join(&segs[1])).unwrap();
        for sid in ["OK1", "BAD1"] {
            assert_eq!(h.notify(&uploaded(sid, 5, "x")).await, 200);
            assert_eq!(h.notify(&uploaded(sid, 5, "y")).await, 200);
        }
        let ok = h.report("OK1", Duration::from_secs(30)).await;
        assert_eq!(ok["verdict"], "complete", "{backend:?}: {ok}");
        let bad = h.report("BAD1", Duration::from_secs(30)).await;
        assert_eq!(bad["verdict"], "incomplete", "{backend:?}: {bad}");
        let keys = &bad["reports"][0]["report"]["problem_keys"];
        assert!(keys.as_array().unwrap().contains(&json!(segs[1])), "{bad}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, summary) = h.get_json("/recordings").await;
        assert_eq!(summary["reports"]["uploaded"], 2, "{backend:?}: {summary}");
        h.running.unwrap().stop().await;
    }
}

#[tokio::test]
async fn the_sweeper_verifies_recordings_whose_upload_event_never_came() {
    for backend in BACKENDS {
        let h = harness_with(backend, "grace = \"1s\"", false, 2).await;
        put_recording(&h.bucket(), "LOST", "room", 2).await;
        assert_eq!(h.notify(&event("LOST", 40, 0, "a", json!({}))).await, 200);
        assert_eq!(h.notify(&event("NONE", 40, 0, "b", json!({}))).await, 200);
        // Not before the grace period.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (_, v) = h.get_json("/recordings/LOST").await;
        assert!(v["verdict"].is_null(), "{v}");
        let v = h.report("LOST", Duration::from_secs(30)).await;
        assert_eq!(v["verdict"], "complete", "{backend:?}: {v}");
        assert_eq!(v["reports"][0]["reason"], "swept");
        assert_eq!(v["reports"][0]["report"]["expected_from"], "listing");
        // Nothing at all in the bucket: its conventional playlist is named missing.
        let v = h.report("NONE", Duration::from_secs(30)).await;
        assert_eq!(v["verdict"], "incomplete", "{v}");
        assert_eq!(
            v["reports"][0]["report"]["problem_keys"],
            json!(["agora/rec/NONE_room.m3u8"])
        );
        // A late 31 does not verify a second time.
        assert_eq!(h.notify(&uploaded("LOST", 9, "z")).await, 200);
        tokio::time::sleep(Duration::from_millis(800)).await;
        let (_, v) = h.get_json("/recordings/LOST").await;
        assert_eq!(v["verifications"], 1, "{v}");
        h.running.unwrap().stop().await;
    }
}

#[tokio::test]
async fn a_damaged_recording_is_repaired_from_the_backup() {
    for backend in BACKENDS {
        let h = harness_with(backend, "", true, 1).await;
        put_recording(&h.backup(), "R1", "room", 3).await;
        let (_, segs) = put_recording(&h.bucket(), "R1", "room", 3).await;
        std::fs::remove_file(h.bucket().join(&segs[0])).unwrap();
        std::fs::write(h.bucket().join(&segs[2]), b"truncated").unwrap();
        assert_eq!(h.notify(&uploaded("R1", 1, "n")).await, 200);
        let v = h.report("R1", Duration::from_secs(30)).await;
        assert_eq!(v["verdict"], "repaired", "{backend:?}: {v}");
        let r = &v["reports"][0]["report"];
        assert!(!r["report"]["problems"].as_array().unwrap().is_empty());
        assert_eq!(r["after_repair"]["problems"], json!([]), "{r}");
        assert!(h.bucket().join(&segs[0]).is_file());
        h.running.unwrap().stop().await;
    }
}

#[tokio::test]
async fn a_job_that_cannot_run_is_retried_then_dead_lettered() {
    for backend in BACKENDS {
        let h = harness_with(backend, "max_attempts = 2", false, 1).await;
        h.opener.fail.store(true, Ordering::SeqCst);
        assert_eq!(h.notify(&uploaded("DEAD", 1, "n")).await, 200);
        let v = h.report("DEAD", Duration::from_secs(30)).await;
        assert_eq!(v["verdict"], "dead", "{backend:?}: {v}");
        assert_eq!(v["reports"][0]["attempt"], 2);
        let err = v["reports"][0]["report"]["error"].as_str().unwrap();
        assert!(err.contains("unreachable"), "{err}");
        assert_eq!(h.opener.opens.load(Ordering::SeqCst), 2);
        let m = h.metrics().await;
        assert_eq!(
            count_metric(&m, "stowage_serve_job_retries_total", ""),
            1,
            "{m}"
        );
        h.running.unwrap().stop().await;
    }
}

#[tokio::test]
async fn sampled_recordings_are_verified_again_later() {
    let h = harness_with(
        Backend::Sqlite,
        "reverify_sample = 1.0\nreverify_after = \"500ms\"",
        false,
        1,
    )
    .await;
    put_recording(&h.bucket(), "RV", "room", 1).await;
    assert_eq!(h.notify(&uploaded("RV", 1, "n")).await, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = h.get_json("/recordings/RV").await;
        let reasons: Vec<&str> = v["reports"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["reason"].as_str()).collect())
            .unwrap_or_default();
        if reasons == ["uploaded", "reverify"] {
            assert_eq!(v["verifications"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.running.unwrap().stop().await;
}

/// The queue's contract, straight through the trait: a delivery not finished comes back
/// after the visibility timeout with its attempt counted; a finished one never does.
#[tokio::test]
async fn an_unfinished_job_is_redelivered_after_the_visibility_timeout() {
    for backend in BACKENDS {
        // No workers: the test is the worker.
        let h = harness_with(backend, "", false, 0).await;
        assert_eq!(h.notify(&uploaded("Q1", 1, "n")).await, 200);
        let vt = h.config.jobs.visibility_timeout;
        let queue: Arc<dyn Queue> = match &h.queue {
            QueueKind::Sqlite => Arc::new(stowage_serve::queue::sqlite::SqliteQueue::new(
                h.running().db().unwrap().clone(),
                vt,
            )),
            QueueKind::Nats(url) => Arc::new(
                stowage_serve::queue::nats::Nats::connect(url, vt)
                    .await
                    .unwrap()
                    .queue()
                    .await
                    .unwrap(),
            ),
        };
        let first = next(&queue).await;
        assert_eq!(first.job().key, "verify:Q1");
        assert_eq!(first.attempt(), 1);
        let t = Instant::now();
        drop(first); // a worker killed mid-job
        // Nobody else gets it while the lease holds.
        assert!(queue.next("w2").await.unwrap().is_none(), "{backend:?}");
        let second = next(&queue).await;
        assert!(
            t.elapsed() >= vt - Duration::from_millis(300),
            "{backend:?} {:?}",
            t.elapsed()
        );
        assert_eq!(second.job().key, "verify:Q1");
        assert_eq!(second.attempt(), 2);
        let report = stowage_serve::job::StoredReport {
            job_key: second.job().key.clone(),
            sid: "Q1".into(),
            reason: second.job().reason,
            verdict: "complete".into(),
            attempt: 2,
            worker: "test".into(),
            finished_ms: 0,
            body: json!({}),
        };
        second.finish(report).await.unwrap();
        tokio::time::sleep(vt + Duration::from_millis(500)).await;
        assert!(queue.next("w3").await.unwrap().is_none(), "{backend:?}");
        let v = h.report("Q1", Duration::from_secs(10)).await;
        assert_eq!(v["verdict"], "complete");
        h.running.unwrap().stop().await;
    }
}

async fn next(queue: &Arc<dyn Queue>) -> Box<dyn stowage_serve::queue::Delivery> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(d) = queue.next("test").await.unwrap() {
            return d;
        }
        assert!(Instant::now() < deadline, "no job delivered");
    }
}
