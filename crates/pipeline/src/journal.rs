//! The journal: an embedded SQLite database beside the spool that records every object's
//! state, so that after a crash (`kill -9` included) a restart sends nothing twice, resumes
//! multipart uploads from their upload id, and loses nothing.
//!
//! WAL mode with `synchronous = NORMAL`: a committed transaction survives the process being
//! killed (it is in the WAL file); only a power loss can take back the last ones, and then
//! the object is merely sent again.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};
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
}

/// The journal of one recording upload.
pub struct Journal {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.path.display())
    }
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::new(ErrorKind::Other, format!("journal {}: {e}", path.display()))
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
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
";

impl Journal {
    /// Opens (or creates) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::local_io(dir, e))?;
        }
        let conn = Connection::open(path).map_err(db_err(path))?;
        conn.execute_batch(SCHEMA).map_err(db_err(path))?;
        Ok(Journal {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads a setting.
    pub fn meta(&self, k: &str) -> Result<Option<String>> {
        self.conn()
            .query_row("SELECT v FROM meta WHERE k = ?1", [k], |r| r.get(0))
            .optional()
            .map_err(db_err(&self.path))
    }

    pub fn set_meta(&self, k: &str, v: &str) -> Result<()> {
        self.conn()
            .execute("INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v", params![k, v])
            .map(|_| ())
            .map_err(db_err(&self.path))
    }

    /// Records a local file. A file already journaled keeps its state unless its size or
    /// mtime changed (then it is pending again, to be sent anew).
    pub fn register(&self, key: &str, path: &Path, size: u64, mtime_ns: i64) -> Result<()> {
        let conn = self.conn();
        let known: Option<(i64, i64)> = conn
            .query_row(
                "SELECT size, mtime_ns FROM objects WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db_err(&self.path))?;
        let sql = match known {
            Some((s, m)) if s == size as i64 && m == mtime_ns => return Ok(()),
            Some(_) => {
                "UPDATE objects SET path = ?2, size = ?3, mtime_ns = ?4, state = 'pending', local = NULL, stored = NULL, etag = NULL WHERE key = ?1"
            }
            None => {
                "INSERT INTO objects (key, path, size, mtime_ns, state) VALUES (?1, ?2, ?3, ?4, 'pending')"
            }
        };
        conn.execute(
            sql,
            params![key, path.to_string_lossy(), size as i64, mtime_ns],
        )
        .map(|_| ())
        .map_err(db_err(&self.path))
    }

    pub fn get(&self, key: &str) -> Result<Option<Entry>> {
        self.conn()
            .query_row(&format!("{SELECT} WHERE key = ?1"), [key], row_to_entry)
            .optional()
            .map_err(db_err(&self.path))
    }

    /// Every object, by key.
    pub fn all(&self) -> Result<Vec<Entry>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("{SELECT} ORDER BY key"))
            .map_err(db_err(&self.path))?;
        let rows = stmt
            .query_map([], row_to_entry)
            .map_err(db_err(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db_err(&self.path))
    }

    pub fn set_local_checksums(&self, key: &str, sums: &Checksums) -> Result<()> {
        self.exec(
            "UPDATE objects SET local = ?2 WHERE key = ?1",
            params![key, to_json(sums)],
        )
    }

    pub fn set_upload_id(&self, key: &str, upload_id: Option<&str>) -> Result<()> {
        self.exec(
            "UPDATE objects SET upload_id = ?2 WHERE key = ?1",
            params![key, upload_id],
        )
    }

    pub fn record_attempt(&self, key: &str, error: &str) -> Result<()> {
        self.exec(
            "UPDATE objects SET attempts = attempts + 1, last_error = ?2 WHERE key = ?1",
            params![key, error],
        )
    }

    /// The object is confirmed in a bucket (`state` Primary or Backup).
    pub fn landed(
        &self,
        key: &str,
        state: State,
        stored: &Checksums,
        etag: Option<&str>,
    ) -> Result<()> {
        self.exec(
            "UPDATE objects SET state = ?2, stored = ?3, etag = ?4, upload_id = NULL, last_error = NULL WHERE key = ?1",
            params![key, state.as_str(), to_json(stored), etag],
        )
    }

    pub fn failed(&self, key: &str, error: &str) -> Result<()> {
        self.exec(
            "UPDATE objects SET state = 'failed', last_error = ?2 WHERE key = ?1",
            params![key, error],
        )
    }

    /// Failed objects become pending again (a new run tries them anew).
    pub fn retry_failed(&self) -> Result<()> {
        self.exec(
            "UPDATE objects SET state = 'pending' WHERE state = 'failed'",
            params![],
        )
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<()> {
        self.conn()
            .execute(sql, p)
            .map(|_| ())
            .map_err(db_err(&self.path))
    }
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
}
