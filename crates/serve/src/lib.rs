//! `stowage serve`: Agora's Notification Center (NCS) webhooks in, every uploaded recording
//! verified (and repaired from the backup bucket) out.
//!
//! ```text
//!  Agora NCS ──POST /agora/ncs──▶ signature (raw body, HMAC-SHA256 / SHA-1, constant time)
//!                                   │ bad: 401, logged, counted, never enqueued
//!                                   ▼
//!                  state file (SQLite, group commit, fsync) ──▶ 200 {}
//!                  events (sid, eventType, sequence) deduplicated; per-sid state;
//!                  31/32 → job `verify:<sid>`; sweeper → the same job for a sid with no
//!                  31/32 after the grace period, and sampled `reverify:<sid>` later
//!                                   │
//!          ┌────────────────────────┴─────────────────────────┐
//!   embedded: the jobs table is the queue         NATS: the jobs table is an outbox, relayed
//!   (leases, visibility timeout, attempts,        to a JetStream work-queue stream with
//!   dead-letter after N)                          Nats-Msg-Id = the job key; reports come
//!                                                 back on a reports stream, collected
//!          └────────────────────────┬─────────────────────────┘
//!                                   ▼
//!        workers: open the route's buckets (the injected [`OpenBucket`]) → verify → repair
//!        from the backup → verify again → store the report → acknowledge → post the result
//! ```
//!
//! The crate does not open buckets itself: the caller (the `stowage` binary, or any program
//! using the library) passes an [`OpenBucket`] that turns a configured URL into a store.

pub mod config;
pub mod db;
pub mod http;
pub mod job;
pub mod metrics;
pub mod ncs;
pub mod queue;
pub mod signature;
pub mod tls;
pub mod verifier;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stowage_core::{Error, ErrorKind, ObjectStore, Result};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;
pub use queue::QueueKind;
pub use tls::TlsFiles;

/// Opens the bucket a configured URL names (`s3://bucket`, `file:///srv/bucket`, …).
#[async_trait]
pub trait OpenBucket: Send + Sync + 'static {
    async fn open(&self, url: &str) -> Result<Arc<dyn ObjectStore>>;
}

/// What this process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The receiver, the sweeper and the workers.
    All,
    /// The receiver and the sweeper (and, with NATS, the relay and the report collector).
    Receiver,
    /// Only workers (and `/metrics`, `/healthz` when a listen address is given).
    Worker,
}

impl Role {
    fn receives(self) -> bool {
        matches!(self, Role::All | Role::Receiver)
    }
    fn works(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: Config,
    pub queue: QueueKind,
    pub role: Role,
    /// Overrides `[jobs] workers`.
    pub workers: Option<usize>,
    /// Overrides `[server] listen`; for a worker-only process, where to serve `/metrics`.
    pub listen: Option<String>,
}

/// A running service.
pub struct Running {
    addr: Option<SocketAddr>,
    db: Option<Arc<db::Db>>,
    metrics: Arc<metrics::Metrics>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// The HTTP address bound, if any.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }
    /// The state file (absent for a NATS worker-only process).
    pub fn db(&self) -> Option<&Arc<db::Db>> {
        self.db.as_ref()
    }
    pub fn metrics(&self) -> &Arc<metrics::Metrics> {
        &self.metrics
    }
    /// Stops taking new work and requests, lets running jobs finish, and returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts the service; returns once it listens.
pub async fn start(opts: Options, opener: Arc<dyn OpenBucket>) -> Result<Running> {
    let cfg = opts.config.clone();
    let metrics = Arc::new(metrics::Metrics::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let nats = match &opts.queue {
        QueueKind::Nats(url) => {
            Some(queue::nats::Nats::connect(url, cfg.jobs.visibility_timeout).await?)
        }
        QueueKind::Sqlite => None,
    };
    // A NATS worker-only process needs no state file (it may run on another machine).
    let needs_db = opts.role.receives() || nats.is_none();
    let db = if needs_db {
        Some(db::Db::open(&cfg.state, cfg.jobs.clone())?)
    } else {
        None
    };
    let listen = opts
        .listen
        .clone()
        .or_else(|| opts.role.receives().then(|| cfg.listen.clone()));
    let mut addr = None;
    if let Some(listen) = listen {
        // A bad certificate or key is refused before anything listens.
        let tls = cfg.tls.as_ref().map(tls::acceptor).transpose()?;
        let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!("cannot listen on {listen}: {e}"),
            )
        })?;
        addr = listener.local_addr().ok();
        let app = match (&db, opts.role.receives()) {
            (Some(db), true) => http::router(Arc::new(http::AppState {
                db: Arc::clone(db),
                secret: cfg.secret.clone(),
                metrics: Arc::clone(&metrics),
            })),
            _ => metrics_only(Arc::clone(&metrics)),
        };
        let stop = stop_rx.clone();
        tasks.push(match tls {
            Some(acceptor) => {
                let listener = tls::TlsListener::new(listener, acceptor).map_err(|e| {
                    Error::new(
                        ErrorKind::Network,
                        format!("cannot listen on {listen}: {e}"),
                    )
                })?;
                tokio::spawn(serve_http(listener, app, stop))
            }
            None => tokio::spawn(serve_http(listener, app, stop)),
        });
    }
    if let (Some(db), true) = (&db, opts.role.receives()) {
        tasks.push(tokio::spawn(sweep_loop(
            Arc::clone(db),
            Arc::clone(&metrics),
            cfg.jobs.sweep_every,
            stop_rx.clone(),
        )));
        if let Some(n) = &nats {
            tasks.push(tokio::spawn(
                n.clone().relay(Arc::clone(db), stop_rx.clone()),
            ));
            let (n, db, stop) = (n.clone(), Arc::clone(db), stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = n.collect_reports(db, stop).await {
                    tracing::error!("the report collector stopped: {e}");
                }
            }));
        }
    }
    if opts.role.works() {
        let queue: Arc<dyn queue::Queue> = match (&nats, &db) {
            (Some(n), _) => Arc::new(n.queue().await?),
            (None, Some(db)) => Arc::new(queue::sqlite::SqliteQueue::new(
                Arc::clone(db),
                cfg.jobs.visibility_timeout,
            )),
            (None, None) => unreachable!("the SQLite queue always has its state file"),
        };
        let process = format!(
            "{}:{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()),
            std::process::id()
        );
        let runner = Arc::new(worker::Runner {
            config: cfg.clone(),
            opener,
            metrics: Arc::clone(&metrics),
            http: reqwest::Client::new(),
            process: process.clone(),
        });
        for i in 0..opts.workers.unwrap_or(cfg.jobs.workers) {
            tasks.push(tokio::spawn(worker::work(
                Arc::clone(&runner),
                Arc::clone(&queue),
                format!("{process}/w{i}"),
                stop_rx.clone(),
            )));
        }
    }
    Ok(Running {
        addr,
        db,
        metrics,
        stop: stop_tx,
        tasks,
    })
}

/// Runs until `shutdown` completes, then stops gracefully.
pub async fn run(
    opts: Options,
    opener: Arc<dyn OpenBucket>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let running = start(opts, opener).await?;
    if let Some(addr) = running.addr() {
        tracing::info!("stowage serve listening on {addr}");
    }
    shutdown.await;
    running.stop().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM (systemd's stop): the `shutdown` a process gives [`run`].
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Serves `app` on `listener` until `stop` changes.
async fn serve_http<L>(listener: L, app: axum::Router, mut stop: watch::Receiver<bool>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    use axum::serve::ListenerExt;
    // `tap_io` is what gives any listener with socket addresses the peer's address
    // (`ConnectInfo`), which the receiver logs for a refused signature.
    let listener = listener.tap_io(|_| {});
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.changed().await;
    })
    .await;
    if let Err(e) = served {
        tracing::error!("the HTTP server stopped: {e}");
    }
}

fn metrics_only(metrics: Arc<metrics::Metrics>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = Arc::clone(&metrics);
                async move { m.encode() }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
}

async fn sweep_loop(
    db: Arc<db::Db>,
    metrics: Arc<metrics::Metrics>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        match db.sweep().await {
            Ok(keys) => {
                for key in keys {
                    let reason = if key.starts_with("reverify:") {
                        "reverify"
                    } else {
                        "swept"
                    };
                    metrics.enqueued(reason);
                }
            }
            Err(e) => tracing::warn!("the sweeper: {e}"),
        }
    }
}
