//! Uploading while the recorder records: [`Session`] for backends that push each finished
//! file themselves, and [`watch`] (`stowage upload --watch`) which follows a recorder's
//! directory.
//!
//! While recording, the playlist in the bucket is an EVENT playlist of the longest run of
//! the recorder's segments already confirmed in the primary bucket, re-published at most
//! every `playlist_every`; the recorder's own playlist (with its ENDLIST) goes last, once
//! every segment it names is confirmed.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stowage_core::{Error, Result};
use stowage_hls::PlaylistType;
use tokio::sync::Semaphore;

use crate::journal::State;
use crate::plan::{self, LocalFile};
use crate::run::{self, Run};
use crate::{Options, Summary, Targets};

/// A recording being uploaded as it is made.
#[derive(Clone)]
pub struct Session {
    run: Arc<Run>,
    slots: Arc<Semaphore>,
    started: Instant,
    /// Segments in the last partial playlist published, per playlist key.
    published: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl Session {
    /// Opens (or resumes, after a crash) the upload of the recording in `dir`.
    pub async fn open(dir: &Path, targets: &Targets, opts: &Options) -> Result<Self> {
        let run = run::open_run(dir, targets, opts)?;
        run::abort_stale_uploads(&run).await;
        Ok(Session {
            slots: Arc::new(Semaphore::new(opts.concurrency.max(1))),
            run: Arc::new(run),
            started: Instant::now(),
            published: Arc::default(),
        })
    }

    fn local_file(&self, path: &Path) -> Result<LocalFile> {
        LocalFile::stat(&self.run.dir, path)
    }

    /// Uploads one finished file (a segment, an MP4…) and returns where it landed. At most
    /// `concurrency` submissions send at once; the others wait.
    pub async fn submit(&self, path: &Path) -> Result<State> {
        let f = self.local_file(path)?;
        let key = plan::key_for(&self.run.opts.prefix, &f.rel);
        self.run
            .journal
            .register(&key, &f.path, f.size, f.mtime_ns)?;
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| Error::invalid_input("session closed"))?;
        let delivered = run::deliver(&self.run, &key).await;
        let state = self
            .run
            .journal
            .get(&key)?
            .map_or(State::Pending, |e| e.state);
        delivered.map(|()| state)
    }

    /// Publishes the recorder's playlist as far as the primary bucket holds its segments:
    /// an EVENT playlist of its longest confirmed prefix. Returns how many segments that is.
    pub async fn publish_partial(&self, playlist: &Path) -> Result<usize> {
        let f = self.local_file(playlist)?;
        let text = tokio::fs::read_to_string(&f.path)
            .await
            .map_err(|e| Error::local_io(&f.path, e))?;
        let mut parsed = stowage_hls::parse(&text)
            .map_err(|e| Error::invalid_input(format!("{}: {e}", f.rel)))?;
        let (segments, outside) = plan::referenced_segments(&f.rel, &text)?;
        if let Some(uri) = outside.first() {
            return Err(Error::invalid_input(format!(
                "{} names `{}`, which is outside the recording (a `..` path, an absolute path or a URL): not published",
                f.rel,
                plan::shorten(uri)
            )));
        }
        let confirmed = segments
            .iter()
            .take_while(|rel| {
                let key = plan::key_for(&self.run.opts.prefix, rel);
                matches!(self.run.journal.get(&key), Ok(Some(e)) if e.state == State::Primary)
            })
            .count();
        let key = plan::key_for(&self.run.opts.prefix, &f.rel);
        let before = self
            .published
            .lock()
            .map(|m| m.get(&key).copied().unwrap_or(0))
            .unwrap_or(0);
        if confirmed == 0 || confirmed == before {
            return Ok(before);
        }
        parsed.segments.truncate(confirmed);
        parsed.playlist_type = Some(PlaylistType::Event);
        parsed.end_list = false;
        let body = bytes::Bytes::from(stowage_hls::write(&parsed));
        let primary = &self.run.targets.primary;
        self.run
            .opts
            .retry
            .run(&key, |_| {
                run::put_confirmed_bytes(primary.as_ref(), &key, body.clone())
            })
            .await?;
        if let Ok(mut m) = self.published.lock() {
            m.insert(key.clone(), confirmed);
        }
        self.run.emit_partial(&key, confirmed);
        Ok(confirmed)
    }

    /// Ends the session: publishes every playlist whose segments are all confirmed, writes
    /// the manifest and summarises. Files never submitted are sent first.
    /// Moves what went to the backup bucket into the primary, if the primary answers again.
    /// Returns the keys moved. Cheap when nothing is in the backup.
    pub async fn restore_from_backup(&self) -> Vec<String> {
        run::restore_pass(&self.run).await
    }

    pub async fn finish(self) -> Result<Summary> {
        let files = run::scan_reporting(&self.run)?;
        for f in &files {
            let key = plan::key_for(&self.run.opts.prefix, &f.rel);
            self.run
                .journal
                .register(&key, &f.path, f.size, f.mtime_ns)?;
        }
        run::send_pending(&self.run, &files).await;
        let published = run::publish_playlists(&self.run, &files).await;
        run::finish(&self.run, published, self.started).await
    }
}

/// How to follow a recorder.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// How often the directory is scanned.
    pub poll: Duration,
    /// A file no playlist names yet is ready once its size and mtime held this long.
    pub stable_for: Duration,
    /// The recording is over after this long without a new or growing file (Agora's
    /// `maxIdleTime`).
    pub idle_timeout: Duration,
    /// Least time between two publications of a growing playlist.
    pub playlist_every: Duration,
    /// Set to stop (e.g. on Ctrl-C): what is in flight finishes, the rest is sent, then the end.
    pub stop: Arc<AtomicBool>,
    /// While recording, this often move what went to the backup into the primary once the
    /// primary answers again (a background `stowage restore`); `None`: only at `restore`.
    pub restore_every: Option<Duration>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll: Duration::from_millis(500),
            stable_for: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(30),
            playlist_every: Duration::from_secs(10),
            stop: Arc::default(),
            restore_every: None,
        }
    }
}

/// What `watch` remembers of one file.
struct Seen {
    size: u64,
    mtime_ns: i64,
    since: Instant,
}

/// Follows a recorder writing into `dir` until its playlist has ENDLIST and every segment it
/// names is sent, or nothing changed for `idle_timeout`, or `stop` is set; then finishes as
/// [`Session::finish`] does (with `opts.deadline` bounding that last part).
pub async fn watch(
    dir: &Path,
    targets: &Targets,
    opts: &Options,
    w: &WatchOptions,
) -> Result<Summary> {
    let session = Session::open(dir, targets, opts).await?;
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut submitted: HashSet<String> = HashSet::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_change = Instant::now();
    let mut last_publish = Instant::now()
        .checked_sub(w.playlist_every)
        .unwrap_or_else(Instant::now);
    let mut last_restore = Instant::now();
    let mut restoring: Option<tokio::task::JoinHandle<Vec<String>>> = None;
    loop {
        if let Some(every) = w.restore_every
            && last_restore.elapsed() >= every
            && restoring.as_ref().is_none_or(|t| t.is_finished())
        {
            let s = session.clone();
            restoring = Some(tokio::spawn(async move { s.restore_from_backup().await }));
            last_restore = Instant::now();
        }
        let files = plan::scan(dir)?;
        let (named, ended) = recorder_state(&files);
        let fresh: Vec<&LocalFile> = files
            .iter()
            .filter(|f| !f.is_playlist() && !submitted.contains(&f.rel))
            .collect();
        for f in fresh {
            let entry = seen.entry(f.rel.clone()).or_insert(Seen {
                size: f.size,
                mtime_ns: f.mtime_ns,
                since: Instant::now(),
            });
            if entry.size != f.size || entry.mtime_ns != f.mtime_ns {
                *entry = Seen {
                    size: f.size,
                    mtime_ns: f.mtime_ns,
                    since: Instant::now(),
                };
                last_change = Instant::now();
            }
            if named.contains(&f.rel) || entry.since.elapsed() >= w.stable_for {
                submitted.insert(f.rel.clone());
                last_change = Instant::now();
                let (s, path) = (session.clone(), f.path.clone());
                tasks.spawn(async move { s.submit(&path).await });
            }
        }
        while let Some(done) = tasks.try_join_next() {
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "segment not delivered yet; it stays in the journal");
            }
        }
        if last_publish.elapsed() >= w.playlist_every {
            for p in files.iter().filter(|f| f.is_playlist()) {
                let _ = session.publish_partial(&p.path).await;
            }
            last_publish = Instant::now();
        }
        let all_named_sent = named.iter().all(|r| submitted.contains(r));
        if (ended && all_named_sent)
            || w.stop.load(Ordering::SeqCst)
            || last_change.elapsed() >= w.idle_timeout
        {
            break;
        }
        tokio::time::sleep(w.poll).await;
    }
    let drain = async {
        while tasks.join_next().await.is_some() {}
        if let Some(t) = restoring.take() {
            let _ = t.await;
        }
        if w.restore_every.is_some() {
            session.restore_from_backup().await;
        }
        session.clone().finish().await
    };
    let outcome = match opts.deadline {
        Some(d) => tokio::time::timeout(d, drain).await,
        None => Ok(drain.await),
    };
    match outcome {
        Ok(summary) => summary,
        Err(_) => {
            // Stop what is still sending, and wait until it has stopped: nothing may hold the
            // run (and the spool's lock) once this returns. What has not landed stays in the
            // journal; summarise from it, with the same run.
            tasks.shutdown().await;
            if let Some(t) = restoring.take() {
                t.abort();
                let _ = t.await;
            }
            run::finish(&session.run, Default::default(), Instant::now()).await
        }
    }
}

/// The segments the recorder's playlists name, and whether any says the recording ended.
fn recorder_state(files: &[LocalFile]) -> (HashSet<String>, bool) {
    let mut named = HashSet::new();
    let mut ended = false;
    for p in files.iter().filter(|f| f.is_playlist()) {
        let Ok(text) = std::fs::read_to_string(&p.path) else {
            continue;
        };
        if let Ok((segments, _)) = plan::referenced_segments(&p.rel, &text) {
            named.extend(segments);
        }
        ended |= text.lines().any(|l| l.trim() == "#EXT-X-ENDLIST");
    }
    (named, ended)
}
