//! Workers: take a job, open its buckets through the injected opener, verify (and repair),
//! store the report, acknowledge, post the compact result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use stowage_core::Result;

use crate::OpenBucket;
use crate::config::Config;
use crate::job::{Job, StoredReport, now_ms};
use crate::metrics::Metrics;
use crate::queue::{Delivery, Queue};

/// What every worker of a process shares.
pub struct Runner {
    pub config: Config,
    pub opener: Arc<dyn OpenBucket>,
    pub metrics: Arc<Metrics>,
    pub http: reqwest::Client,
    /// Names this process in reports (`host:pid`).
    pub process: String,
}

impl Runner {
    /// Verifies one job's recording; `Err` when the verification could not run at all
    /// (bucket unreachable, credentials refused), which is retried.
    pub async fn run(&self, job: &Job, attempt: u32, worker: &str) -> Result<StoredReport> {
        let report = |verdict: &str, body: serde_json::Value| StoredReport {
            job_key: job.key.clone(),
            sid: job.sid.clone(),
            reason: job.reason,
            verdict: verdict.to_string(),
            attempt,
            worker: worker.to_string(),
            finished_ms: now_ms(),
            body,
        };
        let Some(route) = self.config.route(job.app.as_deref(), job.cname.as_deref()) else {
            let why = format!(
                "no [[recordings]] section takes app {:?}, channel {:?}",
                job.app.as_deref().unwrap_or(""),
                job.cname.as_deref().unwrap_or("")
            );
            return Ok(report("unrouted", json!({ "error": why })));
        };
        let primary = self.opener.open(&route.bucket).await?;
        let backup = match &route.backup {
            Some(url) => Some(self.opener.open(url).await?),
            None => None,
        };
        // The verifier's futures borrow in ways the compiler cannot prove `Send` across a
        // spawned task, so the verification runs on a blocking thread of its own.
        let handle = tokio::runtime::Handle::current();
        let (prefix, j) = (route.prefix.clone(), job.clone());
        let verified = tokio::task::spawn_blocking(move || {
            handle.block_on(crate::verifier::verify_recording(
                primary.as_ref(),
                backup.as_deref(),
                &prefix,
                &j.sid,
                j.cname.as_deref(),
                &j.file_list,
            ))
        })
        .await
        .map_err(|e| {
            stowage_core::Error::new(
                stowage_core::ErrorKind::Other,
                format!("the verification task failed: {e}"),
            )
        })??;
        let mut body = verified.body;
        body["bucket"] = json!(route.bucket);
        body["backup"] = json!(route.backup);
        body["lost_slices"] = json!(job.lost_slices);
        body["problem_keys"] = json!(verified.problem_keys);
        Ok(report(verified.verdict, body))
    }

    /// Runs one delivery to its end: the report stored and the job acknowledged, or handed
    /// back, or dead-lettered after `max_attempts`.
    pub async fn handle(&self, mut delivery: Box<dyn Delivery>, worker: &str) {
        let job = delivery.job().clone();
        let attempt = delivery.attempt();
        let max = self.config.jobs.max_attempts;
        if attempt > max {
            // Delivered again after dying `max` times mid-job: give up, say so.
            let body = json!({ "error": format!("gave up: {max} attempts did not finish") });
            let report = dead_report(&job, attempt, worker, body);
            self.finish(delivery, report).await;
            return;
        }
        self.metrics.jobs_running.inc();
        let started = Instant::now();
        let keep_every = (self.config.jobs.visibility_timeout / 3).max(Duration::from_millis(200));
        let result = {
            let run = self.run(&job, attempt, worker);
            tokio::pin!(run);
            let mut tick = tokio::time::interval(keep_every);
            tick.tick().await;
            loop {
                tokio::select! {
                    r = &mut run => break r,
                    _ = tick.tick() => {
                        if let Err(e) = delivery.keep_alive().await {
                            tracing::warn!(job = %job.key, "extending the lease: {e}");
                        }
                    }
                }
            }
        };
        self.metrics.jobs_running.dec();
        self.metrics
            .verify_seconds
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(report) => self.finish(delivery, report).await,
            Err(e) if attempt >= max => {
                let body = json!({ "error": e.to_string(), "attempts": attempt });
                self.finish(delivery, dead_report(&job, attempt, worker, body))
                    .await;
            }
            Err(e) => {
                self.metrics.job_retries.inc();
                let delay = backoff(attempt);
                tracing::warn!(
                    job = %job.key,
                    attempt,
                    "verification could not run, retrying in {delay:?}: {e}"
                );
                if let Err(e2) = delivery.retry(&e.to_string(), delay).await {
                    tracing::warn!(job = %job.key, "handing the job back: {e2}");
                }
            }
        }
    }

    async fn finish(&self, delivery: Box<dyn Delivery>, report: StoredReport) {
        let verdict = report.verdict.clone();
        let compact = compact(&report);
        match delivery.finish(report).await {
            Ok(()) => {
                self.metrics.finished(&verdict);
                if verdict != "complete" && verdict != "repaired" {
                    tracing::warn!(sid = %compact["sid"], verdict = %verdict, "recording not proven complete");
                }
                self.post(compact).await;
            }
            // Not acknowledged: the job comes back after the visibility timeout.
            Err(e) => tracing::warn!("storing a report failed, the job will be redelivered: {e}"),
        }
    }

    /// POSTs the compact result to `[report] post_url` (three tries); failures are logged
    /// and counted, the report is stored either way.
    async fn post(&self, compact: serde_json::Value) {
        let Some(url) = &self.config.post_url else {
            return;
        };
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
            let sent = self
                .http
                .post(url)
                .timeout(Duration::from_secs(10))
                .header("content-type", "application/json")
                .body(compact.to_string())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    self.metrics.posted("ok");
                    return;
                }
                Ok(r) => tracing::warn!("posting a result: HTTP {}", r.status().as_u16()),
                Err(e) => tracing::warn!("posting a result: {}", e.without_url()),
            }
        }
        self.metrics.posted("failed");
    }
}

/// One worker: takes jobs until `stop`.
pub async fn work(
    runner: Arc<Runner>,
    queue: Arc<dyn Queue>,
    name: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let next = tokio::select! {
            n = queue.next(&name) => n,
            _ = stop.changed() => return,
        };
        match next {
            Ok(Some(delivery)) => runner.handle(delivery, &name).await,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(worker = %name, "taking a job from the {} queue: {e}", queue.kind());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn dead_report(job: &Job, attempt: u32, worker: &str, body: serde_json::Value) -> StoredReport {
    StoredReport {
        job_key: job.key.clone(),
        sid: job.sid.clone(),
        reason: job.reason,
        verdict: "dead".into(),
        attempt,
        worker: worker.to_string(),
        finished_ms: now_ms(),
        body,
    }
}

/// 2, 4, 8 … seconds, at most five minutes.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt.min(9)).min(300))
}

/// The compact result posted to the customer's URL.
fn compact(report: &StoredReport) -> serde_json::Value {
    let keys = report.body["problem_keys"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    json!({
        "sid": report.sid,
        "verdict": report.verdict,
        "reason": report.reason,
        "problems": keys.len(),
        "problem_keys": keys.into_iter().take(50).collect::<Vec<_>>(),
        "lost_slices": report.body["lost_slices"],
        "report": format!("/recordings/{}", report.sid),
        "finished_ms": report.finished_ms,
    })
}
