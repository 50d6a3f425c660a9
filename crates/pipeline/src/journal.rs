//! The journal: an embedded SQLite database beside the spool that records every object's
//! state, so that after a crash (`kill -9` included) a restart sends nothing twice, resumes
//! multipart uploads from their upload id, and loses nothing.
//!
//! WAL mode with `synchronous = NORMAL`: a committed transaction survives the process being
//! killed (it is in the WAL file); only a power loss can take back the last ones, and then
//! the object is merely sent again.
//!
//! Changes are committed in batches, many objects' state changes in one transaction, so
//! small segments do not pay a commit each. What a batch not yet committed can lose on
//! `kill -9`, and why nothing is sent twice for it:
//! - a landing: before an object's first byte is sent, the run *claims* it, durably
//!   ([`Journal::claim`], one commit per [`CLAIM_AHEAD`] objects); the next run finds a
//!   claimed object that is not known to have landed ([`Entry::maybe_sent`]) and asks the
//!   bucket (one HEAD, proof by checksum) before sending it;
//! - checksums, attempts, failures: computed or tried again.
//!
//! Whatever must be durable before the caller acts commits at once: claims, multipart
//! upload ids, settings (a completion in flight), and [`Journal::flush`], which the run
//! calls before deleting a local file (`delete_after_verify`) or an object's backup copy.
//!
//! A damaged journal (not a database, truncated, failing `PRAGMA quick_check`, or with
//! another schema) is never fatal: [`Journal::open`] renames it, with its `-wal`/`-shm`,
//! to `<name>.corrupt-<unix time>`, logs a warning naming both paths, and starts a new one,
//! which remembers where the old one went ([`Journal::recovered_from`]). Every other SQLite
//! failure is an [`ErrorKind::Journal`] error naming the journal's path (a full disk:
//! [`ErrorKind::DiskFull`]).
//!
//! The journal does not lock anything itself: one uploader per spool is the run's job
//! (`crate::lock`), and it takes that lock before opening the journal.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use stowage_core::{Checksums, Error, ErrorKind, Result};

/// Where an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Not yet confirmed in any bucket.
    Pending,
    /// Confirmed in the primary bucket.
    Primary,
    /// Confirmed in the backup bucket only.
    Backup,
    /// Gave up (no backup, or the backup failed too); the local file is kept.
    Failed,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Primary => "primary",
            State::Backup => "backup",
            State::Failed => "failed",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "primary" => State::Primary,
            "backup" => State::Backup,
            "failed" => State::Failed,
            _ => State::Pending,
        }
    }

    /// In some bucket.
    pub fn landed(self) -> bool {
        matches!(self, State::Primary | State::Backup)
    }
}

/// One object of the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub state: State,
    /// Checksums of the local file, computed once.
    pub local: Option<Checksums>,
    /// Checksums the bucket returned.
    pub stored: Option<Checksums>,
    pub etag: Option<String>,
    /// The multipart upload in progress for this object, if any.
    pub upload_id: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Claimed to be sent by an earlier run that ended before recording whether it landed
    /// (see [`Journal::claim`]): the bucket may hold it already; ask before sending again.
    pub maybe_sent: bool,
}

/// The journal of one recording upload.
///
/// Reads come from memory; changes are committed in batches (one SQLite transaction for
/// many of them): by a flusher thread every [`FLUSH_EVERY`], at once when a change must be
/// durable before the caller goes on (a claim, a multipart upload id, a setting, an
/// explicit [`Journal::flush`]), and when the journal is dropped.
pub struct Journal {
    shared: Arc<Shared>,
    flusher: Option<std::thread::JoinHandle<()>>,
    recovered_from: Option<PathBuf>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.shared.path.display())
    }
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| journal_error(path, e)
}

/// A SQLite failure on the journal at `path`: [`ErrorKind::DiskFull`] when SQLite says the
/// disk is full (`SQLITE_FULL`), else [`ErrorKind::Journal`]; the message names the path.
pub(crate) fn journal_error(path: &Path, e: rusqlite::Error) -> Error {
    let (kind, message) = match sqlite_code(&e) {
        Some(ErrorCode::DiskFull) => (
            ErrorKind::DiskFull,
            format!(
                "the filesystem is full at {} (the upload journal): {e}",
                path.display()
            ),
        ),
        _ => (
            ErrorKind::Journal,
            format!("journal {}: {e}", path.display()),
        ),
    };
    Error::new(kind, message).with_source(e)
}

/// SQLite's result code, also for errors rusqlite reports with the SQL text.
fn sqlite_code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        rusqlite::Error::SqlInputError { error, .. } => Some(error.code),
        _ => None,
    }
}

/// Settings of every connection.
const PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
";

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    key        TEXT PRIMARY KEY,
    path       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    state      TEXT NOT NULL,
    local      TEXT,
    stored     TEXT,
    etag       TEXT,
    upload_id  TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY);
";

/// The `meta` key holding the path a damaged predecessor was moved to.
const RECOVERED_FROM: &str = "recovered_from";

/// Files SQLite keeps beside a database (WAL, shared memory, rollback journal): moved with
/// it, since a stale `-wal` beside a new database would be replayed into it.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Why a journal file could not be opened.
enum Opening {
    /// The file is not a usable journal: move it aside and start anew. The connection, if
    /// one was made, is kept open until then: closing it deletes the `-wal` and `-shm`.
    Damaged {
        why: String,
        conn: Option<Box<Connection>>,
    },
    /// Anything else (permissions, a full disk, a busy database): the caller's error.
    Failed(Error),
}

impl Opening {
    fn damaged(why: impl Into<String>) -> Self {
        Opening::Damaged {
            why: why.into(),
            conn: None,
        }
    }

    fn from_sqlite(path: &Path, e: rusqlite::Error) -> Self {
        match sqlite_code(&e) {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                Opening::damaged(e.to_string())
            }
            _ => Opening::Failed(journal_error(path, e)),
        }
    }

    fn into_error(self, path: &Path) -> Error {
        match self {
            Opening::Failed(e) => e,
            Opening::Damaged { why, .. } => Error::new(
                ErrorKind::Journal,
                format!("journal {}: {why}", path.display()),
            ),
        }
    }
}

/// Opens the database at `path`, proves it is a journal (see [`check`]), and sets it up.
fn open_checked(path: &Path) -> std::result::Result<Connection, Opening> {
    let conn = Connection::open(path).map_err(|e| Opening::from_sqlite(path, e))?;
    match check(path, &conn) {
        Ok(()) => {}
        Err(Opening::Damaged { why, .. }) => {
            return Err(Opening::Damaged {
                why,
                conn: Some(Box::new(conn)),
            });
        }
        Err(failed) => return Err(failed),
    }
    conn.execute_batch(PRAGMAS)
        .and_then(|()| conn.execute_batch(TABLES))
        .map_err(|e| Opening::from_sqlite(path, e))?;
    Ok(conn)
}

/// Reads, without writing: the pages pass `PRAGMA quick_check`, and the tables already
/// there read back with the expected columns and types (more columns or tables are
/// allowed: a newer version's journal).
fn check(path: &Path, conn: &Connection) -> std::result::Result<(), Opening> {
    let sqlite = |e| Opening::from_sqlite(path, e);
    let problems: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA quick_check(5)").map_err(sqlite)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(sqlite)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sqlite)?
    };
    if problems != ["ok"] {
        let mut why = problems.join("; ").replace('\n', " ");
        if why.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|&i| why.is_char_boundary(i))
                .unwrap_or(0);
            why.truncate(cut);
            why.push('…');
        }
        return Err(Opening::damaged(format!("integrity check failed: {why}")));
    }
    // Another schema (or values of other types) under our table names: not our journal.
    let schema = |e: rusqlite::Error| match sqlite_code(&e) {
        None | Some(ErrorCode::Unknown | ErrorCode::TypeMismatch) => {
            Opening::damaged(format!("not a Stowage journal: {e}"))
        }
        _ => Opening::from_sqlite(path, e),
    };
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
            .map_err(sqlite)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(sqlite)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sqlite)?
    };
    if tables.iter().any(|t| t == "meta") {
        let mut stmt = conn.prepare("SELECT k, v FROM meta").map_err(schema)?;
        let mut rows = stmt.query([]).map_err(schema)?;
        while let Some(row) = rows.next().map_err(schema)? {
            row.get::<_, String>(0)
                .and_then(|_| row.get::<_, String>(1))
                .map_err(schema)?;
        }
    }
    if tables.iter().any(|t| t == "claims") {
        let mut stmt = conn.prepare("SELECT key FROM claims").map_err(schema)?;
        let mut rows = stmt.query([]).map_err(schema)?;
        while let Some(row) = rows.next().map_err(schema)? {
            row.get::<_, String>(0).map_err(schema)?;
        }
    }
    if tables.iter().any(|t| t == "objects") {
        let mut stmt = conn.prepare(SELECT).map_err(schema)?;
        let mut rows = stmt.query([]).map_err(schema)?;
        while let Some(row) = rows.next().map_err(schema)? {
            row_to_entry(row).map_err(schema)?;
        }
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Renames the damaged journal at `path` and its companions to
/// `<name>.corrupt-<unix time>` (`-1`, `-2`… if taken); returns the new path.
fn move_aside(path: &Path, why: &str) -> Result<PathBuf> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let taken = |p: &Path| p.exists() || COMPANIONS.iter().any(|c| with_suffix(p, c).exists());
    let mut aside = with_suffix(path, &format!(".corrupt-{now}"));
    let mut n = 0;
    while taken(&aside) {
        n += 1;
        aside = with_suffix(path, &format!(".corrupt-{now}-{n}"));
    }
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| {
            Error::new(
                ErrorKind::LocalIo,
                format!(
                    "the journal {} is damaged ({why}) and {} could not be moved aside to {}: {e}",
                    path.display(),
                    from.display(),
                    to.display()
                ),
            )
            .with_source(e)
        })
    };
    if path.exists() {
        rename(path, &aside)?;
    }
    for c in COMPANIONS {
        let from = with_suffix(path, c);
        if from.exists() {
            rename(&from, &with_suffix(&aside, c))?;
        }
    }
    Ok(aside)
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads it into memory. A damaged one is
    /// moved aside to `<path>.corrupt-<unix time>` (with its `-wal` and `-shm`), with a
    /// warning, and a new journal is started in its place (see [`Journal::recovered_from`]).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_flushing_every(path, FLUSH_EVERY)
    }

    fn open_flushing_every(path: &Path, every: Duration) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::local_io(dir, e))?;
        }
        let (conn, recovered_from) = match open_checked(path) {
            Ok(conn) => {
                let earlier = conn
                    .query_row("SELECT v FROM meta WHERE k = ?1", [RECOVERED_FROM], |r| {
                        r.get::<_, String>(0)
                    })
                    .optional()
                    .map_err(db_err(path))?;
                (conn, earlier.map(PathBuf::from))
            }
            Err(Opening::Failed(e)) => return Err(e),
            Err(Opening::Damaged { why, conn }) => {
                // Moved while SQLite still has it open, so that closing does not delete
                // its -wal and -shm; closed before the new journal is created.
                let moved = move_aside(path, &why);
                drop(conn);
                let aside = moved?;
                tracing::warn!(
                    journal = %path.display(),
                    moved_to = %aside.display(),
                    reason = %why,
                    "the upload journal was damaged: it was moved aside and a new one is started, with every object registered again from the spool"
                );
                let conn = open_checked(path).map_err(|o| o.into_error(path))?;
                conn.execute(
                    "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                    params![RECOVERED_FROM, aside.to_string_lossy()],
                )
                .map_err(db_err(path))?;
                (conn, Some(aside))
            }
        };
        let mem = load(&conn).map_err(db_err(path))?;
        let shared = Arc::new(Shared {
            every,
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            mem: Mutex::new(mem),
            wake: Condvar::new(),
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("stowage-journal".into())
                .spawn(move || shared.flush_periodically())
                .ok()
        };
        Ok(Journal {
            shared,
            flusher,
            recovered_from,
        })
    }

    /// Where a damaged predecessor of this journal was moved (`<path>.corrupt-<unix time>`),
    /// if this journal was started afresh in its place — by this run or an earlier one (it
    /// is kept in the journal, so a run interrupted after the rebuild still knows). Its
    /// entries start `pending`, though the bucket may already hold them: check the bucket
    /// before sending again.
    pub fn recovered_from(&self) -> Option<&Path> {
        self.recovered_from.as_deref()
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    fn mem(&self) -> MutexGuard<'_, Mem> {
        self.shared.mem()
    }

    #[cfg(test)]
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.shared
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits every change made so far, in one transaction; returns once they are durable
    /// (in the WAL: they survive `kill -9`). Call it before anything that must not happen
    /// unless the journal remembers what came before it (deleting a local file).
    pub fn flush(&self) -> Result<()> {
        self.shared.flush()
    }

    /// Reads a setting.
    pub fn meta(&self, k: &str) -> Result<Option<String>> {
        Ok(self.mem().meta.get(k).cloned())
    }

    /// Writes a setting, durably (committed before this returns).
    pub fn set_meta(&self, k: &str, v: &str) -> Result<()> {
        {
            let mut m = self.mem();
            m.meta.insert(k.to_string(), v.to_string());
            m.dirty_meta.insert(k.to_string());
        }
        self.flush()
    }

    /// Records a local file. A file already journaled keeps its state unless its size or
    /// mtime changed (then it is pending again, to be sent anew).
    pub fn register(&self, key: &str, path: &Path, size: u64, mtime_ns: i64) -> Result<()> {
        let mut m = self.mem();
        match m.entries.get_mut(key) {
            Some(e) if e.size == size && e.mtime_ns == mtime_ns => return Ok(()),
            Some(e) => {
                e.path = path.to_path_buf();
                e.size = size;
                e.mtime_ns = mtime_ns;
                e.state = State::Pending;
                e.local = None;
                e.stored = None;
                e.etag = None;
            }
            None => {
                m.entries.insert(
                    key.to_string(),
                    Entry {
                        key: key.to_string(),
                        path: path.to_path_buf(),
                        size,
                        mtime_ns,
                        state: State::Pending,
                        local: None,
                        stored: None,
                        etag: None,
                        upload_id: None,
                        attempts: 0,
                        last_error: None,
                        maybe_sent: false,
                    },
                );
            }
        }
        m.dirty.insert(key.to_string());
        self.after_change(m)
    }

    pub fn get(&self, key: &str) -> Result<Option<Entry>> {
        Ok(self.mem().entries.get(key).cloned())
    }

    /// Every object, by key.
    pub fn all(&self) -> Result<Vec<Entry>> {
        Ok(self.mem().entries.values().cloned().collect())
    }

    pub fn set_local_checksums(&self, key: &str, sums: &Checksums) -> Result<()> {
        self.change(key, |e| e.local = Some(sums.clone()))
    }

    /// Records (or forgets) the multipart upload in progress, durably: an upload id the
    /// journal lost would leave its parts in the bucket until the stale-upload sweep.
    pub fn set_upload_id(&self, key: &str, upload_id: Option<&str>) -> Result<()> {
        self.change(key, |e| e.upload_id = upload_id.map(str::to_string))?;
        self.flush()
    }

    pub fn record_attempt(&self, key: &str, error: &str) -> Result<()> {
        self.change(key, |e| {
            e.attempts = e.attempts.saturating_add(1);
            e.last_error = Some(error.to_string());
        })
    }

    /// The object is confirmed in a bucket (`state` Primary or Backup). Committed with the
    /// next batch: call [`Journal::flush`] before acting on it irreversibly.
    pub fn landed(
        &self,
        key: &str,
        state: State,
        stored: &Checksums,
        etag: Option<&str>,
    ) -> Result<()> {
        let mut m = self.mem();
        let Some(e) = m.entries.get_mut(key) else {
            return Ok(());
        };
        e.state = state;
        e.stored = Some(stored.clone());
        e.etag = etag.map(str::to_string);
        e.upload_id = None;
        e.last_error = None;
        e.maybe_sent = false;
        m.dirty.insert(key.to_string());
        if m.claims.remove(key).is_some() {
            m.dirty_claims.insert(key.to_string(), false);
        }
        self.after_change(m)
    }

    pub fn failed(&self, key: &str, error: &str) -> Result<()> {
        self.change(key, |e| {
            e.state = State::Failed;
            e.last_error = Some(error.to_string());
        })
    }

    /// Failed objects become pending again (a new run tries them anew).
    pub fn retry_failed(&self) -> Result<()> {
        let mut m = self.mem();
        let Mem { entries, dirty, .. } = &mut *m;
        for e in entries.values_mut().filter(|e| e.state == State::Failed) {
            e.state = State::Pending;
            dirty.insert(e.key.clone());
        }
        self.after_change(m)
    }

    /// Records, durably, that `key` may be sent from now on: call it before the first byte
    /// goes out. A run after a crash then finds [`Entry::maybe_sent`] on an object it does
    /// not know to have landed, and asks the bucket before sending it again (its landing
    /// may have been among the last changes, not yet committed). To commit once per many
    /// objects, a claim also covers the next pending objects in key order (the order a run
    /// sends them); a claimed object that was never sent costs that run one HEAD.
    pub fn claim(&self, key: &str) -> Result<()> {
        {
            let mut m = self.mem();
            match m.claims.get(key) {
                Some(true) => return Ok(()),
                // Being committed by another claim: the flush below waits for it.
                Some(false) => {}
                None => {
                    let Mem {
                        entries,
                        claims,
                        dirty_claims,
                        ..
                    } = &mut *m;
                    let ahead: Vec<String> = entries
                        .range::<str, _>((Bound::Excluded(key), Bound::Unbounded))
                        .filter(|(k, e)| e.state == State::Pending && !claims.contains_key(*k))
                        .take(CLAIM_AHEAD)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in std::iter::once(key.to_string()).chain(ahead) {
                        claims.insert(k.clone(), false);
                        dirty_claims.insert(k, true);
                    }
                }
            }
        }
        self.flush()
    }

    /// Applies `f` to `key`'s entry (if journaled), to be committed with the next batch.
    fn change(&self, key: &str, f: impl FnOnce(&mut Entry)) -> Result<()> {
        let mut m = self.mem();
        if let Some(e) = m.entries.get_mut(key) {
            f(e);
            m.dirty.insert(key.to_string());
        }
        self.after_change(m)
    }

    /// Commits at once when many changes wait (the flusher commits the rest in time).
    fn after_change(&self, m: MutexGuard<'_, Mem>) -> Result<()> {
        let waiting = m.dirty.len() + m.dirty_meta.len() + m.dirty_claims.len();
        drop(m);
        if waiting >= FLUSH_AT || self.flusher.is_none() {
            return self.flush();
        }
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.mem().closing = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.flusher.take() {
            let _ = t.join();
        }
        if let Err(e) = self.shared.flush() {
            tracing::warn!(error = %e, "the last changes to the upload journal were not saved; the next run sends those objects again or asks the bucket first");
        }
    }
}

/// How often deferred changes are committed at the latest. A `kill -9` loses at most the
/// changes of this long: landings (the objects are then looked up before being sent again,
/// see [`Journal::claim`]), checksums (computed again), attempt counts.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// A writer commits at once when this many changes wait.
const FLUSH_AT: usize = 4096;
/// How many further pending objects one claim covers (see [`Journal::claim`]).
const CLAIM_AHEAD: usize = 64;

/// What the journal and its flusher share.
struct Shared {
    /// How often the flusher commits ([`FLUSH_EVERY`]).
    every: Duration,
    path: PathBuf,
    /// Held for the whole of a commit, so that commits happen in order; always taken
    /// before `mem`, never while holding it.
    conn: Mutex<Connection>,
    mem: Mutex<Mem>,
    /// Wakes the flusher to stop.
    wake: Condvar,
}

/// The journal in memory (the truth while the run lives; SQLite is its durable copy) and
/// what changed since the last commit.
#[derive(Default)]
struct Mem {
    entries: BTreeMap<String, Entry>,
    meta: BTreeMap<String, String>,
    /// Keys claimed to be sent ([`Journal::claim`]), true once the claim is committed.
    claims: HashMap<String, bool>,
    dirty: BTreeSet<String>,
    dirty_meta: BTreeSet<String>,
    /// Claims to write (true) or drop (false) at the next commit.
    dirty_claims: BTreeMap<String, bool>,
    closing: bool,
}

/// The changes one commit writes.
#[derive(Default)]
struct Batch {
    rows: Vec<Entry>,
    meta: Vec<(String, String)>,
    claims: Vec<(String, bool)>,
}

impl Mem {
    fn take_batch(&mut self) -> Batch {
        let rows = std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|k| self.entries.get(&k).cloned())
            .collect();
        let meta = std::mem::take(&mut self.dirty_meta)
            .into_iter()
            .filter_map(|k| self.meta.get(&k).map(|v| (k, v.clone())))
            .collect();
        Batch {
            rows,
            meta,
            claims: std::mem::take(&mut self.dirty_claims).into_iter().collect(),
        }
    }

    /// A batch that was not committed waits for the next commit (newer changes win).
    fn put_back(&mut self, batch: Batch) {
        self.dirty.extend(batch.rows.into_iter().map(|e| e.key));
        self.dirty_meta
            .extend(batch.meta.into_iter().map(|(k, _)| k));
        for (k, present) in batch.claims {
            self.dirty_claims.entry(k).or_insert(present);
        }
    }
}

impl Shared {
    fn mem(&self) -> MutexGuard<'_, Mem> {
        self.mem.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits what changed, in one transaction.
    fn flush(&self) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = self.mem().take_batch();
        if batch.rows.is_empty() && batch.meta.is_empty() && batch.claims.is_empty() {
            return Ok(());
        }
        match write_batch(&mut conn, &batch) {
            Ok(()) => {
                let mut m = self.mem();
                for (k, present) in &batch.claims {
                    if let (true, Some(committed)) = (*present, m.claims.get_mut(k)) {
                        *committed = true;
                    }
                }
                Ok(())
            }
            Err(e) => {
                self.mem().put_back(batch);
                Err(journal_error(&self.path, e))
            }
        }
    }

    /// The flusher thread: commits what changed every `self.every` until the journal
    /// closes.
    fn flush_periodically(&self) {
        loop {
            {
                let m = self.mem();
                if m.closing {
                    return;
                }
                let (m, _) = self
                    .wake
                    .wait_timeout(m, self.every)
                    .unwrap_or_else(PoisonError::into_inner);
                if m.closing {
                    return;
                }
            }
            if let Err(e) = self.flush() {
                tracing::warn!(error = %e, "the upload journal could not be saved; trying again");
            }
        }
    }
}

const UPSERT: &str = "INSERT INTO objects (key, path, size, mtime_ns, state, local, stored, etag, upload_id, attempts, last_error) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
    ON CONFLICT(key) DO UPDATE SET path = excluded.path, size = excluded.size, mtime_ns = excluded.mtime_ns, \
    state = excluded.state, local = excluded.local, stored = excluded.stored, etag = excluded.etag, \
    upload_id = excluded.upload_id, attempts = excluded.attempts, last_error = excluded.last_error";

fn write_batch(conn: &mut Connection, batch: &Batch) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut upsert = tx.prepare_cached(UPSERT)?;
        for e in &batch.rows {
            upsert.execute(params![
                e.key,
                e.path.to_string_lossy(),
                e.size as i64,
                e.mtime_ns,
                e.state.as_str(),
                e.local.as_ref().map(to_json),
                e.stored.as_ref().map(to_json),
                e.etag,
                e.upload_id,
                i64::from(e.attempts),
                e.last_error,
            ])?;
        }
        let mut meta = tx.prepare_cached(
            "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
        )?;
        for (k, v) in &batch.meta {
            meta.execute(params![k, v])?;
        }
        let mut add = tx.prepare_cached("INSERT OR IGNORE INTO claims (key) VALUES (?1)")?;
        let mut drop = tx.prepare_cached("DELETE FROM claims WHERE key = ?1")?;
        for (k, present) in &batch.claims {
            if *present {
                add.execute([k])?;
            } else {
                drop.execute([k])?;
            }
        }
    }
    tx.commit()
}

/// The journal's tables, read into memory. An object claimed by an earlier run and not
/// landed is [`Entry::maybe_sent`].
fn load(conn: &Connection) -> rusqlite::Result<Mem> {
    let mut mem = Mem::default();
    let claimed: HashSet<String> = {
        let mut stmt = conn.prepare("SELECT key FROM claims")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    {
        let mut stmt = conn.prepare(SELECT)?;
        let rows = stmt.query_map([], row_to_entry)?;
        for e in rows {
            let mut e = e?;
            e.maybe_sent = !e.state.landed() && claimed.contains(&e.key);
            mem.entries.insert(e.key.clone(), e);
        }
    }
    {
        let mut stmt = conn.prepare("SELECT k, v FROM meta")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for kv in rows {
            let (k, v) = kv?;
            mem.meta.insert(k, v);
        }
    }
    // Claims of landed objects are done with; the others stay until they land.
    for k in claimed {
        if mem.entries.get(&k).is_some_and(|e| e.state.landed()) {
            mem.dirty_claims.insert(k, false);
        } else {
            mem.claims.insert(k, true);
        }
    }
    Ok(mem)
}

const SELECT: &str = "SELECT key, path, size, mtime_ns, state, local, stored, etag, upload_id, attempts, last_error FROM objects";

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let json = |i: usize| -> rusqlite::Result<Option<Checksums>> {
        let s: Option<String> = r.get(i)?;
        Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
    };
    Ok(Entry {
        key: r.get(0)?,
        path: PathBuf::from(r.get::<_, String>(1)?),
        size: r.get::<_, i64>(2)?.max(0) as u64,
        mtime_ns: r.get(3)?,
        state: State::parse(&r.get::<_, String>(4)?),
        local: json(5)?,
        stored: json(6)?,
        etag: r.get(7)?,
        upload_id: r.get(8)?,
        attempts: r.get::<_, i64>(9)?.max(0) as u32,
        last_error: r.get(10)?,
        maybe_sent: false,
    })
}

fn to_json(c: &Checksums) -> String {
    serde_json::to_string(c).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        {
            let j = Journal::open(&path).unwrap();
            j.register("a.ts", Path::new("/x/a.ts"), 10, 1).unwrap();
            j.register("b.ts", Path::new("/x/b.ts"), 20, 1).unwrap();
            j.set_upload_id("b.ts", Some("up-1")).unwrap();
            let sums =
                stowage_core::checksum::checksum_bytes(b"x", &[stowage_core::ChecksumAlgo::Md5]);
            j.landed("a.ts", State::Primary, &sums, Some("etag"))
                .unwrap();
            j.set_meta("destination", "s3://b/p/").unwrap();
        }
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.recovered_from(), None, "a healthy journal is kept");
        let a = j.get("a.ts").unwrap().unwrap();
        assert_eq!((a.state, a.etag.as_deref()), (State::Primary, Some("etag")));
        assert!(a.stored.unwrap().md5.is_some());
        assert_eq!(
            j.get("b.ts").unwrap().unwrap().upload_id.as_deref(),
            Some("up-1")
        );
        assert_eq!(j.meta("destination").unwrap().as_deref(), Some("s3://b/p/"));
        // Same size and mtime: state kept. Changed: pending again.
        j.register("a.ts", Path::new("/x/a.ts"), 10, 1).unwrap();
        assert_eq!(j.get("a.ts").unwrap().unwrap().state, State::Primary);
        j.register("a.ts", Path::new("/x/a.ts"), 11, 2).unwrap();
        assert_eq!(j.get("a.ts").unwrap().unwrap().state, State::Pending);
    }

    /// What a `kill -9` leaves of a journal: its database and WAL as they are now (the
    /// page cache survives the process; only committed transactions are in the WAL).
    fn killed_copy(path: &Path, to: &Path) -> Journal {
        std::fs::copy(path, to).unwrap();
        std::fs::copy(with_suffix(path, "-wal"), with_suffix(to, "-wal")).unwrap();
        Journal::open(to).unwrap()
    }

    #[test]
    fn a_landing_not_yet_committed_is_lost_with_the_process_but_its_claim_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let j = Journal::open_flushing_every(&path, Duration::from_secs(3600)).unwrap();
        for k in ["a.ts", "b.ts", "c.ts"] {
            j.register(k, &dir.path().join(k), 10, 1).unwrap();
        }
        // Registrations wait for a commit; the first claim commits them, with claims on
        // the pending objects after it (a run sends in key order).
        let before = killed_copy(&path, &dir.path().join("k0.sqlite"));
        assert!(before.all().unwrap().is_empty(), "nothing committed yet");
        j.claim("a.ts").unwrap();
        let sums =
            stowage_core::checksum::checksum_bytes(b"x", &[stowage_core::ChecksumAlgo::Crc64Nvme]);
        j.landed("a.ts", State::Primary, &sums, Some("e")).unwrap();
        assert_eq!(j.get("a.ts").unwrap().unwrap().state, State::Primary);

        // Killed now: the landing is lost, the claim is not, so the next run asks the
        // bucket before sending a.ts again. b.ts and c.ts were claimed with it.
        let killed = killed_copy(&path, &dir.path().join("k1.sqlite"));
        let a = killed.get("a.ts").unwrap().unwrap();
        assert_eq!((a.state, a.maybe_sent), (State::Pending, true));
        assert!(killed.get("c.ts").unwrap().unwrap().maybe_sent);

        // Committed: landed, and the claim is done with.
        j.flush().unwrap();
        let killed = killed_copy(&path, &dir.path().join("k2.sqlite"));
        let a = killed.get("a.ts").unwrap().unwrap();
        assert_eq!((a.state, a.maybe_sent), (State::Primary, false));
        assert_eq!(a.stored, Some(sums));
        let b = killed.get("b.ts").unwrap().unwrap();
        assert_eq!((b.state, b.maybe_sent), (State::Pending, true));
        drop(killed);
        let claims: i64 = j
            .conn()
            .query_row("SELECT count(*) FROM claims", [], |r| r.get(0))
            .unwrap();
        assert_eq!(claims, 2, "b.ts and c.ts stay claimed until they land");
        // A second claim of a claimed object commits nothing new.
        j.claim("b.ts").unwrap();
    }

    #[test]
    fn batched_changes_are_the_same_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let sums = stowage_core::checksum::checksum_bytes(b"x", &stowage_core::ChecksumAlgo::ALL);
        let in_memory = {
            let j = Journal::open(&path).unwrap();
            for i in 0..500 {
                let key = format!("rec/seg{i:04}.ts");
                j.register(&key, Path::new(&format!("/spool/{key}")), 100, 7)
                    .unwrap();
                j.set_local_checksums(&key, &sums).unwrap();
                match i % 4 {
                    0 => j.landed(&key, State::Primary, &sums, Some("etag")).unwrap(),
                    1 => j.failed(&key, "refused").unwrap(),
                    2 => j.record_attempt(&key, "slow").unwrap(),
                    _ => j.set_upload_id(&key, Some("up")).unwrap(),
                }
            }
            j.register("rec/seg0000.ts", Path::new("/spool/other"), 101, 8)
                .unwrap();
            j.all().unwrap()
        };
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.all().unwrap(), in_memory);
        let changed = j.get("rec/seg0000.ts").unwrap().unwrap();
        assert_eq!((changed.state, changed.local), (State::Pending, None));
        j.retry_failed().unwrap();
        assert_eq!(
            j.get("rec/seg0001.ts").unwrap().unwrap().state,
            State::Pending
        );
    }

    /// Files in `dir` whose names start with `prefix`, sorted.
    fn names_starting(dir: &Path, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect();
        v.sort();
        v
    }

    /// A journal of `n` landed objects, closed.
    fn written(path: &Path, n: usize) {
        let j = Journal::open(path).unwrap();
        let sums = stowage_core::checksum::checksum_bytes(b"x", &[stowage_core::ChecksumAlgo::Md5]);
        for i in 0..n {
            let key = format!("rec/seg{i:05}.ts");
            j.register(&key, Path::new(&format!("/spool/{key}")), 1000, 7)
                .unwrap();
            j.landed(&key, State::Primary, &sums, Some("etag")).unwrap();
        }
    }

    /// Opens a damaged journal: it is moved aside (with its companions) under the
    /// documented name, and a working, empty journal takes its place.
    fn assert_rebuilt(dir: &Path, path: &Path, damaged: &[u8]) {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let j = Journal::open(path).unwrap();
        let aside = j
            .recovered_from()
            .expect("the damaged journal was moved aside")
            .to_path_buf();
        let name = aside.file_name().unwrap().to_string_lossy().into_owned();
        let secs: u64 = name
            .strip_prefix("j.sqlite.corrupt-")
            .unwrap_or_else(|| panic!("{name}"))
            .parse()
            .unwrap_or_else(|_| panic!("{name}"));
        assert!(secs >= before && secs <= before + 5, "{name}");
        assert_eq!(aside.parent(), Some(dir));
        assert_eq!(std::fs::read(&aside).unwrap(), damaged, "kept as it was");
        // A new journal, working and empty, that remembers where the old one went.
        assert!(j.all().unwrap().is_empty());
        j.register("a.ts", Path::new("/spool/a.ts"), 1, 1).unwrap();
        drop(j);
        let j = Journal::open(path).unwrap();
        assert_eq!(j.recovered_from(), Some(aside.as_path()));
        assert_eq!(j.all().unwrap().len(), 1);
    }

    #[test]
    fn a_journal_of_random_bytes_is_moved_aside_with_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let bytes: Vec<u8> = (0..8192u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        std::fs::write(dir.path().join("j.sqlite-wal"), b"not a wal either").unwrap();
        std::fs::write(dir.path().join("j.sqlite-shm"), b"nor a shm").unwrap();
        assert_rebuilt(dir.path(), &path, &bytes);
        let corrupt = names_starting(dir.path(), "j.sqlite.corrupt-");
        assert_eq!(corrupt.len(), 3, "{corrupt:?}");
        let wal = corrupt.iter().find(|n| n.ends_with("-wal")).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join(wal)).unwrap(),
            b"not a wal either"
        );
        assert!(corrupt.iter().any(|n| n.ends_with("-shm")), "{corrupt:?}");
    }

    #[test]
    fn a_journal_truncated_mid_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        written(&path, 300);
        let full = std::fs::read(&path).unwrap();
        assert!(full.len() > 16 * 1024, "{} bytes", full.len());
        let cut = &full[..full.len() / 2];
        std::fs::write(&path, cut).unwrap();
        assert_rebuilt(dir.path(), &path, cut);
    }

    #[test]
    fn a_journal_with_garbled_pages_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        written(&path, 300);
        let mut bytes = std::fs::read(&path).unwrap();
        for i in (8192..bytes.len()).step_by(7) {
            bytes[i] = bytes[i].wrapping_mul(31).wrapping_add(7);
        }
        std::fs::write(&path, &bytes).unwrap();
        assert_rebuilt(dir.path(), &path, &bytes);
    }

    #[test]
    fn a_database_of_another_schema_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE objects (key TEXT PRIMARY KEY, owner TEXT);")
                .unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_rebuilt(dir.path(), &path, &bytes);

        // Our columns, but values of other types.
        let other = dir.path().join("k.sqlite");
        written(&other, 2);
        {
            let c = Connection::open(&other).unwrap();
            c.execute("UPDATE objects SET size = 'big'", []).unwrap();
        }
        let j = Journal::open(&other).unwrap();
        assert!(j.recovered_from().is_some());
        assert!(j.all().unwrap().is_empty());
    }

    #[test]
    fn a_journal_that_cannot_be_opened_is_an_error_naming_it_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        std::fs::create_dir(&path).unwrap(); // not a file at all
        let e = Journal::open(&path).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Journal);
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(!msg.contains("vendor code"), "{msg}");
        assert!(path.is_dir(), "not moved aside");
        assert!(names_starting(dir.path(), "j.sqlite.corrupt").is_empty());
    }

    #[test]
    fn a_full_disk_while_committing_is_disk_full_naming_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let j = Journal::open(&path).unwrap();
        // SQLite answers SQLITE_FULL once the database may not grow, as on a full disk.
        {
            let conn = j.conn();
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                .unwrap();
        }
        let long = "x".repeat(2000);
        for i in 0..100 {
            // Kept in memory until the next commit.
            j.register(&format!("{long}{i}"), Path::new("/spool/a"), 1, 1)
                .unwrap();
        }
        let e = j.flush().expect_err("the journal filled up");
        assert_eq!(e.kind(), &ErrorKind::DiskFull, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("full") && msg.contains(&path.display().to_string()),
            "{msg}"
        );
        // Other SQLite failures are journal errors naming the journal.
        let other = journal_error(
            &path,
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
                None,
            ),
        );
        assert_eq!(other.kind(), &ErrorKind::Journal);
        assert!(other.to_string().contains(&path.display().to_string()));
    }
}
