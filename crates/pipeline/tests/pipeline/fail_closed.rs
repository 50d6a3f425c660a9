//! "Landed" means landed: what the pipeline does when a store says success without proof,
//! when a file changes under a multipart upload, when a run died during a completion, when
//! restore publishes, when a playlist names paths outside the recording, when the bucket's
//! disk is full, and when the bucket does not exist.

use std::collections::HashMap;

use stowage_testkit::hooked::{Hooked, Hooks};
use stowage_testkit::tmpfs::Tmpfs;

use super::*;

const HTML: &str = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n";

fn html_page() -> Fault {
    Fault::Status {
        status: 200,
        body: HTML.into(),
        headers: vec![("content-type".into(), "text/html".into())],
    }
}

fn empty_200() -> Fault {
    Fault::Status {
        status: 200,
        body: String::new(),
        headers: vec![],
    }
}

fn landed_or_deleted(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Landed { key, .. } => Some(format!("landed {key}")),
            Event::Deleted { key } => Some(format!("deleted {key}")),
            _ => None,
        })
        .collect()
}

/// A server that answers every request with 200 and an HTML page (a web server, a captive
/// portal), or with an empty 200: nothing lands, nothing is deleted, everything is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_without_proof_is_never_a_landing_and_no_file_is_deleted() {
    for (what, fault) in [("html", html_page()), ("empty", empty_200())] {
        let server = S3sServer::shared();
        let bucket = unique("html");
        server.create_bucket(&bucket).unwrap();
        let proxy = FaultProxy::start(
            server.endpoint(),
            vec![FaultRule::new(Match::Any, fault, Times::Always)],
        )
        .unwrap();
        let spool = tempfile::tempdir().unwrap();
        let names = recording(spool.path(), 4, 3000, Some(7 << 20));
        let (sink, seen) = recorder();
        let opts = Options {
            delete_after_verify: true,
            retry: RetryPolicy::immediate(2),
            events: Some(sink),
            ..fast_options("rec")
        };
        let store: Arc<dyn ObjectStore> = Arc::new(s3s_store(proxy.endpoint(), &bucket, 1).await);
        let targets = Targets {
            primary: store,
            backup: None,
        };
        let summary = upload_recording(spool.path(), &targets, &opts)
            .await
            .unwrap();
        assert_eq!(summary.status, Status::Incomplete, "{what}: {summary:?}");
        assert_eq!(summary.in_primary, 0, "{what}: {summary:?}");
        let events = seen.lock().unwrap().clone();
        assert_eq!(landed_or_deleted(&events), Vec::<String>::new(), "{what}");
        for n in &names {
            assert!(spool.path().join(n).is_file(), "{what}: {n} was deleted");
        }
        let not_landed = summary.pending.len() + summary.failed.len();
        assert_eq!(
            not_landed,
            names.len(),
            "{what}: every file is reported: {summary:?}"
        );
        assert_eq!(summary.playlists_held.len(), 1, "{what}: {summary:?}");
        // The real bucket behind the proxy never received anything.
        let real = s3s_store(server.endpoint(), &bucket, 1).await;
        let stored = (&real as &dyn ObjectStore).list_all("").await.unwrap();
        assert!(stored.is_empty(), "{what}: {stored:?}");
    }
}

/// Rewrites a file once, when part `part` of its multipart upload is first sent.
#[derive(Debug)]
struct RewriteAtPart {
    path: PathBuf,
    part: u32,
    new_content: Vec<u8>,
    done: std::sync::atomic::AtomicBool,
    parts_sent: AtomicU32,
}

#[async_trait]
impl Hooks for RewriteAtPart {
    fn before_part(&self, _: &MultipartUpload, n: u32) {
        self.parts_sent.fetch_add(1, Ordering::SeqCst);
        if n == self.part && !self.done.swap(true, Ordering::SeqCst) {
            // The recorder rewrites the file in place (same size) between two parts.
            std::fs::write(&self.path, &self.new_content).unwrap();
        }
    }
}

/// A file rewritten between two parts of its multipart upload never lands torn: the parts'
/// CRCs do not combine to the file's, the attempt is refused before completion, and the
/// object is sent again from the new content. On the S3 server (MD5 and CRC modes) and the
/// local store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_between_parts_is_sent_again_not_landed_torn() {
    let server = S3sServer::shared();
    for backend in ["s3-md5", "s3-crc", "fs"] {
        let spool = tempfile::tempdir().unwrap();
        let names = recording(spool.path(), 2, 1000, Some(12 << 20));
        let mp4 = spool.path().join("sid_chan_0.mp4");
        let new_content = pseudo_random(12 << 20, 4242);
        let bucket_dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn ObjectStore> = match backend {
            "fs" => Arc::new(FsStore::create(bucket_dir.path()).await.unwrap()),
            _ => {
                let bucket = unique("torn");
                server.create_bucket(&bucket).unwrap();
                let mut store = s3s_store(server.endpoint(), &bucket, 3).await;
                if backend == "s3-crc" {
                    store = s3s_store_crc(server.endpoint(), &bucket).await;
                }
                Arc::new(store)
            }
        };
        let rewriting = Hooked::new(
            inner.clone(),
            RewriteAtPart {
                path: mp4.clone(),
                part: 2,
                new_content: new_content.clone(),
                done: Default::default(),
                parts_sent: AtomicU32::new(0),
            },
        );
        let (sink, seen) = recorder();
        let opts = Options {
            events: Some(sink),
            upload: UploadConfig {
                concurrency: 1,
                ..fast_options("").upload
            },
            ..fast_options("")
        };
        let targets = Targets {
            primary: rewriting.clone(),
            backup: None,
        };
        let summary = upload_recording(spool.path(), &targets, &opts)
            .await
            .unwrap();
        assert_eq!(summary.status, Status::Uploaded, "{backend}: {summary:?}");
        let stored = inner
            .get("sid_chan_0.mp4", None)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            stored[..] == new_content[..],
            "{backend}: the bucket holds a torn or old MP4"
        );
        let events = seen.lock().unwrap().clone();
        let changed = events.iter().any(|e| {
            matches!(e, Event::Retrying { key, error, .. }
                if key == "sid_chan_0.mp4" && error.contains("changed"))
        });
        assert!(changed, "{backend}: the change was reported: {events:?}");
        assert!(
            rewriting.hooks.parts_sent.load(Ordering::SeqCst) > 3,
            "{backend}: parts sent again"
        );
        assert_bucket_matches(inner.as_ref(), spool.path(), "", &names).await;
    }
}

async fn s3s_store_crc(endpoint: &str, bucket: &str) -> S3Store {
    let server = S3sServer::shared();
    S3Store::new(S3Config {
        bucket: bucket.into(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.into()),
        force_path_style: true,
        credentials: Some(Credentials::new(server.access_key(), server.secret_key())),
        profile: None,
        max_attempts: 3,
        integrity: stowage_s3::S3Integrity::Crc64Nvme,
        ca_bundle: None,
    })
    .await
    .unwrap()
}

/// Counts parts sent, and can fail a completion after the store completed it (what a
/// `kill -9` during CompleteMultipartUpload leaves: the object complete, the run gone).
#[derive(Debug)]
struct CompletionLost {
    lose_completions: std::sync::atomic::AtomicBool,
    parts_sent: AtomicU32,
    creates: AtomicU32,
}

#[async_trait]
impl Hooks for CompletionLost {
    fn before_create(&self, _: &str) {
        self.creates.fetch_add(1, Ordering::SeqCst);
    }
    fn before_part(&self, _: &MultipartUpload, _: u32) {
        self.parts_sent.fetch_add(1, Ordering::SeqCst);
    }
    fn after_complete(
        &self,
        _: &MultipartUpload,
        answer: Result<ObjectMeta>,
    ) -> Result<ObjectMeta> {
        let meta = answer?;
        if self.lose_completions.load(Ordering::SeqCst) {
            return Err(stowage_core::Error::new(
                stowage_core::ErrorKind::InvalidInput,
                "the process died before the answer was read",
            ));
        }
        Ok(meta)
    }
}

/// A run that lost the answer of its CompleteMultipartUpload (the object was completed):
/// the next run finds the object by HEAD, proves it from the journaled parts, and sends no
/// part again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_completion_is_confirmed_by_head_without_resending_parts() {
    let server = S3sServer::shared();
    let bucket = unique("complete");
    server.create_bucket(&bucket).unwrap();
    let real: Arc<dyn ObjectStore> = Arc::new(s3s_store(server.endpoint(), &bucket, 3).await);
    let lost = CompletionLost {
        lose_completions: true.into(),
        parts_sent: AtomicU32::new(0),
        creates: AtomicU32::new(0),
    };
    let store = Hooked::new(real.clone(), lost);
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 2, 1000, Some(12 << 20));
    let targets = Targets {
        primary: store.clone(),
        backup: None,
    };
    let opts = Options {
        retry: RetryPolicy::immediate(1),
        ..fast_options("")
    };
    let first = upload_recording(spool.path(), &targets, &opts)
        .await
        .unwrap();
    assert_eq!(first.status, Status::Incomplete, "{first:?}");
    assert_eq!(store.hooks.parts_sent.load(Ordering::SeqCst), 3);
    real.head("sid_chan_0.mp4")
        .await
        .expect("the store completed the object");

    store.hooks.lose_completions.store(false, Ordering::SeqCst);
    store.hooks.parts_sent.store(0, Ordering::SeqCst);
    let second = upload_recording(spool.path(), &targets, &opts)
        .await
        .unwrap();
    assert_eq!(second.status, Status::Uploaded, "{second:?}");
    assert_eq!(
        store.hooks.parts_sent.load(Ordering::SeqCst),
        0,
        "no part sent again"
    );
    assert_eq!(
        store.hooks.creates.load(Ordering::SeqCst),
        1,
        "no new multipart upload"
    );
    assert_bucket_matches(real.as_ref(), spool.path(), "", &names).await;
}

/// `restore` puts no playlist into the primary before every segment it names is there,
/// watched at every playlist put; the backup's manifest is rewritten to say where things
/// are now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_publishes_playlists_only_after_their_segments() {
    let server = S3sServer::shared();
    let bucket = unique("order");
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 40, 2000, None);
    let backup_dir = tempfile::tempdir().unwrap();
    let backup: Arc<dyn ObjectStore> = Arc::new(FsStore::create(backup_dir.path()).await.unwrap());
    let dead: Arc<dyn ObjectStore> = Arc::new(s3s_store("http://127.0.0.1:9", &bucket, 1).await);
    let opts = Options {
        retry: RetryPolicy::immediate(1),
        ..fast_options("r")
    };
    let backed = upload_recording(
        spool.path(),
        &Targets {
            primary: dead,
            backup: Some(backup.clone()),
        },
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(backed.status, Status::Backuped, "{backed:?}");

    server.create_bucket(&bucket).unwrap();
    let alive: Arc<dyn ObjectStore> = Arc::new(s3s_store(server.endpoint(), &bucket, 3).await);
    let watching = Watching::new(alive.clone(), alive.clone());
    let restored = restore(
        spool.path(),
        &Targets {
            primary: watching.clone(),
            backup: Some(backup.clone()),
        },
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(restored.status, Status::Uploaded, "{restored:?}");
    assert_eq!(watching.hooks.playlist_puts.load(Ordering::SeqCst), 1);
    assert_eq!(
        *watching.hooks.violations.lock().unwrap(),
        Vec::<String>::new()
    );
    assert_bucket_matches(alive.as_ref(), spool.path(), "r", &names).await;
    let manifest = backup
        .get("r/stowage-manifest.json", None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let locations: HashMap<String, usize> =
        manifest["objects"]
            .as_array()
            .unwrap()
            .iter()
            .fold(HashMap::new(), |mut m, o| {
                *m.entry(o["location"].as_str().unwrap().to_string())
                    .or_default() += 1;
                m
            });
    assert_eq!(
        locations,
        HashMap::from([("primary".to_string(), names.len())])
    );
}

/// Playlists naming `../../../../etc/hostname`, `/etc/hostname` or a URL are held with the
/// entry named; they never reach the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_naming_paths_outside_the_recording_are_held() {
    for entry in [
        "../../../../etc/hostname",
        "/etc/hostname",
        "https://cdn.example/x.ts",
    ] {
        let spool = tempfile::tempdir().unwrap();
        recording(spool.path(), 2, 100, None);
        let text = std::fs::read_to_string(spool.path().join("sid_chan.m3u8")).unwrap();
        let text = text.replace(
            "#EXT-X-ENDLIST",
            &format!("#EXTINF:2.000\n{entry}\n#EXT-X-ENDLIST"),
        );
        std::fs::write(spool.path().join("sid_chan.m3u8"), text).unwrap();
        let bucket_dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(FsStore::create(bucket_dir.path()).await.unwrap());
        let targets = Targets {
            primary: store.clone(),
            backup: None,
        };
        let summary = upload_recording(spool.path(), &targets, &fast_options(""))
            .await
            .unwrap();
        assert_eq!(summary.status, Status::Incomplete, "{entry}: {summary:?}");
        let (key, reason) = &summary.playlists_held[0];
        assert_eq!(key, "sid_chan.m3u8");
        assert!(
            reason.contains(entry) && reason.contains("outside the recording"),
            "{reason}"
        );
        let err = store.head("sid_chan.m3u8").await.unwrap_err();
        assert_eq!(err.kind(), &stowage_core::ErrorKind::NotFound, "{entry}");
    }
}

/// A held reason quotes a 100 000-character segment name shortened, not whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_segment_name_is_quoted_shortened() {
    let spool = tempfile::tempdir().unwrap();
    let long = format!("{}.ts", "s".repeat(100_000));
    let playlist =
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{long}\n#EXT-X-ENDLIST\n");
    std::fs::write(spool.path().join("p.m3u8"), playlist).unwrap();
    let bucket_dir = tempfile::tempdir().unwrap();
    let targets = Targets {
        primary: Arc::new(FsStore::create(bucket_dir.path()).await.unwrap()),
        backup: None,
    };
    let summary = upload_recording(spool.path(), &targets, &fast_options(""))
        .await
        .unwrap();
    let (_, reason) = &summary.playlists_held[0];
    assert!(reason.len() < 400, "{} bytes", reason.len());
    assert!(reason.contains("100003 characters"), "{reason}");
}

/// A bucket that does not exist: said once, nothing more is attempted, every object stays
/// pending (and in the spool) for the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_said_once_and_stops_the_run() {
    a_refused_bucket_is_said_once(&unique("never-created")).await;
}

/// The same for a bucket name S3 refuses outright (InvalidBucketName: too short): every
/// object would get the same answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_bucket_name_is_said_once_and_stops_the_run() {
    a_refused_bucket_is_said_once("ab").await;
}

async fn a_refused_bucket_is_said_once(bucket: &str) {
    let server = S3sServer::shared();
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 30, 100, None);
    let (sink, seen) = recorder();
    let opts = Options {
        events: Some(sink),
        concurrency: 1,
        ..fast_options("")
    };
    let store: Arc<dyn ObjectStore> = Arc::new(s3s_store(server.endpoint(), bucket, 1).await);
    let targets = Targets {
        primary: store,
        backup: None,
    };
    let summary = upload_recording(spool.path(), &targets, &opts)
        .await
        .unwrap();
    assert_eq!(summary.status, Status::Incomplete);
    assert_eq!(summary.pending.len(), names.len(), "{summary:?}");
    let events = seen.lock().unwrap().clone();
    let unusable: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::BucketUnusable { .. }))
        .collect();
    assert_eq!(unusable.len(), 1, "{events:?}");
    let sending = events
        .iter()
        .filter(|e| matches!(e, Event::Sending { .. }))
        .count();
    assert_eq!(sending, 1, "only the first object was tried: {events:?}");
    assert!(
        !events.iter().any(|e| matches!(e, Event::Failed { .. })),
        "{events:?}"
    );
}

/// A `file://` bucket on a 5 MiB filesystem: the recording does not fit. What landed is
/// complete, what did not is named as a full disk and stays in the spool (even with
/// delete-after-verify), and the bucket holds no temporary files or short objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bucket_disk_loses_nothing_and_says_so() {
    let Some(tmpfs) = Tmpfs::mount("5m") else {
        return;
    };
    let root = tmpfs.path().join("bucket");
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 12, 600_000, None);
    let (sink, seen) = recorder();
    let opts = Options {
        delete_after_verify: true,
        retry: RetryPolicy::immediate(1),
        events: Some(sink),
        ..fast_options("")
    };
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(&root).await.unwrap());
    let targets = Targets {
        primary: store.clone(),
        backup: None,
    };
    let summary = upload_recording(spool.path(), &targets, &opts)
        .await
        .unwrap();
    assert_eq!(summary.status, Status::Incomplete, "{summary:?}");
    assert!(summary.in_primary > 0, "some fitted: {summary:?}");
    let not_landed: Vec<&(String, String)> = summary.failed.iter().collect();
    assert!(!not_landed.is_empty(), "{summary:?}");
    for (key, error) in &not_landed {
        assert!(error.contains("full"), "{key}: {error}");
        assert!(!error.contains("vendor code"), "{key}: {error}");
        assert!(
            spool.path().join(key).is_file(),
            "{key} must stay in the spool"
        );
    }
    let events = seen.lock().unwrap().clone();
    for e in &events {
        if let Event::Deleted { key } = e {
            let stored = std::fs::read(root.join(key)).unwrap();
            assert_eq!(
                stored,
                pseudo_random(600_000, seg_seed(&names, key)),
                "{key}"
            );
        }
    }
    let temps: Vec<_> = walk(&root.join(".stowage/tmp"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".lock"))
        .collect();
    assert_eq!(
        temps,
        Vec::<PathBuf>::new(),
        "temporary files left in the bucket"
    );
    for key in names.iter().filter(|n| n.ends_with(".ts")) {
        if let Ok(bytes) = std::fs::read(root.join(key)) {
            assert_eq!(bytes.len(), 600_000, "{key} is short in the bucket");
        }
    }
    drop(store);
}

/// The seed `recording` used for segment `key` (its index in the sorted names + 1).
fn seg_seed(names: &[String], key: &str) -> u64 {
    let segments: Vec<&String> = names.iter().filter(|n| n.ends_with(".ts")).collect();
    segments.iter().position(|n| *n == key).unwrap() as u64 + 1
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
