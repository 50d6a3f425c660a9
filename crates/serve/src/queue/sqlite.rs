//! The embedded queue: the state file's `jobs` table. A lease is one `UPDATE … RETURNING`
//! (atomic across threads and processes sharing the file): the job becomes `leased` by a
//! worker until `lease_until`; once that passes, any worker may take it again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use stowage_core::{Error, Result};

use super::{Delivery, Queue};
use crate::db::{Db, insert_report};
use crate::job::{Job, StoredReport, now_ms};

pub struct SqliteQueue {
    db: Arc<Db>,
    visibility: Duration,
    poll: Duration,
}

impl SqliteQueue {
    pub fn new(db: Arc<Db>, visibility: Duration) -> SqliteQueue {
        SqliteQueue {
            db,
            visibility,
            poll: Duration::from_millis(250),
        }
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn next(&self, worker: &str) -> Result<Option<Box<dyn Delivery>>> {
        let notified = self.db.enqueued.notified();
        if let Some(d) = self.lease(worker).await? {
            return Ok(Some(d));
        }
        let _ = tokio::time::timeout(self.poll, notified).await;
        self.lease(worker).await
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}

impl SqliteQueue {
    async fn lease(&self, worker: &str) -> Result<Option<Box<dyn Delivery>>> {
        let owner = format!("{worker}:{}", uuid_like());
        let vt = self.visibility.as_millis() as i64;
        let o = owner.clone();
        let got: Option<(String, u32)> = self
            .db
            .with(move |conn, _| {
                let now = now_ms();
                conn.query_row(
                    "UPDATE jobs SET state = 'leased', lease_owner = ?1, lease_until = ?2 + ?3,
                            attempts = attempts + 1
                     WHERE key = (SELECT key FROM jobs
                                  WHERE not_before <= ?2
                                    AND (state = 'pending' OR (state = 'leased' AND lease_until < ?2))
                                  ORDER BY not_before LIMIT 1)
                     RETURNING body, attempts",
                    params![o, now, vt],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .await?;
        let Some((body, attempts)) = got else {
            return Ok(None);
        };
        let job: Job = serde_json::from_str(&body).map_err(|e| {
            Error::invalid_input(format!("a job in the state file is unreadable: {e}"))
        })?;
        Ok(Some(Box::new(SqliteDelivery {
            db: Arc::clone(&self.db),
            job,
            attempt: attempts,
            owner,
            visibility: self.visibility,
        })))
    }
}

/// A process-unique suffix for lease owners (a restarted worker never owns an old lease).
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

struct SqliteDelivery {
    db: Arc<Db>,
    job: Job,
    attempt: u32,
    owner: String,
    visibility: Duration,
}

#[async_trait]
impl Delivery for SqliteDelivery {
    fn job(&self) -> &Job {
        &self.job
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    async fn keep_alive(&mut self) -> Result<()> {
        let (key, owner) = (self.job.key.clone(), self.owner.clone());
        let vt = self.visibility.as_millis() as i64;
        self.db
            .with(move |conn, _| {
                conn.execute(
                    "UPDATE jobs SET lease_until = ?3 WHERE key = ?1 AND lease_owner = ?2",
                    params![key, owner, now_ms() + vt],
                )
            })
            .await
            .map(|_| ())
    }

    async fn finish(self: Box<Self>, report: StoredReport) -> Result<()> {
        // The report and the acknowledgement in one transaction.
        self.db
            .with(move |conn, _| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                insert_report(&tx, &report)?;
                let state = if report.verdict == "dead" {
                    "dead"
                } else {
                    "done"
                };
                tx.execute(
                    "UPDATE jobs SET state = ?2, lease_owner = NULL, lease_until = NULL WHERE key = ?1",
                    params![report.job_key, state],
                )?;
                tx.commit()
            })
            .await
    }

    async fn retry(self: Box<Self>, error: &str, delay: Duration) -> Result<()> {
        let (key, owner, error) = (self.job.key.clone(), self.owner.clone(), error.to_string());
        self.db
            .with(move |conn, _| {
                conn.execute(
                    "UPDATE jobs SET state = 'pending', lease_owner = NULL, lease_until = NULL,
                            not_before = ?3, last_error = ?4
                     WHERE key = ?1 AND lease_owner = ?2",
                    params![key, owner, now_ms() + delay.as_millis() as i64, error],
                )
            })
            .await
            .map(|_| ())
    }
}
