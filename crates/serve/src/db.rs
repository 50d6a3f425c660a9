//! The state file (SQLite, WAL, `synchronous = FULL`): every accepted event, each
//! recording's state, the job table (the embedded queue, or the outbox NATS is fed from) and
//! the reports.
//!
//! Events are written by one thread that commits whatever has arrived meanwhile in one
//! transaction (group commit): one fsync for many webhooks, and each webhook answered only
//! after the commit that holds it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Value, json};
use stowage_core::{Error, ErrorKind, Result};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::config::Jobs;
use crate::job::{Job, LostSlice, Reason, StoredReport, now_ms};
use crate::ncs::{Notification, event};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    sid TEXT NOT NULL, event_type INTEGER NOT NULL, seq TEXT NOT NULL,
    notice_id TEXT NOT NULL, app TEXT, received_ms INTEGER NOT NULL, body BLOB NOT NULL,
    copies INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sid, event_type, seq));
CREATE TABLE IF NOT EXISTS recordings (
    sid TEXT PRIMARY KEY, app TEXT, cname TEXT, first_ms INTEGER NOT NULL,
    started_ms INTEGER, uploaded_ms INTEGER, backuped_ms INTEGER,
    left_ms INTEGER, leave_code INTEGER,
    file_list TEXT NOT NULL DEFAULT '[]',
    verify_job TEXT, reverify_due_ms INTEGER, reverify_job TEXT);
CREATE INDEX IF NOT EXISTS recordings_unverified ON recordings (first_ms) WHERE verify_job IS NULL;
CREATE TABLE IF NOT EXISTS lost_slices (
    sid TEXT NOT NULL, after_ms INTEGER NOT NULL, resumed_ms INTEGER NOT NULL,
    PRIMARY KEY (sid, after_ms, resumed_ms));
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY, sid TEXT NOT NULL, reason TEXT NOT NULL, body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, not_before INTEGER NOT NULL,
    lease_until INTEGER, lease_owner TEXT, last_error TEXT,
    published INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, not_before);
CREATE TABLE IF NOT EXISTS reports (
    job_key TEXT PRIMARY KEY, sid TEXT NOT NULL, reason TEXT NOT NULL, verdict TEXT NOT NULL,
    attempt INTEGER NOT NULL, worker TEXT NOT NULL, finished_ms INTEGER NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reports_sid ON reports (sid);
";

fn db_err(path: &Path, e: rusqlite::Error) -> Error {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
            ErrorKind::DiskFull
        }
        _ => ErrorKind::Journal,
    };
    Error::new(
        kind,
        format!("the state file {} failed: {e}", path.display()),
    )
}

/// How long opening waits for other processes on the same state file.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// Opens (creating) the state file with the service's settings.
fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
    conn.busy_timeout(BUSY_WAIT).map_err(|e| db_err(path, e))?;
    let settings = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";
    while_busy(|| conn.execute_batch(settings)).map_err(|e| db_err(path, e))?;
    Ok(conn)
}

/// Runs `f` again while SQLite says another connection holds the file, up to [`BUSY_WAIT`].
///
/// The busy timeout alone is not enough when a receiver and its workers open a new state file
/// together: switching to WAL and creating the schema need the lock a reader already holds,
/// and SQLite answers that deadlock with an immediate "database is locked" instead of waiting.
fn while_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_WAIT;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// What recording one notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A new event, durably stored.
    New { enqueued: Option<String> },
    /// A copy of an event already stored (same sid, eventType, sequence).
    Duplicate,
    /// Not a Cloud Recording event about a recording (a Console test event, another product).
    Ignored,
}

struct Pending {
    app: Option<String>,
    body: bytes::Bytes,
    notification: Notification,
    reply: oneshot::Sender<Result<Recorded>>,
}

/// The state file, shared by the receiver, the sweeper, the embedded queue and the reports.
pub struct Db {
    path: PathBuf,
    conn: Mutex<Connection>,
    writer: mpsc::UnboundedSender<Pending>,
    jobs_cfg: Jobs,
    /// Woken after a commit that enqueued jobs (in-process workers, the NATS relay).
    pub enqueued: Arc<Notify>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Db {
    /// Opens the state file and starts its writer thread.
    pub fn open(path: &Path, jobs_cfg: Jobs) -> Result<Arc<Db>> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::local_io(dir, e))?;
        }
        let conn = connect(path)?;
        while_busy(|| conn.execute_batch(SCHEMA)).map_err(|e| db_err(path, e))?;
        let writer_conn = connect(path)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let enqueued = Arc::new(Notify::new());
        let db = Arc::new(Db {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            writer: tx,
            jobs_cfg: jobs_cfg.clone(),
            enqueued: Arc::clone(&enqueued),
        });
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("stowage-serve-writer".into())
            .spawn(move || write_loop(writer_conn, rx, &path, &jobs_cfg, &enqueued))
            .map_err(|e| Error::new(ErrorKind::Other, format!("cannot start the writer: {e}")))?;
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records one verified notification; returns once it is committed.
    pub async fn record(
        &self,
        app: Option<String>,
        body: bytes::Bytes,
        notification: Notification,
    ) -> Result<Recorded> {
        let (reply, rx) = oneshot::channel();
        let stopped = || Error::new(ErrorKind::Other, "the state writer has stopped");
        self.writer
            .send(Pending {
                app,
                body,
                notification,
                reply,
            })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Runs `f` on the shared connection, off the async threads.
    pub async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Connection, &Path) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = db.conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, &db.path).map_err(|e| db_err(&db.path, e))
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("state task failed: {e}")))?
    }

    /// The sweeper's pass: a verification for every recording with no 31/32 whose first
    /// event is older than the grace period, and the sampled re-verifications now due.
    /// Returns the keys enqueued.
    pub async fn sweep(self: &Arc<Self>) -> Result<Vec<String>> {
        let cfg = self.jobs_cfg.clone();
        let keys = self
            .with(move |conn, _| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = now_ms();
                let cutoff = now - cfg.grace.as_millis() as i64;
                let mut keys = Vec::new();
                let lost: Vec<(String, Option<String>, Option<String>, String)> = tx
                    .prepare(
                        "SELECT sid, app, cname, file_list FROM recordings
                         WHERE verify_job IS NULL AND first_ms <= ?1",
                    )?
                    .query_map([cutoff], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                for (sid, app, cname, files) in lost {
                    let job = build_job(&tx, &sid, Reason::Swept, app, cname, &files, now)?;
                    if enqueue(&tx, &job, now, &cfg)? {
                        keys.push(job.key);
                    }
                }
                let due: Vec<(String, Option<String>, Option<String>, String)> = tx
                    .prepare(
                        "SELECT sid, app, cname, file_list FROM recordings
                         WHERE reverify_job IS NULL AND reverify_due_ms <= ?1",
                    )?
                    .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                for (sid, app, cname, files) in due {
                    let job = build_job(&tx, &sid, Reason::Reverify, app, cname, &files, now)?;
                    if enqueue(&tx, &job, now, &cfg)? {
                        keys.push(job.key);
                    }
                }
                tx.commit()?;
                Ok(keys)
            })
            .await?;
        if !keys.is_empty() {
            self.enqueued.notify_waiters();
        }
        Ok(keys)
    }

    /// Stores a report (once per job: a redelivered job's second report is dropped) and
    /// marks its job done, or dead for a dead-letter report.
    pub async fn store_report(self: &Arc<Self>, report: StoredReport) -> Result<bool> {
        self.with(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let new = insert_report(&tx, &report)?;
            let state = if report.verdict == "dead" {
                "dead"
            } else {
                "done"
            };
            tx.execute(
                "UPDATE jobs SET state = ?2, lease_owner = NULL, lease_until = NULL WHERE key = ?1",
                params![report.job_key, state],
            )?;
            tx.commit()?;
            Ok(new)
        })
        .await
    }

    /// `GET /recordings/<sid>`: the recording's state and its reports, newest last.
    pub async fn recording(self: &Arc<Self>, sid: String) -> Result<Option<Value>> {
        self.with(move |conn, _| recording_json(conn, &sid)).await
    }

    /// Counts for tests and the load generator: recordings known, reports by reason.
    pub async fn summary(self: &Arc<Self>) -> Result<Value> {
        self.with(|conn, _| {
            let recordings: i64 =
                conn.query_row("SELECT count(*) FROM recordings", [], |r| r.get(0))?;
            let events: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
            let mut by_state = serde_json::Map::new();
            let mut stmt = conn.prepare("SELECT state, count(*) FROM jobs GROUP BY state")?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (s, n) = row?;
                by_state.insert(s, n.into());
            }
            let mut reports = serde_json::Map::new();
            let mut stmt = conn.prepare("SELECT reason, count(*) FROM reports GROUP BY reason")?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (s, n) = row?;
                reports.insert(s, n.into());
            }
            let verified_sids: i64 = conn.query_row(
                "SELECT count(DISTINCT sid) FROM reports WHERE reason != 'reverify'",
                [],
                |r| r.get(0),
            )?;
            Ok(json!({
                "recordings": recordings,
                "events": events,
                "jobs": by_state,
                "reports": reports,
                "verified_recordings": verified_sids,
            }))
        })
        .await
    }
}

pub(crate) fn insert_report(tx: &Connection, report: &StoredReport) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO reports (job_key, sid, reason, verdict, attempt, worker, finished_ms, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            report.job_key,
            report.sid,
            report.reason.as_str(),
            report.verdict,
            report.attempt,
            report.worker,
            report.finished_ms,
            report.body.to_string()
        ],
    )?;
    Ok(n == 1)
}

fn write_loop(
    mut conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    path: &Path,
    cfg: &Jobs,
    enqueued: &Notify,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let result = (|| -> rusqlite::Result<Vec<Recorded>> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut out = Vec::with_capacity(batch.len());
            for p in &batch {
                out.push(apply(&tx, p, cfg)?);
            }
            tx.commit()?;
            Ok(out)
        })();
        match result {
            Ok(outcomes) => {
                let any_job = outcomes
                    .iter()
                    .any(|o| matches!(o, Recorded::New { enqueued: Some(_) }));
                for (p, o) in batch.into_iter().zip(outcomes) {
                    let _ = p.reply.send(Ok(o));
                }
                if any_job {
                    enqueued.notify_waiters();
                }
            }
            Err(e) => {
                let msg = db_err(path, e).to_string();
                tracing::error!("recording notifications failed: {msg}");
                for p in batch {
                    let _ = p
                        .reply
                        .send(Err(Error::new(ErrorKind::Journal, msg.clone())));
                }
            }
        }
    }
}

/// Applies one notification inside the writer's transaction.
fn apply(tx: &Connection, p: &Pending, cfg: &Jobs) -> rusqlite::Result<Recorded> {
    let n = &p.notification;
    let Some(sid) = n.sid.as_deref() else {
        return Ok(Recorded::Ignored);
    };
    if n.product_id
        .is_some_and(|id| id != crate::ncs::PRODUCT_CLOUD_RECORDING)
    {
        return Ok(Recorded::Ignored);
    }
    let now = now_ms();
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO events (sid, event_type, seq, notice_id, app, received_ms, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            sid,
            n.event_type,
            n.sequence_key(),
            n.notice_id,
            p.app,
            now,
            &p.body[..]
        ],
    )?;
    if inserted == 0 {
        tx.execute(
            "UPDATE events SET copies = copies + 1 WHERE sid = ?1 AND event_type = ?2 AND seq = ?3",
            params![sid, n.event_type, n.sequence_key()],
        )?;
        return Ok(Recorded::Duplicate);
    }
    tx.execute(
        "INSERT INTO recordings (sid, app, cname, first_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (sid) DO UPDATE SET app = coalesce(app, ?2), cname = coalesce(cname, ?3)",
        params![sid, p.app, n.cname, now],
    )?;
    let set_time = |column: &str| {
        tx.execute(
            &format!("UPDATE recordings SET {column} = coalesce({column}, ?2) WHERE sid = ?1"),
            params![sid, now],
        )
    };
    let files: Vec<String> = n.file_list().into_iter().map(|f| f.file_name).collect();
    if !files.is_empty() {
        let old: String = tx.query_row(
            "SELECT file_list FROM recordings WHERE sid = ?1",
            [sid],
            |r| r.get(0),
        )?;
        let mut all: Vec<String> = serde_json::from_str(&old).unwrap_or_default();
        for f in files {
            if !all.contains(&f) {
                all.push(f);
            }
        }
        tx.execute(
            "UPDATE recordings SET file_list = ?2 WHERE sid = ?1",
            params![
                sid,
                serde_json::to_string(&all).unwrap_or_else(|_| "[]".into())
            ],
        )?;
    }
    let mut enqueued = None;
    match n.event_type {
        event::UPLOADER_STARTED | event::RECORDER_STARTED => {
            set_time("started_ms")?;
        }
        event::UPLOADED | event::BACKUPED => {
            let (column, reason) = if n.event_type == event::UPLOADED {
                ("uploaded_ms", Reason::Uploaded)
            } else {
                ("backuped_ms", Reason::Backuped)
            };
            set_time(column)?;
            let (app, cname, files): (Option<String>, Option<String>, String) = tx.query_row(
                "SELECT app, cname, file_list FROM recordings WHERE sid = ?1",
                [sid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let job = build_job(tx, sid, reason, app, cname, &files, now)?;
            if enqueue(tx, &job, now, cfg)? {
                enqueued = Some(job.key);
            } else if reason == Reason::Uploaded {
                // 31 after 32: the files are in the bucket now, no need to wait any longer.
                tx.execute(
                    "UPDATE jobs SET not_before = min(not_before, ?2)
                     WHERE key = ?1 AND state = 'pending' AND published = 0",
                    params![job.key, now],
                )?;
            }
        }
        event::RECORDER_LEAVE => {
            set_time("left_ms")?;
            if let Some(code) = n.leave_code() {
                tx.execute(
                    "UPDATE recordings SET leave_code = ?2 WHERE sid = ?1",
                    params![sid, code],
                )?;
            }
        }
        event::RECORDER_SLICE_START => {
            if let Some((after, resumed)) = n.slice_gap() {
                tx.execute(
                    "INSERT OR IGNORE INTO lost_slices (sid, after_ms, resumed_ms) VALUES (?1, ?2, ?3)",
                    params![sid, after, resumed],
                )?;
            }
        }
        _ => {}
    }
    Ok(Recorded::New { enqueued })
}

fn build_job(
    tx: &Connection,
    sid: &str,
    reason: Reason,
    app: Option<String>,
    cname: Option<String>,
    files: &str,
    now: i64,
) -> rusqlite::Result<Job> {
    let lost_slices = tx
        .prepare("SELECT after_ms, resumed_ms FROM lost_slices WHERE sid = ?1 ORDER BY after_ms")?
        .query_map([sid], |r| {
            Ok(LostSlice {
                after_ms: r.get(0)?,
                resumed_ms: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let key = match reason {
        Reason::Reverify => Job::reverify_key(sid),
        _ => Job::verify_key(sid),
    };
    Ok(Job {
        key,
        sid: sid.to_string(),
        reason,
        app,
        cname,
        file_list: serde_json::from_str(files).unwrap_or_default(),
        lost_slices,
        created_ms: now,
    })
}

/// Inserts a job unless one with its key exists; records it on the recording. True when new.
fn enqueue(tx: &Connection, job: &Job, now: i64, cfg: &Jobs) -> rusqlite::Result<bool> {
    let delay = match job.reason {
        Reason::Backuped => cfg.backuped_delay.as_millis() as i64,
        _ => 0,
    };
    let body = serde_json::to_string(job).unwrap_or_default();
    let n = tx.execute(
        "INSERT OR IGNORE INTO jobs (key, sid, reason, body, not_before, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            job.key,
            job.sid,
            job.reason.as_str(),
            body,
            now + delay,
            now
        ],
    )?;
    if n == 0 {
        return Ok(false);
    }
    if job.reason == Reason::Reverify {
        tx.execute(
            "UPDATE recordings SET reverify_job = ?2 WHERE sid = ?1",
            params![job.sid, job.key],
        )?;
    } else {
        let due = sampled(&job.sid, cfg.reverify_sample)
            .then(|| now + cfg.reverify_after.as_millis() as i64);
        tx.execute(
            "UPDATE recordings SET verify_job = ?2, reverify_due_ms = ?3 WHERE sid = ?1",
            params![job.sid, job.key, due],
        )?;
    }
    Ok(true)
}

/// Whether `sid` is in the re-verified sample: a stable hash, so a restart chooses alike.
fn sampled(sid: &str, share: f64) -> bool {
    if share <= 0.0 {
        return false;
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in sid.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    ((h % 1_000_000) as f64) < share * 1_000_000.0
}

fn recording_json(conn: &Connection, sid: &str) -> rusqlite::Result<Option<Value>> {
    let row = conn
        .query_row(
            "SELECT app, cname, first_ms, started_ms, uploaded_ms, backuped_ms, left_ms, leave_code,
                    file_list, verify_job, reverify_due_ms
             FROM recordings WHERE sid = ?1",
            [sid],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Option<i64>>(10)?,
                ))
            },
        )
        .optional()?;
    let Some((app, cname, first, started, uploaded, backuped, left, leave_code, files, job, due)) =
        row
    else {
        return Ok(None);
    };
    let lost: Vec<Value> = conn
        .prepare("SELECT after_ms, resumed_ms FROM lost_slices WHERE sid = ?1 ORDER BY after_ms")?
        .query_map([sid], |r| {
            Ok(json!({"after_ms": r.get::<_, i64>(0)?, "resumed_ms": r.get::<_, i64>(1)?}))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let events: Vec<Value> = conn
        .prepare(
            "SELECT event_type, seq, copies, received_ms FROM events WHERE sid = ?1
             ORDER BY received_ms, event_type",
        )?
        .query_map([sid], |r| {
            Ok(json!({
                "event_type": r.get::<_, i64>(0)?,
                "sequence": r.get::<_, String>(1)?,
                "copies": r.get::<_, i64>(2)?,
                "received_ms": r.get::<_, i64>(3)?,
            }))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let job_state: Option<(String, i64, Option<String>)> = match &job {
        Some(key) => conn
            .query_row(
                "SELECT state, attempts, last_error FROM jobs WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?,
        None => None,
    };
    let reports: Vec<Value> = conn
        .prepare(
            "SELECT job_key, reason, verdict, attempt, worker, finished_ms, body FROM reports
             WHERE sid = ?1 ORDER BY finished_ms",
        )?
        .query_map([sid], |r| {
            let body: String = r.get(6)?;
            Ok(json!({
                "job_key": r.get::<_, String>(0)?,
                "reason": r.get::<_, String>(1)?,
                "verdict": r.get::<_, String>(2)?,
                "attempt": r.get::<_, i64>(3)?,
                "worker": r.get::<_, String>(4)?,
                "finished_ms": r.get::<_, i64>(5)?,
                "report": serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
            }))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let verifications = reports.iter().filter(|r| r["reason"] != "reverify").count();
    Ok(Some(json!({
        "sid": sid,
        "app": app,
        "cname": cname,
        "first_event_ms": first,
        "started_ms": started,
        "uploaded_ms": uploaded,
        "backuped_ms": backuped,
        "left_ms": left,
        "leave_code": leave_code,
        "leave_reasons": leave_code.map(crate::ncs::leave_reasons),
        "file_list": serde_json::from_str::<Value>(&files).unwrap_or(Value::Null),
        "lost_slices": lost,
        "events": events,
        "job": job_state.map(|(state, attempts, err)| json!({
            "key": job, "state": state, "attempts": attempts, "last_error": err,
        })),
        "reverify_due_ms": due,
        "verifications": verifications,
        "verdict": reports.last().map(|r| r["verdict"].clone()),
        "reports": reports,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver and its workers start together on a new state file: every one of them
    /// must open it (the journal-mode switch and the schema race each other).
    #[test]
    fn processes_starting_together_all_open_a_new_state_file() {
        for round in 0..100 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.db");
            let opened: Vec<_> = (0..6)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || Db::open(&path, Jobs::default()).map(|_| ()))
                })
                .collect();
            for t in opened {
                let r = t.join().unwrap();
                assert!(r.is_ok(), "round {round}: {:?}", r.err());
            }
        }
    }
}
