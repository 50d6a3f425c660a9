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
use tokio::sync::Semaphore;

use crate::growing::{self, Published};
use crate::journal::State;
use crate::plan::{self, LocalFile};
use crate::run::{self, Run};
use crate::{Ended, Options, Summary, Targets};

/// A recording being uploaded as it is made.
#[derive(Clone)]
pub struct Session {
    run: Arc<Run>,
    slots: Arc<Semaphore>,
    started: Instant,
    /// What the bucket holds of each growing playlist, per playlist key (it only grows).
    published: Arc<tokio::sync::Mutex<HashMap<String, Published>>>,
}

impl Session {
    /// Opens (or resumes, after a crash) the upload of the recording in `dir`.
    pub async fn open(dir: &Path, targets: &Targets, opts: &Options) -> Result<Self> {
        let mut run = run::open_run(dir, targets, opts)?;
        run.primary_retry = live_budget(&opts.retry);
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

    /// Publishes the recorder's playlist as far as the primary bucket holds its segments, in
    /// the recorder's own lines ([`crate::growing`]): the bucket's copy only grows, whatever
    /// half-written or sliding-window read the recorder's file gives. Returns how many
    /// segments the bucket's copy names.
    pub async fn publish_partial(&self, playlist: &Path) -> Result<usize> {
        self.publish_growing(playlist, false).await
    }

    async fn publish_growing(&self, playlist: &Path, close: bool) -> Result<usize> {
        let f = self.local_file(playlist)?;
        let text = tokio::fs::read_to_string(&f.path)
            .await
            .map_err(|e| Error::local_io(&f.path, e))?;
        let (_, outside) = plan::referenced_segments(&f.rel, &text)?;
        if let Some(uri) = outside.first() {
            return Err(Error::invalid_input(format!(
                "{} names `{}`, which is outside the recording (a `..` path, an absolute path or a URL): not published",
                f.rel,
                plan::shorten(uri)
            )));
        }
        let read = growing::read(&text);
        let key = plan::key_for(&self.run.opts.prefix, &f.rel);
        // One publication of a playlist at a time: the state is only advanced by a write the
        // bucket confirmed.
        let mut all = self.published.lock().await;
        let published = all.entry(key.clone()).or_default();
        let more = published.next_blocks(&read, |uri| self.confirmed(&f.rel, uri));
        if more.is_empty() && !close {
            return Ok(published.segments());
        }
        let body = bytes::Bytes::from(published.text_with(&read, &more, close));
        let primary = &self.run.targets.primary;
        let meta = self
            .run
            .opts
            .retry
            .run(&key, |_| {
                run::put_confirmed_bytes(primary.as_ref(), &key, body.clone())
            })
            .await?;
        published.appended(&read, more);
        let count = published.segments();
        drop(all);
        if close {
            run::closed_playlist(&self.run, &f, &key, &meta, body.len() as u64)?;
        }
        self.run.emit_partial(&key, count);
        Ok(count)
    }

    /// Whether the segment `uri` (named by the playlist `playlist_rel`) is confirmed in the
    /// primary bucket.
    fn confirmed(&self, playlist_rel: &str, uri: &str) -> bool {
        let Some(rel) = plan::resolve_in(playlist_rel, uri) else {
            return false;
        };
        let key = plan::key_for(&self.run.opts.prefix, &rel);
        matches!(self.run.journal.get(&key), Ok(Some(e)) if e.state == State::Primary)
    }

    /// Closes every playlist the recorder left open (no ENDLIST) as a complete VOD: its
    /// confirmed lines plus `#EXT-X-ENDLIST`, once every segment it names is confirmed.
    /// Used when a recording ends without ENDLIST (idle timeout, stop, deadline).
    pub async fn close_open_playlists(&self) -> Vec<String> {
        let mut closed = Vec::new();
        let Ok(files) = plan::scan(&self.run.dir) else {
            return closed;
        };
        for f in files.iter().filter(|f| f.is_playlist()) {
            let Ok(text) = std::fs::read_to_string(&f.path) else {
                continue;
            };
            let read = growing::read(&text);
            let all_confirmed = read.blocks.iter().all(|b| self.confirmed(&f.rel, &b.uri));
            if read.ended || read.blocks.is_empty() || !all_confirmed {
                continue;
            }
            match self.publish_growing(&f.path, true).await {
                Ok(_) => closed.push(plan::key_for(&self.run.opts.prefix, &f.rel)),
                Err(e) => {
                    tracing::warn!(playlist = %f.rel, error = %e, "could not close the playlist")
                }
            }
        }
        closed
    }

    /// Ends the session: publishes every playlist whose segments are all confirmed, writes
    /// the manifest and summarises. Files never submitted are sent first.
    /// Moves what went to the backup bucket into the primary, if the primary answers again.
    /// Returns the keys moved. Cheap when nothing is in the backup.
    pub async fn restore_from_backup(&self) -> Vec<String> {
        run::restore_pass(&self.run).await
    }

    pub async fn finish(self) -> Result<Summary> {
        self.finish_as(None).await
    }

    /// Ends the session as [`Session::finish`] does, recording how the recording ended in
    /// the summary and the manifest.
    pub async fn finish_ended(self, ended: Ended) -> Result<Summary> {
        self.finish_as(Some(ended)).await
    }

    async fn finish_as(self, ended: Option<Ended>) -> Result<Summary> {
        let files = run::scan_reporting(&self.run)?;
        for f in &files {
            let key = plan::key_for(&self.run.opts.prefix, &f.rel);
            self.run
                .journal
                .register(&key, &f.path, f.size, f.mtime_ns)?;
        }
        run::send_pending(&self.run, &files).await;
        let published = run::publish_playlists(&self.run, &files).await;
        run::finish(&self.run, published, self.started, ended).await
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
    /// When the recording ends without ENDLIST (idle, stop, deadline), close the bucket's
    /// playlist as a complete VOD (its lines plus `#EXT-X-ENDLIST`). Off: it stays open, for
    /// those who resume the same recording later.
    pub close_on_idle: bool,
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
            close_on_idle: true,
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
    let mut publishing: Option<tokio::task::JoinHandle<()>> = None;
    let end;
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
        // The playlist is published on its own schedule, in the background: its retries
        // never hold up the segments (no head-of-line blocking during an outage).
        if last_publish.elapsed() >= w.playlist_every
            && publishing.as_ref().is_none_or(|t| t.is_finished())
        {
            let (s, playlists) = (session.clone(), playlist_paths(&files));
            publishing = Some(tokio::spawn(async move {
                for p in playlists {
                    if let Err(e) = s.publish_partial(&p).await {
                        tracing::debug!(error = %e, "growing playlist not published this time");
                    }
                }
            }));
            last_publish = Instant::now();
        }
        let all_named_sent = named.iter().all(|r| submitted.contains(r));
        if ended && all_named_sent {
            end = Ended::EndList;
            break;
        }
        if w.stop.load(Ordering::SeqCst) {
            end = Ended::Stopped;
            break;
        }
        if last_change.elapsed() >= w.idle_timeout {
            end = Ended::Idle;
            break;
        }
        tokio::time::sleep(w.poll).await;
    }
    let drain = async {
        while tasks.join_next().await.is_some() {}
        if let Some(t) = restoring.take() {
            let _ = t.await;
        }
        if let Some(t) = publishing.take() {
            let _ = t.await;
        }
        if w.restore_every.is_some() {
            session.restore_from_backup().await;
        }
        if end != Ended::EndList && w.close_on_idle {
            for key in session.close_open_playlists().await {
                session.run.emit_closed(&key, end);
            }
        }
        session.clone().finish_ended(end).await
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
            if let Some(t) = publishing.take() {
                t.abort();
                let _ = t.await;
            }
            let ended = Some(Ended::Deadline);
            run::finish(&session.run, Default::default(), Instant::now(), ended).await
        }
    }
}

fn playlist_paths(files: &[LocalFile]) -> Vec<std::path::PathBuf> {
    files
        .iter()
        .filter(|f| f.is_playlist())
        .map(|f| f.path.clone())
        .collect()
}

/// The retry budget of a segment on the primary while recording: a few quick attempts
/// (about 2 s), then the backup, so that a segment finished during an outage is in some
/// bucket within seconds; `restore_every` and the end of the recording move it back.
fn live_budget(retry: &stowage_core::retry::RetryPolicy) -> stowage_core::retry::RetryPolicy {
    stowage_core::retry::RetryPolicy {
        max_attempts: retry.max_attempts.min(3),
        initial_backoff: retry.initial_backoff.min(Duration::from_millis(200)),
        max_backoff: retry.max_backoff.min(Duration::from_secs(1)),
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
