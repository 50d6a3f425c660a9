//! Where workers take jobs from: the embedded SQLite job table (leases with a visibility
//! timeout, attempts, dead-letter after N), or a NATS JetStream work-queue stream. Both
//! give the same guarantees: a job is handed to one worker at a time; it is acknowledged
//! only after its report is stored; a worker that dies holding one loses it after the
//! visibility timeout (AckWait), and another worker runs it.

pub mod nats;
pub mod sqlite;

use async_trait::async_trait;
use std::time::Duration;
use stowage_core::Result;

use crate::job::{Job, StoredReport};

/// A job source.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// The next job for `worker`, waiting a little for one; `None` when there is none yet.
    async fn next(&self, worker: &str) -> Result<Option<Box<dyn Delivery>>>;
    /// A name for logs and metrics (`sqlite`, `nats`).
    fn kind(&self) -> &'static str;
}

/// One job handed to one worker.
#[async_trait]
pub trait Delivery: Send {
    fn job(&self) -> &Job;
    /// 1 for the first delivery.
    fn attempt(&self) -> u32;
    /// Still working on it: push the visibility timeout back.
    async fn keep_alive(&mut self) -> Result<()>;
    /// Stores the report, then acknowledges the job (never the other way round).
    async fn finish(self: Box<Self>, report: StoredReport) -> Result<()>;
    /// The job could not run: hand it back to be tried again after `delay`.
    async fn retry(self: Box<Self>, error: &str, delay: Duration) -> Result<()>;
}

/// Which queue: `sqlite` (default) or `nats://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueKind {
    Sqlite,
    Nats(String),
}

impl QueueKind {
    pub fn parse(s: &str) -> Result<QueueKind> {
        if s == "sqlite" {
            Ok(QueueKind::Sqlite)
        } else if s.starts_with("nats://") || s.starts_with("tls://") {
            Ok(QueueKind::Nats(s.to_string()))
        } else {
            Err(stowage_core::Error::invalid_input(format!(
                "--queue {s}: expected `sqlite` or nats://host:port"
            )))
        }
    }
}
