//! NATS JetStream: a work-queue stream of jobs (`STOWAGE_JOBS`) that every worker process
//! pulls from through one durable consumer, and a stream of reports (`STOWAGE_REPORTS`)
//! that the receiver collects into its state file.
//!
//! - The receiver's relay publishes each job of the state file's outbox with `Nats-Msg-Id` =
//!   the job key, so JetStream's duplicate window drops a second copy (a relay restarted
//!   between the publish and marking it sent).
//! - A worker publishes the report (`Nats-Msg-Id` = `report:<job key>`), waits for the
//!   stream's acknowledgement, and only then acknowledges the job (a double ack, confirmed by
//!   the server). A worker that dies mid-job never acknowledges it: JetStream redelivers it
//!   after `AckWait` (the visibility timeout); `Progress` acks keep a long job's lease.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use async_trait::async_trait;
use futures::StreamExt;
use rusqlite::params;
use stowage_core::{Error, ErrorKind, Result};

use super::{Delivery, Queue};
use crate::db::Db;
use crate::job::{Job, StoredReport, now_ms};

pub const JOBS_STREAM: &str = "STOWAGE_JOBS";
pub const JOBS_SUBJECT: &str = "stowage.jobs";
pub const WORKERS_CONSUMER: &str = "stowage-workers";
pub const REPORTS_STREAM: &str = "STOWAGE_REPORTS";
pub const REPORTS_SUBJECT: &str = "stowage.reports";
pub const COLLECTOR_CONSUMER: &str = "stowage-collector";
/// JetStream's duplicate window for both streams.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

fn nats_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Network, format!("NATS: {what}: {e}")).with_retryable(true)
}

/// A connection to JetStream with both streams in place.
#[derive(Clone)]
pub struct Nats {
    js: Context,
    ack_wait: Duration,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nats")
    }
}

impl Nats {
    /// Connects and creates the streams if they are missing. `ack_wait` is the visibility
    /// timeout: a job neither acknowledged nor kept alive that long is redelivered.
    pub async fn connect(url: &str, ack_wait: Duration) -> Result<Nats> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| nats_err(&format!("cannot connect to {}", redact_url(url)), e))?;
        let js = jetstream::new(client);
        js.get_or_create_stream(stream::Config {
            name: JOBS_STREAM.into(),
            subjects: vec![JOBS_SUBJECT.into()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| nats_err("cannot create the jobs stream", e))?;
        js.get_or_create_stream(stream::Config {
            name: REPORTS_STREAM.into(),
            subjects: vec![REPORTS_SUBJECT.into()],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            max_age: Duration::from_secs(30 * 86400),
            ..Default::default()
        })
        .await
        .map_err(|e| nats_err("cannot create the reports stream", e))?;
        Ok(Nats { js, ack_wait })
    }

    async fn consumer(&self, stream_name: &str, name: &str) -> Result<PullConsumer> {
        let stream = self
            .js
            .get_stream(stream_name)
            .await
            .map_err(|e| nats_err(&format!("no stream {stream_name}"), e))?;
        stream
            .get_or_create_consumer(
                name,
                pull::Config {
                    durable_name: Some(name.into()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: self.ack_wait,
                    max_deliver: -1,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| nats_err(&format!("cannot create the consumer {name}"), e))
    }

    /// The workers' side.
    pub async fn queue(&self) -> Result<NatsQueue> {
        Ok(NatsQueue {
            nats: self.clone(),
            consumer: self.consumer(JOBS_STREAM, WORKERS_CONSUMER).await?,
        })
    }

    /// Publishes a job; true when JetStream kept it, false when it was a duplicate.
    pub async fn publish_job(&self, job: &Job) -> Result<bool> {
        let payload = serde_json::to_vec(job).unwrap_or_default();
        self.publish(JOBS_SUBJECT, &job.key, payload).await
    }

    async fn publish(&self, subject: &'static str, id: &str, payload: Vec<u8>) -> Result<bool> {
        let ack = self
            .js
            .send_publish(
                subject,
                PublishMessage::build()
                    .payload(payload.into())
                    .message_id(id),
            )
            .await
            .map_err(|e| nats_err("publish failed", e))?
            .await
            .map_err(|e| nats_err("publish not acknowledged", e))?;
        Ok(!ack.duplicate)
    }

    /// The relay: publishes the state file's pending jobs (oldest first) until `stop`, waking
    /// on each commit that enqueued something and at least every second.
    pub async fn relay(self, db: Arc<Db>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let notified = db.enqueued.notified();
            if let Err(e) = self.relay_once(&db).await {
                tracing::warn!("relaying jobs to NATS: {e}");
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Publishes what is pending now; returns how many were published.
    pub async fn relay_once(&self, db: &Arc<Db>) -> Result<usize> {
        let mut sent = 0;
        loop {
            let jobs: Vec<(String, String)> = db
                .with(|conn, _| {
                    conn.prepare(
                        "SELECT key, body FROM jobs
                         WHERE state = 'pending' AND published = 0 AND not_before <= ?1
                         ORDER BY not_before LIMIT 256",
                    )?
                    .query_map([now_ms()], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
                })
                .await?;
            if jobs.is_empty() {
                return Ok(sent);
            }
            // Publish them all, then wait for the acknowledgements.
            let mut acks = Vec::with_capacity(jobs.len());
            for (key, body) in &jobs {
                let fut = self
                    .js
                    .send_publish(
                        JOBS_SUBJECT,
                        PublishMessage::build()
                            .payload(body.clone().into_bytes().into())
                            .message_id(key),
                    )
                    .await
                    .map_err(|e| nats_err("publish failed", e))?;
                acks.push((key.clone(), fut));
            }
            let mut done = Vec::with_capacity(acks.len());
            for (key, fut) in acks {
                fut.await
                    .map_err(|e| nats_err("publish not acknowledged", e))?;
                done.push(key);
            }
            sent += done.len();
            db.with(move |conn, _| {
                let tx = conn.transaction()?;
                for key in &done {
                    tx.execute(
                        "UPDATE jobs SET published = 1, state = 'queued' WHERE key = ?1 AND state = 'pending'",
                        params![key],
                    )?;
                }
                tx.commit()
            })
            .await?;
        }
    }

    /// The receiver's collector: stores every report workers publish, acknowledging each
    /// only after it is in the state file.
    pub async fn collect_reports(
        self,
        db: Arc<Db>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<()> {
        let consumer = self.consumer(REPORTS_STREAM, COLLECTOR_CONSUMER).await?;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let batch = consumer
                .batch()
                .max_messages(256)
                .expires(Duration::from_millis(500))
                .messages();
            let mut messages = tokio::select! {
                b = batch => match b {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!("collecting reports from NATS: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
                _ = stop.changed() => return Ok(()),
            };
            while let Some(msg) = messages.next().await {
                let Ok(msg) = msg else { break };
                match serde_json::from_slice::<StoredReport>(&msg.payload) {
                    Ok(report) => {
                        if let Err(e) = db.store_report(report).await {
                            tracing::warn!("storing a report: {e}");
                            let _ = msg
                                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                                .await;
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!("an unreadable report on NATS, dropped: {e}"),
                }
                if let Err(e) = msg.ack().await {
                    tracing::warn!("acknowledging a report: {e}");
                }
            }
        }
    }
}

/// `nats://user:pass@host` → `nats://host` for messages.
pub fn redact_url(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://{host}"),
        _ => url.to_string(),
    }
}

pub struct NatsQueue {
    nats: Nats,
    consumer: PullConsumer,
}

#[async_trait]
impl Queue for NatsQueue {
    async fn next(&self, _worker: &str) -> Result<Option<Box<dyn Delivery>>> {
        let mut batch = self
            .consumer
            .batch()
            .max_messages(1)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| nats_err("pulling a job", e))?;
        let Some(msg) = batch.next().await else {
            return Ok(None);
        };
        let msg = msg.map_err(|e| nats_err("pulling a job", e))?;
        let attempt = msg.info().map(|i| i.delivered.max(1) as u32).unwrap_or(1);
        let job: Job = match serde_json::from_slice(&msg.payload) {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!("an unreadable job on NATS, terminated: {e}");
                let _ = msg.ack_with(AckKind::Term).await;
                return Ok(None);
            }
        };
        Ok(Some(Box::new(NatsDelivery {
            nats: self.nats.clone(),
            msg,
            job,
            attempt,
        })))
    }

    fn kind(&self) -> &'static str {
        "nats"
    }
}

struct NatsDelivery {
    nats: Nats,
    msg: jetstream::Message,
    job: Job,
    attempt: u32,
}

#[async_trait]
impl Delivery for NatsDelivery {
    fn job(&self) -> &Job {
        &self.job
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    async fn keep_alive(&mut self) -> Result<()> {
        self.msg
            .ack_with(AckKind::Progress)
            .await
            .map_err(|e| nats_err("extending a job's lease", e))
    }

    async fn finish(self: Box<Self>, report: StoredReport) -> Result<()> {
        let id = format!("report:{}", report.job_key);
        let payload = serde_json::to_vec(&report).unwrap_or_default();
        self.nats.publish(REPORTS_SUBJECT, &id, payload).await?;
        self.msg
            .double_ack()
            .await
            .map_err(|e| nats_err("acknowledging a job", e))
    }

    async fn retry(self: Box<Self>, _error: &str, delay: Duration) -> Result<()> {
        self.msg
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|e| nats_err("handing a job back", e))
    }
}
