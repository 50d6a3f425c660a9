//! The service's Prometheus metrics (prometheus-client, OpenMetrics text at `GET /metrics`).
//! Labels are fixed words (outcomes, reasons, verdicts): never a sid, a key, a URL or a
//! secret.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabel {
    pub verdict: String,
}

/// Every metric, registered once.
pub struct Metrics {
    registry: Registry,
    /// Notifications by outcome: accepted, duplicate, ignored, bad_signature, bad_request, error.
    pub notifications: Family<Outcome, Counter>,
    /// Seconds from a notification's arrival to its answer (the durable commit included).
    pub notification_seconds: Histogram,
    /// Jobs enqueued, by reason (uploaded, backuped, swept, reverify).
    pub jobs_enqueued: Family<ReasonLabel, Counter>,
    /// Jobs finished, by verdict (complete, repaired, incomplete, unrouted, dead).
    pub jobs_finished: Family<VerdictLabel, Counter>,
    /// Attempts that could not run the verification and were handed back.
    pub job_retries: Counter,
    /// Seconds one verification (with its repair) took.
    pub verify_seconds: Histogram,
    /// Jobs being run by this process's workers.
    pub jobs_running: Gauge,
    /// Compact results posted to `[report] post_url`, by outcome (ok, failed).
    pub result_posts: Family<Outcome, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("stowage_serve");
        let notifications = Family::<Outcome, Counter>::default();
        registry.register(
            "ncs_notifications",
            "Agora NCS notifications received, by outcome",
            notifications.clone(),
        );
        let notification_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "ncs_answer_seconds",
            "Time from a notification's arrival to its answer, durable commit included",
            notification_seconds.clone(),
        );
        let jobs_enqueued = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "jobs_enqueued",
            "Verification jobs enqueued, by reason",
            jobs_enqueued.clone(),
        );
        let jobs_finished = Family::<VerdictLabel, Counter>::default();
        registry.register(
            "jobs_finished",
            "Verification jobs finished by this process, by verdict",
            jobs_finished.clone(),
        );
        let job_retries = Counter::default();
        registry.register(
            "job_retries",
            "Verification attempts that could not run and were handed back",
            job_retries.clone(),
        );
        let verify_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 16));
        registry.register(
            "verify_seconds",
            "Time one verification (and its repair) took",
            verify_seconds.clone(),
        );
        let jobs_running = Gauge::default();
        registry.register(
            "jobs_running",
            "Verification jobs running in this process",
            jobs_running.clone(),
        );
        let result_posts = Family::<Outcome, Counter>::default();
        registry.register(
            "result_posts",
            "Compact results posted to the configured URL, by outcome",
            result_posts.clone(),
        );
        Metrics {
            registry,
            notifications,
            notification_seconds,
            jobs_enqueued,
            jobs_finished,
            job_retries,
            verify_seconds,
            jobs_running,
            result_posts,
        }
    }

    pub fn notification(&self, outcome: &str) {
        self.notifications
            .get_or_create(&Outcome {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn enqueued(&self, reason: &str) {
        self.jobs_enqueued
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .inc();
    }

    pub fn finished(&self, verdict: &str) {
        self.jobs_finished
            .get_or_create(&VerdictLabel {
                verdict: verdict.into(),
            })
            .inc();
    }

    pub fn posted(&self, outcome: &str) {
        self.result_posts
            .get_or_create(&Outcome {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
