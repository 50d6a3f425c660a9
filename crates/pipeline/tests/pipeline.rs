//! The upload pipeline end to end on real stores: the local directory, S3 on s3s-fs and on
//! moto, Google Cloud Storage on fake-gcs-server, Azure Blob on Azurite, through the fault proxy, with an unreachable primary, and against the deadline;
//! `pipeline/journal.rs`: damaged journals and the one-uploader-per-spool lock.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use stowage_core::retry::RetryPolicy;
use stowage_core::upload::UploadConfig;
use stowage_core::{
    Capabilities, Credentials, ErrorKind, GetResult, ListPage, ListRequest, MultipartUpload,
    ObjectMeta, ObjectStore, PartInfo, PutBody, PutOptions, Result,
};
use stowage_fs::FsStore;
use stowage_pipeline::journal::State;
use stowage_pipeline::{Event, Options, Status, Targets, restore, upload_recording};
use stowage_s3::{S3Config, S3Store};
use stowage_testkit::conformance::pseudo_random;
use stowage_testkit::hooked::{Hooked, Hooks};
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};
use stowage_testkit::s3s_server::S3sServer;

#[path = "pipeline/fail_closed.rs"]
mod fail_closed;
#[path = "pipeline/journal.rs"]
mod journal;
#[path = "pipeline/live.rs"]
mod live;

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A recording: `n` segments of `seg_size` bytes named the Agora way, a playlist naming
/// them, and optionally one big MP4.
fn recording(dir: &Path, n: usize, seg_size: usize, mp4: Option<usize>) -> Vec<String> {
    let mut names = Vec::new();
    let mut playlist = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
    for i in 0..n {
        let name = format!("sid_chan_2026112410{:02}{:02}000.ts", i / 30, (i % 30) * 2);
        std::fs::write(dir.join(&name), pseudo_random(seg_size, i as u64 + 1)).unwrap();
        playlist.push_str(&format!("#EXTINF:2.000\n{name}\n"));
        names.push(name);
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(dir.join("sid_chan.m3u8"), playlist).unwrap();
    names.push("sid_chan.m3u8".into());
    if let Some(size) = mp4 {
        std::fs::write(dir.join("sid_chan_0.mp4"), pseudo_random(size, 99)).unwrap();
        names.push("sid_chan_0.mp4".into());
    }
    names.sort();
    names
}

fn fast_options(prefix: &str) -> Options {
    Options {
        prefix: prefix.into(),
        retry: RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
        },
        upload: UploadConfig {
            multipart_threshold: 6 << 20,
            part_size: 5 << 20,
            concurrency: 3,
            part_retry: RetryPolicy::immediate(2),
        },
        ..Options::default()
    }
}

/// Every expected object is in `store` with the local bytes, and nothing else is there
/// (but the manifest).
async fn assert_bucket_matches(
    store: &dyn ObjectStore,
    dir: &Path,
    prefix: &str,
    names: &[String],
) {
    let listed: Vec<String> = store
        .list_all(prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    let mut expected: Vec<String> = names
        .iter()
        .map(|n| stowage_pipeline::plan::key_for(prefix, n))
        .collect();
    expected.push(stowage_pipeline::plan::key_for(
        prefix,
        "stowage-manifest.json",
    ));
    expected.sort();
    assert_eq!(
        listed, expected,
        "the bucket holds exactly the recording and its manifest"
    );
    for n in names {
        let key = stowage_pipeline::plan::key_for(prefix, n);
        let got = store.get(&key, None).await.unwrap().bytes().await.unwrap();
        assert!(
            got[..] == std::fs::read(dir.join(n)).unwrap()[..],
            "{key} differs"
        );
    }
}

async fn s3s_store(endpoint: &str, bucket: &str, max_attempts: u32) -> S3Store {
    let server = S3sServer::shared();
    S3Store::new(S3Config {
        bucket: bucket.into(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.into()),
        force_path_style: true,
        credentials: Some(Credentials::new(server.access_key(), server.secret_key())),
        profile: None,
        max_attempts,
        integrity: Default::default(),
        ca_bundle: None,
    })
    .await
    .unwrap()
}

fn recorder() -> (stowage_pipeline::EventSink, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    (
        Arc::new(move |e: &Event| sink_seen.lock().unwrap().push(e.clone())),
        seen,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_bucket_end_to_end_and_nothing_sent_twice() {
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 5, 1000, None);
    let bucket = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let targets = Targets {
        primary: store.clone(),
        backup: None,
    };
    let summary = upload_recording(spool.path(), &targets, &fast_options("rec/a"))
        .await
        .unwrap();
    assert_eq!(
        (summary.status, summary.objects, summary.in_primary),
        (Status::Uploaded, names.len(), names.len())
    );
    assert_eq!(summary.playlists_published, ["rec/a/sid_chan.m3u8"]);
    assert_bucket_matches(store.as_ref(), spool.path(), "rec/a", &names).await;
    let manifest: serde_json::Value = serde_json::from_slice(
        &store
            .get("rec/a/stowage-manifest.json", None)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["objects"].as_array().unwrap().len(), names.len());
    assert_eq!(manifest["status"], "uploaded");
    assert!(manifest["objects"][0]["checksums"]["crc64ecma"].is_string());

    let (sink, seen) = recorder();
    let again = upload_recording(
        spool.path(),
        &targets,
        &Options {
            events: Some(sink),
            ..fast_options("rec/a")
        },
    )
    .await
    .unwrap();
    assert_eq!(again.status, Status::Uploaded);
    let sent = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Sending { .. }))
        .count();
    assert_eq!(sent, 0, "a second run must send nothing");
}

/// Records, at every playlist put, whether all segments it names are already in the store.
#[derive(Debug)]
struct Watching {
    /// The same bucket without faults, to look at what is really there.
    truth: Arc<dyn ObjectStore>,
    violations: Mutex<Vec<String>>,
    playlist_puts: AtomicU32,
}

impl Watching {
    fn new(inner: Arc<dyn ObjectStore>, truth: Arc<dyn ObjectStore>) -> Arc<Hooked<Watching>> {
        let hooks = Watching {
            truth,
            violations: Mutex::default(),
            playlist_puts: AtomicU32::new(0),
        };
        Hooked::new(inner, hooks)
    }
}

#[async_trait]
impl Hooks for Watching {
    async fn before_put(&self, key: &str, playlist: Option<String>) -> Result<()> {
        let Some(text) = playlist else {
            return Ok(());
        };
        self.playlist_puts.fetch_add(1, Ordering::SeqCst);
        let base = key
            .rsplit_once('/')
            .map_or(String::new(), |(d, _)| format!("{d}/"));
        for seg in stowage_hls::parse(&text).unwrap().segments {
            if let Err(e) = self.truth.head(&format!("{base}{}", seg.uri)).await {
                self.violations
                    .lock()
                    .unwrap()
                    .push(format!("{key} published before {}: {e}", seg.uri));
            }
        }
        Ok(())
    }
}

/// 20 % of requests fail (503, connection resets, stalls): every object still arrives
/// intact, once, and no playlist is ever put before its segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_through_twenty_percent_faults() {
    let server = S3sServer::shared();
    let bucket = unique("faults");
    server.create_bucket(&bucket).unwrap();
    let rules = vec![
        FaultRule::new(
            Match::Any,
            Fault::s3_error(503, "SlowDown", "reduce your request rate"),
            Times::Rate {
                probability: 0.08,
                seed: 7,
            },
        ),
        FaultRule::new(
            Match::Any,
            Fault::Reset,
            Times::Rate {
                probability: 0.08,
                seed: 8,
            },
        ),
        FaultRule::new(
            Match::Any,
            Fault::Delay(Duration::from_millis(300)),
            Times::Rate {
                probability: 0.04,
                seed: 9,
            },
        ),
    ];
    let proxy = FaultProxy::start(server.endpoint(), rules).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 40, 64 << 10, Some(13 << 20));
    let through: Arc<dyn ObjectStore> = Arc::new(s3s_store(proxy.endpoint(), &bucket, 2).await);
    let truth: Arc<dyn ObjectStore> = Arc::new(s3s_store(server.endpoint(), &bucket, 3).await);
    let watching = Watching::new(through, truth);
    let targets = Targets {
        primary: watching.clone(),
        backup: None,
    };
    let summary = upload_recording(
        spool.path(),
        &targets,
        &Options {
            retry: RetryPolicy {
                max_attempts: 10,
                ..fast_options("").retry
            },
            ..fast_options("live/x")
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.status, Status::Uploaded, "{summary:?}");
    assert!(
        proxy.faults_injected() > 10,
        "only {} faults were injected",
        proxy.faults_injected()
    );
    assert!(watching.hooks.playlist_puts.load(Ordering::SeqCst) >= 1);
    assert!(
        watching.hooks.violations.lock().unwrap().is_empty(),
        "{:?}",
        watching.hooks.violations.lock().unwrap()
    );
    let direct = s3s_store(server.endpoint(), &bucket, 3).await;
    assert_bucket_matches(&direct, spool.path(), "live/x", &names).await;
    assert!(
        direct.list_multipart_uploads("").await.unwrap().is_empty(),
        "no multipart upload left behind"
    );
}

/// Uploads a 40-segment recording with a 13 MiB MP4 through a proxy in front of `server`
/// that fails 20 % of requests (`unavailable`, resets, stalls; seeds from `seed`), with a
/// store `open`ed on the proxy's endpoint, and checks the run: uploaded, enough faults
/// injected, no playlist before its segments, the bucket (seen through `truth`) holding
/// exactly the recording. Returns the spool.
async fn upload_through_faults(
    server: &str,
    unavailable: Fault,
    seed: u64,
    open: impl Fn(&str) -> Arc<dyn ObjectStore>,
    truth: Arc<dyn ObjectStore>,
    prefix: &str,
) -> tempfile::TempDir {
    let rate = |probability, n| Times::Rate {
        probability,
        seed: seed + n,
    };
    let rules = vec![
        FaultRule::new(Match::Any, unavailable, rate(0.08, 0)),
        FaultRule::new(Match::Any, Fault::Reset, rate(0.08, 1)),
        FaultRule::new(
            Match::Any,
            Fault::Delay(Duration::from_millis(300)),
            rate(0.04, 2),
        ),
    ];
    let proxy = FaultProxy::start(server, rules).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 40, 64 << 10, Some(13 << 20));
    let watching = Watching::new(open(proxy.endpoint()), truth.clone());
    let targets = Targets {
        primary: watching.clone(),
        backup: None,
    };
    let options = Options {
        retry: RetryPolicy {
            max_attempts: 10,
            ..fast_options("").retry
        },
        ..fast_options(prefix)
    };
    let summary = upload_recording(spool.path(), &targets, &options)
        .await
        .unwrap();
    assert_eq!(summary.status, Status::Uploaded, "{summary:?}");
    assert!(
        proxy.faults_injected() >= 8 && proxy.faults_injected() * 8 >= proxy.requests_seen(),
        "only {} faults were injected in {} requests",
        proxy.faults_injected(),
        proxy.requests_seen()
    );
    assert!(watching.hooks.playlist_puts.load(Ordering::SeqCst) >= 1);
    assert!(
        watching.hooks.violations.lock().unwrap().is_empty(),
        "{:?}",
        watching.hooks.violations.lock().unwrap()
    );
    assert_bucket_matches(truth.as_ref(), spool.path(), prefix, &names).await;
    spool
}

fn gcs_store(endpoint: &str, bucket: &str) -> stowage_gcs::GcsStore {
    let mut cfg = stowage_gcs::GcsConfig::new(bucket, stowage_gcs::GcsAuth::Anonymous);
    cfg.endpoint = Some(endpoint.into());
    cfg.retry = RetryPolicy {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
    };
    stowage_gcs::GcsStore::new(cfg).unwrap()
}

/// The same on Google Cloud Storage (fake-gcs-server): 20 % of requests fail (GCS's 503
/// document, resets, stalls), the MP4 goes up in composed parts, every object arrives
/// intact and proven, no playlist before its segments, no part left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_through_twenty_percent_faults() {
    let server = stowage_testkit::fake_gcs::FakeGcs::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = unique("gfaults");
    gcs_store(server.endpoint(), &bucket)
        .create_bucket("stowage-test")
        .await
        .unwrap();
    let unavailable = Fault::Status {
        status: 503,
        body: r#"{"error":{"code":503,"message":"We encountered an internal error. Please try again.","errors":[{"reason":"backendError"}]}}"#.into(),
        headers: vec![("content-type".into(), "application/json".into())],
    };
    let truth: Arc<dyn ObjectStore> = Arc::new(gcs_store(server.endpoint(), &bucket));
    let spool = upload_through_faults(
        server.endpoint(),
        unavailable,
        17,
        |endpoint| Arc::new(gcs_store(endpoint, &bucket)),
        truth.clone(),
        "live/g",
    )
    .await;
    let mp4 = truth.head("live/g/sid_chan_0.mp4").await.unwrap();
    let local = stowage_core::checksum::checksum_bytes(
        &std::fs::read(spool.path().join("sid_chan_0.mp4")).unwrap(),
        &[stowage_core::ChecksumAlgo::Crc32c],
    );
    assert_eq!(
        mp4.checksums.crc32c, local.crc32c,
        "the composed MP4's CRC-32C"
    );
    assert!(
        truth.list_multipart_uploads("").await.unwrap().is_empty(),
        "no part left behind"
    );
}

fn azure_store(endpoint: &str, container: &str) -> stowage_azure::AzureStore {
    use stowage_testkit::azurite::{ACCOUNT, ACCOUNT_KEY};
    let auth = stowage_azure::AzureAuth::Key(ACCOUNT_KEY.to_string());
    let mut cfg = stowage_azure::AzureConfig::new(ACCOUNT, container, auth);
    cfg.endpoint = Some(endpoint.into());
    cfg.retry = RetryPolicy {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
    };
    stowage_azure::AzureStore::new(cfg).unwrap()
}

/// The same on Azure Blob (Azurite): 20 % of requests fail (Azure's 503 ServerBusy, resets,
/// stalls), the MP4 goes up in blocks, every object arrives intact and proven, no playlist
/// before its segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_through_twenty_percent_faults() {
    let server = stowage_testkit::azurite::Azurite::shared().unwrap_or_else(|e| panic!("{e}"));
    let container = unique("afaults").to_ascii_lowercase();
    azure_store(server.endpoint(), &container)
        .create_container()
        .await
        .unwrap();
    let busy = Fault::Status {
        status: 503,
        body: "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ServerBusy</Code><Message>The server is currently unable to receive requests. Please retry your request.</Message></Error>".into(),
        headers: vec![
            ("content-type".into(), "application/xml".into()),
            ("x-ms-error-code".into(), "ServerBusy".into()),
            ("x-ms-request-id".into(), "00000000-0000-0000-0000-000000000000".into()),
        ],
    };
    let truth: Arc<dyn ObjectStore> = Arc::new(azure_store(server.endpoint(), &container));
    upload_through_faults(
        server.endpoint(),
        busy,
        27,
        |endpoint| Arc::new(azure_store(endpoint, &container)),
        truth.clone(),
        "live/a",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_end_to_end_with_multipart() {
    let server = stowage_testkit::moto::MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = unique("pipe");
    let store = S3Store::new(S3Config {
        bucket: bucket.clone(),
        region: Some("us-east-1".into()),
        endpoint: Some(server.endpoint().into()),
        force_path_style: true,
        credentials: Some(Credentials::new("testing", "testing")),
        profile: None,
        max_attempts: 3,
        integrity: Default::default(),
        ca_bundle: None,
    })
    .await
    .unwrap();
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 6, 100_000, Some(12 << 20));
    let targets = Targets {
        primary: Arc::new(store.clone()),
        backup: None,
    };
    let summary = upload_recording(spool.path(), &targets, &fast_options(""))
        .await
        .unwrap();
    assert_eq!(summary.status, Status::Uploaded, "{summary:?}");
    assert_bucket_matches(&store, spool.path(), "", &names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_naming_a_missing_segment_is_held() {
    let spool = tempfile::tempdir().unwrap();
    recording(spool.path(), 3, 100, None);
    std::fs::remove_file(spool.path().join("sid_chan_20261124100002000.ts")).unwrap();
    let bucket = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let summary = upload_recording(
        spool.path(),
        &Targets {
            primary: store.clone(),
            backup: None,
        },
        &fast_options(""),
    )
    .await
    .unwrap();
    assert_eq!(summary.status, Status::Incomplete);
    assert_eq!(summary.playlists_held.len(), 1);
    assert!(
        summary.playlists_held[0]
            .1
            .contains("sid_chan_20261124100002000.ts"),
        "{:?}",
        summary.playlists_held
    );
    assert_eq!(
        store.head("sid_chan.m3u8").await.unwrap_err().kind(),
        &ErrorKind::NotFound
    );
}

/// The primary is unreachable for the whole recording: everything lands in the backup,
/// playable there; `restore` later moves it all to the primary and empties the backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_primary_means_backup_then_restore() {
    let server = S3sServer::shared();
    let bucket = unique("restore");
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 4, 5000, Some(7 << 20));
    let backup_dir = tempfile::tempdir().unwrap();
    let backup: Arc<dyn ObjectStore> = Arc::new(FsStore::create(backup_dir.path()).await.unwrap());
    let dead: Arc<dyn ObjectStore> = Arc::new(s3s_store("http://127.0.0.1:9", &bucket, 1).await);
    let opts = Options {
        retry: RetryPolicy::immediate(2),
        ..fast_options("r")
    };
    let summary = upload_recording(
        spool.path(),
        &Targets {
            primary: dead,
            backup: Some(backup.clone()),
        },
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(summary.status, Status::Backuped, "{summary:?}");
    assert_eq!(summary.in_backup.len(), names.len());
    assert_eq!(
        summary.playlists_published,
        ["r/sid_chan.m3u8"],
        "published to the backup, which holds every segment"
    );
    assert_bucket_matches(backup.as_ref(), spool.path(), "r", &names).await;

    server.create_bucket(&bucket).unwrap();
    let alive: Arc<dyn ObjectStore> = Arc::new(s3s_store(server.endpoint(), &bucket, 3).await);
    let restored = restore(
        spool.path(),
        &Targets {
            primary: alive.clone(),
            backup: Some(backup.clone()),
        },
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(restored.status, Status::Uploaded, "{restored:?}");
    assert_bucket_matches(alive.as_ref(), spool.path(), "r", &names).await;
    let left: Vec<String> = backup
        .list_all("r/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(
        left,
        ["r/stowage-manifest.json"],
        "the backup keeps only the old manifest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_leaves_the_rest_in_the_spool_and_a_rerun_finishes() {
    let server = S3sServer::shared();
    let bucket = unique("deadline");
    server.create_bucket(&bucket).unwrap();
    let stall = FaultRule::new(
        Match::request("PUT", "/"),
        Fault::Delay(Duration::from_millis(400)),
        Times::Always,
    );
    let proxy = FaultProxy::start(server.endpoint(), vec![stall]).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 12, 1000, None);
    let slow: Arc<dyn ObjectStore> = Arc::new(s3s_store(proxy.endpoint(), &bucket, 3).await);
    let opts = Options {
        deadline: Some(Duration::from_millis(600)),
        concurrency: 2,
        ..fast_options("")
    };
    let summary = upload_recording(
        spool.path(),
        &Targets {
            primary: slow.clone(),
            backup: None,
        },
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(summary.status, Status::Incomplete);
    assert!(
        !summary.pending.is_empty() && summary.pending.len() < names.len(),
        "{summary:?}"
    );
    assert!(
        names.iter().all(|n| spool.path().join(n).exists()),
        "nothing is deleted"
    );
    proxy.set_rules(Vec::new());
    let done = upload_recording(
        spool.path(),
        &Targets {
            primary: slow,
            backup: None,
        },
        &fast_options(""),
    )
    .await
    .unwrap();
    assert_eq!(done.status, Status::Uploaded, "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_after_verify_removes_only_confirmed_files() {
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 3, 100, None);
    let keep: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (n.clone(), std::fs::read(spool.path().join(n)).unwrap()))
        .collect();
    let bucket = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let summary = upload_recording(
        spool.path(),
        &Targets {
            primary: store.clone(),
            backup: None,
        },
        &Options {
            delete_after_verify: true,
            ..fast_options("")
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.status, Status::Uploaded);
    for (n, bytes) in keep {
        assert!(!spool.path().join(&n).exists(), "{n} was not deleted");
        assert_eq!(
            store.get(&n, None).await.unwrap().bytes().await.unwrap()[..],
            bytes[..]
        );
    }
    let journal = stowage_pipeline::journal::Journal::open(&journal_path(spool.path())).unwrap();
    assert!(
        journal
            .all()
            .unwrap()
            .iter()
            .all(|e| e.state == State::Primary)
    );
}

fn journal_path(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join(".stowage"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "sqlite"))
        .expect("a journal")
}

/// `watch` follows a recorder: segments go up as they are finished, the bucket's playlist
/// grows (never naming a segment it does not hold) and ends as the recorder's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_follows_a_recorder_and_keeps_the_playlist_honest() {
    let spool = tempfile::tempdir().unwrap();
    let bucket = tempfile::tempdir().unwrap();
    let fs: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let watching = Watching::new(fs.clone(), fs.clone());
    let targets = Targets {
        primary: watching.clone(),
        backup: None,
    };
    let w = stowage_pipeline::WatchOptions {
        poll: Duration::from_millis(40),
        stable_for: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(10),
        playlist_every: Duration::from_millis(60),
        stop: Arc::default(),
        restore_every: None,
        close_on_idle: true,
    };
    let dir = spool.path().to_path_buf();
    let recorder = tokio::spawn(async move {
        let mut names = Vec::new();
        for i in 0..10 {
            let name = format!("sid_chan_202611241000{:02}000.ts", i * 2);
            tokio::fs::write(dir.join(&name), pseudo_random(50_000, i + 1))
                .await
                .unwrap();
            names.push(name);
            let mut text =
                String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:EVENT\n");
            for n in &names {
                text.push_str(&format!("#EXTINF:2.0,\n{n}\n"));
            }
            tokio::fs::write(dir.join("sid_chan.m3u8"), &text)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(80)).await;
        }
        tokio::fs::write(dir.join("notes.json"), b"{}")
            .await
            .unwrap(); // named by no playlist
        let mut text = tokio::fs::read_to_string(dir.join("sid_chan.m3u8"))
            .await
            .unwrap();
        text.push_str("#EXT-X-ENDLIST\n");
        tokio::fs::write(dir.join("sid_chan.m3u8"), text)
            .await
            .unwrap();
    });
    let summary = stowage_pipeline::watch(spool.path(), &targets, &fast_options("live"), &w)
        .await
        .unwrap();
    recorder.await.unwrap();
    assert_eq!(summary.status, Status::Uploaded, "{summary:?}");
    assert!(
        watching.hooks.violations.lock().unwrap().is_empty(),
        "{:?}",
        watching.hooks.violations.lock().unwrap()
    );
    let puts = watching.hooks.playlist_puts.load(Ordering::SeqCst);
    assert!(puts >= 3, "the playlist was published {puts} times");
    let mut names: Vec<String> = std::fs::read_dir(spool.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".stowage")
        .collect();
    names.sort();
    assert_eq!(names.len(), 12, "{names:?}");
    assert_bucket_matches(fs.as_ref(), spool.path(), "live", &names).await;
    let final_playlist = fs
        .get("live/sid_chan.m3u8", None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(final_playlist.ends_with(b"#EXT-X-ENDLIST\n"));
}

/// The primary fails for the first part of a live recording: those segments go to the
/// backup; the background restore pass moves them to the primary once it answers, so the
/// recording ends `uploaded` with the backup emptied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_restore_moves_backed_up_segments_once_the_primary_is_back() {
    let server = S3sServer::shared();
    let bucket = unique("bgrestore");
    server.create_bucket(&bucket).unwrap();
    let outage = FaultRule::new(
        Match::request("PUT", &format!("/{bucket}/")),
        Fault::s3_error(503, "ServiceUnavailable", "Please try again."),
        Times::First(6),
    );
    let proxy = FaultProxy::start(server.endpoint(), vec![outage]).unwrap();
    let primary: Arc<dyn ObjectStore> = Arc::new(s3s_store(proxy.endpoint(), &bucket, 1).await);
    let backup_dir = tempfile::tempdir().unwrap();
    let backup: Arc<dyn ObjectStore> = Arc::new(FsStore::create(backup_dir.path()).await.unwrap());
    let targets = Targets {
        primary: primary.clone(),
        backup: Some(backup.clone()),
    };
    let opts = Options {
        retry: RetryPolicy::immediate(2),
        ..fast_options("bg")
    };
    let w = stowage_pipeline::WatchOptions {
        poll: Duration::from_millis(40),
        stable_for: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(10),
        playlist_every: Duration::from_millis(60),
        stop: Arc::default(),
        restore_every: Some(Duration::from_millis(100)),
        close_on_idle: true,
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = spool.path().to_path_buf();
    let recorder = tokio::spawn(async move {
        let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
        for i in 0..8u64 {
            let name = format!("sid_chan_202611241000{:02}000.ts", i * 2);
            tokio::fs::write(dir.join(&name), pseudo_random(20_000, i + 1))
                .await
                .unwrap();
            text.push_str(&format!("#EXTINF:2.0,\n{name}\n"));
            tokio::fs::write(dir.join("sid_chan.m3u8"), &text)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
        text.push_str("#EXT-X-ENDLIST\n");
        tokio::fs::write(dir.join("sid_chan.m3u8"), text)
            .await
            .unwrap();
    });
    let summary = stowage_pipeline::watch(spool.path(), &targets, &opts, &w)
        .await
        .unwrap();
    recorder.await.unwrap();
    assert_eq!(proxy.injected(0), 6, "the outage happened");
    assert_eq!(summary.status, Status::Uploaded, "{summary:?}");
    assert!(summary.in_backup.is_empty(), "{summary:?}");
    let mut names: Vec<String> = std::fs::read_dir(spool.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".stowage")
        .collect();
    names.sort();
    assert_bucket_matches(primary.as_ref(), spool.path(), "bg", &names).await;
    let left: Vec<String> = backup
        .list_all("bg/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with(".ts"))
        .collect();
    assert!(left.is_empty(), "segments still in the backup: {left:?}");
}
