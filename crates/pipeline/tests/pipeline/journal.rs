//! The journal and the spool lock, end to end: a damaged journal is moved aside and the
//! upload completes; two runs of one spool never run together, and the lock goes with the run.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::sync::{Barrier, mpsc};
use std::time::Instant;

use stowage_core::Error;
use stowage_pipeline::journal::Journal;

use super::*;

/// Counts, per key, the objects written (puts and completed multipart uploads); every write
/// but the manifest's waits while the gate is closed (at most `max_wait`).
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ObjectStore>,
    writes: Mutex<HashMap<String, u32>>,
    creates: AtomicU32,
    open: AtomicBool,
    max_wait: Duration,
}

impl Counting {
    fn new(inner: Arc<dyn ObjectStore>, open: bool, max_wait: Duration) -> Arc<Self> {
        Arc::new(Counting {
            inner,
            writes: Mutex::default(),
            creates: AtomicU32::new(0),
            open: AtomicBool::new(open),
            max_wait,
        })
    }

    fn open_gate(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    async fn gate(&self, key: &str) {
        if key.ends_with("stowage-manifest.json") {
            return;
        }
        let since = Instant::now();
        while !self.open.load(Ordering::SeqCst) && since.elapsed() < self.max_wait {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn count(&self, key: &str) {
        *self.writes.lock().unwrap().entry(key.into()).or_default() += 1;
    }

    fn writes(&self) -> HashMap<String, u32> {
        self.writes.lock().unwrap().clone()
    }
}

#[async_trait]
impl ObjectStore for Counting {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        self.gate(key).await;
        self.count(key);
        self.inner.put(key, body, opts).await
    }
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn get(&self, key: &str, range: Option<std::ops::Range<u64>>) -> Result<GetResult> {
        self.inner.get(key, range).await
    }
    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        self.inner.list(req).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        self.gate(key).await;
        self.inner.create_multipart(key, opts).await
    }
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        n: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        self.inner.upload_part(upload, n, body).await
    }
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        self.inner.list_parts(upload).await
    }
    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        self.count(&upload.key);
        self.inner.complete_multipart(upload, parts).await
    }
    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.inner.abort_multipart(upload).await
    }
    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUpload>> {
        self.inner.list_multipart_uploads(prefix).await
    }
}

/// Keeps the warnings logged on this thread (a current-thread runtime polls the run here).
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        *meta.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Files in the spool's state directory whose names start with `prefix`.
fn state_files(spool: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(spool.join(".stowage"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// A journal of random bytes, then one truncated mid-file: each time the upload completes,
/// the damaged file is kept aside under `<journal>.corrupt-<unix time>`, a warning names
/// both paths, and the new journal says what it replaced.
#[tokio::test]
async fn a_damaged_journal_is_moved_aside_and_the_upload_completes() {
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 5, 1000, None);
    let bucket = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let targets = Targets {
        primary: store.clone(),
        backup: None,
    };
    let first = upload_recording(spool.path(), &targets, &fast_options("rec"))
        .await
        .unwrap();
    assert_eq!(first.status, Status::Uploaded);
    let journal = journal_path(spool.path());
    let journal_name = journal.file_name().unwrap().to_string_lossy().into_owned();
    let healthy = std::fs::read(&journal).unwrap();

    let random = pseudo_random(16 * 1024, 7);
    let truncated = healthy[..healthy.len() / 2].to_vec();
    for (round, damaged) in [random, truncated].into_iter().enumerate() {
        std::fs::write(&journal, &damaged).unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let guard = tracing::subscriber::set_default(Warnings(logs.clone()));
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let summary = upload_recording(spool.path(), &targets, &fast_options("rec"))
            .await
            .unwrap();
        drop(guard);
        assert_eq!(
            (summary.status, summary.objects),
            (Status::Uploaded, names.len()),
            "{summary:?}"
        );

        // (SQLite makes a -wal and -shm beside a WAL database it reads: moved with it.)
        let aside: Vec<PathBuf> = state_files(spool.path(), &format!("{journal_name}.corrupt-"))
            .into_iter()
            .filter(|p| {
                !p.to_string_lossy().ends_with("-wal") && !p.to_string_lossy().ends_with("-shm")
            })
            .collect();
        assert_eq!(aside.len(), round + 1, "{aside:?}");
        let newest = aside
            .iter()
            .find(|p| std::fs::read(p).unwrap() == damaged)
            .expect("the damaged journal is kept as it was");
        let suffix = newest.file_name().unwrap().to_string_lossy().into_owned();
        let secs: u64 = suffix[journal_name.len() + ".corrupt-".len()..]
            .split('-')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{suffix}"));
        assert!(secs >= started && secs <= started + 10, "{suffix}");

        let logs = logs.lock().unwrap().join("\n");
        assert!(
            logs.contains(&journal.display().to_string())
                && logs.contains(&newest.display().to_string())
                && logs.contains("moved aside"),
            "a warning names both paths: {logs}"
        );

        let rebuilt = Journal::open(&journal).unwrap();
        assert_eq!(rebuilt.recovered_from(), Some(newest.as_path()));
        let entries = rebuilt.all().unwrap();
        assert_eq!(entries.len(), names.len());
        assert!(entries.iter().all(|e| e.state == State::Primary));
    }
    assert_bucket_matches(store.as_ref(), spool.path(), "rec", &names).await;
}

fn refused(r: Result<impl Sized>) -> Error {
    match r {
        Ok(_) => panic!("a second run was let in while the first holds the spool"),
        Err(e) => e,
    }
}

/// The error a run gets while another holds the spool.
fn assert_already_uploading(e: &Error, spool: &Path) {
    assert_eq!(e.kind(), &ErrorKind::Journal, "{e}");
    let msg = e.to_string();
    let lock = spool.join(".stowage").join("upload.lock");
    assert!(
        msg.contains(&format!(
            "this recording is already being uploaded by pid {} (lock {}): wait for it to finish, or stop it",
            std::process::id(),
            lock.display()
        )),
        "{msg}"
    );
}

/// Two `upload_recording` of one spool and destination started together, each on its own
/// thread and runtime (as two processes would): one runs, the other is refused at once with
/// the holder's pid; restore and a live session are refused too while it runs; no object is
/// written twice; and once the run is over a third run gets the lock.
#[test]
fn two_uploads_of_one_spool_one_runs_the_other_is_refused() {
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 6, 20_000, Some(7 << 20));
    let bucket = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fs: Arc<dyn ObjectStore> = Arc::new(rt.block_on(FsStore::create(bucket.path())).unwrap());
    let counting = Counting::new(fs.clone(), false, Duration::from_secs(20));
    let targets = Targets {
        primary: counting.clone(),
        backup: None,
    };

    let start = Arc::new(Barrier::new(2));
    let (tx, rx) = mpsc::channel();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (start, tx, targets) = (start.clone(), tx.clone(), targets.clone());
            let dir = spool.path().to_path_buf();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                start.wait();
                let r = rt.block_on(upload_recording(&dir, &targets, &fast_options("rec")));
                tx.send(r).unwrap();
            })
        })
        .collect();

    // The holder waits at the gate; the other is refused without waiting.
    let loser = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("one of the two runs is refused at once");
    assert_already_uploading(&refused(loser), spool.path());
    let backup_dir = tempfile::tempdir().unwrap();
    let with_backup = Targets {
        primary: counting.clone(),
        backup: Some(Arc::new(
            rt.block_on(FsStore::create(backup_dir.path())).unwrap(),
        )),
    };
    let restoring = rt.block_on(restore(spool.path(), &with_backup, &fast_options("rec")));
    assert_already_uploading(&refused(restoring), spool.path());
    let session = rt.block_on(stowage_pipeline::Session::open(
        spool.path(),
        &targets,
        &fast_options("rec"),
    ));
    assert_already_uploading(&refused(session), spool.path());
    assert!(
        counting.writes().is_empty(),
        "nothing written while the holder waits at the gate"
    );

    counting.open_gate();
    let winner = rx.recv_timeout(Duration::from_secs(60)).unwrap().unwrap();
    assert_eq!(winner.status, Status::Uploaded, "{winner:?}");
    for t in runs {
        t.join().unwrap();
    }

    // The run is over, and so is its lock.
    let third = rt
        .block_on(upload_recording(
            spool.path(),
            &targets,
            &fast_options("rec"),
        ))
        .unwrap();
    assert_eq!(third.status, Status::Uploaded, "{third:?}");

    let writes = counting.writes();
    for n in &names {
        let key = format!("rec/{n}");
        assert_eq!(writes.get(&key), Some(&1), "{key} written {writes:?}");
    }
    assert_eq!(
        writes.get("rec/stowage-manifest.json"),
        Some(&2),
        "the winner and the third run each wrote the manifest: {writes:?}"
    );
    assert_eq!(writes.len(), names.len() + 1, "{writes:?}");
    assert_eq!(
        counting.creates.load(Ordering::SeqCst),
        1,
        "one multipart upload for the MP4"
    );
    rt.block_on(assert_bucket_matches(
        fs.as_ref(),
        spool.path(),
        "rec",
        &names,
    ));
}

/// Set in the child process of [`a_run_in_another_process_holds_the_spool`]: the spool to
/// upload, and the file whose appearance lets its run proceed.
const CHILD_SPOOL: &str = "STOWAGE_TEST_CHILD_SPOOL";
const CHILD_RELEASE: &str = "STOWAGE_TEST_CHILD_RELEASE";

/// The holder, run in a child process by [`a_run_in_another_process_holds_the_spool`]
/// (a no-op otherwise): uploads the spool, its writes held until the release file exists.
#[test]
#[ignore = "run as a child process by a_run_in_another_process_holds_the_spool"]
fn child_process_holding_the_spool() {
    let (Ok(spool), Ok(release)) = (std::env::var(CHILD_SPOOL), std::env::var(CHILD_RELEASE))
    else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bucket = PathBuf::from(&spool).with_extension("bucket");
    let fs: Arc<dyn ObjectStore> = Arc::new(rt.block_on(FsStore::create(&bucket)).unwrap());
    let held = Counting::new(fs, false, Duration::from_secs(30));
    let opener = held.clone();
    std::thread::spawn(move || {
        while !Path::new(&release).exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
        opener.open_gate();
    });
    let targets = Targets {
        primary: held,
        backup: None,
    };
    let summary = rt
        .block_on(upload_recording(
            Path::new(&spool),
            &targets,
            &fast_options("rec"),
        ))
        .unwrap();
    assert_eq!(summary.status, Status::Uploaded, "{summary:?}");
}

/// The same with two processes: while another process uploads the spool, a run here is
/// refused with that process's pid; once it has exited, the spool is free.
#[test]
fn a_run_in_another_process_holds_the_spool() {
    let root = tempfile::tempdir().unwrap();
    let spool = root.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let names = recording(&spool, 3, 1000, None);
    let release = root.path().join("release");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "journal::child_process_holding_the_spool",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_SPOOL, &spool)
        .env(CHILD_RELEASE, &release)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = spool.join(".stowage").join("upload.lock");
    let since = Instant::now();
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != child.id().to_string() {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "the child never took the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bucket = tempfile::tempdir().unwrap();
    let fs: Arc<dyn ObjectStore> = Arc::new(rt.block_on(FsStore::create(bucket.path())).unwrap());
    let targets = Targets {
        primary: fs.clone(),
        backup: None,
    };
    let e = refused(rt.block_on(upload_recording(&spool, &targets, &fast_options("rec"))));
    assert_eq!(e.kind(), &ErrorKind::Journal, "{e}");
    assert!(
        e.to_string().contains(&format!(
            "already being uploaded by pid {} (lock {})",
            child.id(),
            lock.display()
        )),
        "{e}"
    );

    std::fs::write(&release, b"").unwrap();
    assert!(
        child.wait().unwrap().success(),
        "the holder's upload failed"
    );
    let after = rt
        .block_on(upload_recording(&spool, &targets, &fast_options("rec")))
        .unwrap();
    assert_eq!(after.status, Status::Uploaded, "{after:?}");
    rt.block_on(assert_bucket_matches(fs.as_ref(), &spool, "rec", &names));
}

/// `watch` cut short by its deadline summarises with the run it holds (not a second one,
/// which the lock would refuse), and has stopped everything it started when it returns: the
/// next run gets the lock at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_stopped_by_its_deadline_summarises_and_releases_the_spool() {
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 3, 1000, None);
    let bucket = tempfile::tempdir().unwrap();
    let fs: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let stuck = Counting::new(fs.clone(), false, Duration::from_secs(30));
    let w = stowage_pipeline::WatchOptions {
        poll: Duration::from_millis(20),
        stable_for: Duration::from_millis(50),
        idle_timeout: Duration::from_secs(10),
        playlist_every: Duration::from_secs(60),
        stop: Arc::default(),
        restore_every: None,
        close_on_idle: true,
    };
    let opts = Options {
        deadline: Some(Duration::from_millis(300)),
        ..fast_options("live")
    };
    let summary = stowage_pipeline::watch(
        spool.path(),
        &Targets {
            primary: stuck.clone(),
            backup: None,
        },
        &opts,
        &w,
    )
    .await
    .unwrap();
    assert_eq!(summary.status, Status::Incomplete, "{summary:?}");
    assert!(!summary.pending.is_empty(), "{summary:?}");

    let done = upload_recording(
        spool.path(),
        &Targets {
            primary: fs.clone(),
            backup: None,
        },
        &fast_options("live"),
    )
    .await
    .unwrap();
    assert_eq!(done.status, Status::Uploaded, "{done:?}");
    assert_bucket_matches(fs.as_ref(), spool.path(), "live", &names).await;
}

/// What a `kill -9` between an object's landing and the journal's next commit leaves: the
/// objects in the bucket, their claims committed, their landings not. The next run asks
/// the bucket (one HEAD each, proof by checksum) and sends none of them again; a normal
/// run asks nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landings_lost_with_the_process_are_looked_up_not_sent_again() {
    let spool = tempfile::tempdir().unwrap();
    let names = recording(spool.path(), 40, 4096, None);
    let bucket = tempfile::tempdir().unwrap();
    let fs: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let heads = Arc::new(AtomicU32::new(0));
    let counting = Counting::new(
        Arc::new(HeadCounting {
            inner: fs.clone(),
            heads: heads.clone(),
        }),
        true,
        Duration::ZERO,
    );
    let targets = Targets {
        primary: counting.clone(),
        backup: None,
    };
    let first = upload_recording(spool.path(), &targets, &fast_options("rec"))
        .await
        .unwrap();
    assert_eq!(first.status, Status::Uploaded);
    assert_eq!(heads.load(Ordering::SeqCst), 0, "a normal run asks nothing");
    let media: Vec<String> = names
        .iter()
        .filter(|n| n.ends_with(".ts"))
        .map(|n| format!("rec/{n}"))
        .collect();
    {
        let conn = rusqlite::Connection::open(journal_path(spool.path())).unwrap();
        for key in &media {
            conn.execute(
                "UPDATE objects SET state = 'pending', stored = NULL, etag = NULL WHERE key = ?1",
                [key],
            )
            .unwrap();
            conn.execute("INSERT OR IGNORE INTO claims (key) VALUES (?1)", [key])
                .unwrap();
        }
    }
    let before = counting.writes();
    let second = upload_recording(spool.path(), &targets, &fast_options("rec"))
        .await
        .unwrap();
    assert_eq!(second.status, Status::Uploaded, "{second:?}");
    let after = counting.writes();
    for key in &media {
        assert_eq!(after.get(key), before.get(key), "{key} was sent again");
    }
    assert_eq!(heads.load(Ordering::SeqCst) as usize, media.len());
    let journal = Journal::open(&journal_path(spool.path())).unwrap();
    assert!(
        journal
            .all()
            .unwrap()
            .iter()
            .all(|e| e.state == State::Primary && !e.maybe_sent)
    );
    drop(journal);
    assert_bucket_matches(fs.as_ref(), spool.path(), "rec", &names).await;
}

/// Counts HEADs.
#[derive(Debug)]
struct HeadCounting {
    inner: Arc<dyn ObjectStore>,
    heads: Arc<AtomicU32>,
}

#[async_trait]
impl ObjectStore for HeadCounting {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn put(&self, key: &str, body: PutBody, opts: &PutOptions) -> Result<ObjectMeta> {
        self.inner.put(key, body, opts).await
    }
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.heads.fetch_add(1, Ordering::SeqCst);
        self.inner.head(key).await
    }
    async fn get(&self, key: &str, range: Option<std::ops::Range<u64>>) -> Result<GetResult> {
        self.inner.get(key, range).await
    }
    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        self.inner.list(req).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> Result<MultipartUpload> {
        self.inner.create_multipart(key, opts).await
    }
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        n: u32,
        body: PutBody,
    ) -> Result<PartInfo> {
        self.inner.upload_part(upload, n, body).await
    }
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<PartInfo>> {
        self.inner.list_parts(upload).await
    }
    async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        parts: &[PartInfo],
    ) -> Result<ObjectMeta> {
        self.inner.complete_multipart(upload, parts).await
    }
    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<()> {
        self.inner.abort_multipart(upload).await
    }
}
