//! `stowage serve`: flags → configuration → `stowage::serve::run`. Buckets are opened the
//! way every other command opens them (open.rs), with the store flags as defaults for all.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use stowage::core::{ObjectStore, StorageUrl};
use stowage::serve::{Config, OpenBucket, Options, QueueKind, Role};

use crate::open::StoreArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service's configuration (listen address, state file, NCS secret variable, jobs,
    /// and the [[recordings]] routes to buckets); see docs/serve.md.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The job queue: `sqlite` (the state file's job table, one machine) or
    /// nats://host:port (a NATS JetStream work-queue stream, workers anywhere).
    #[arg(long, default_value = "sqlite", value_name = "sqlite|nats://HOST:PORT")]
    queue: String,
    /// Verification workers in this process (default: [jobs] workers).
    #[arg(long)]
    workers: Option<usize>,
    /// What this process runs: the receiver and workers, only the receiver (with the
    /// sweeper), or only workers (more processes or machines pulling from the same queue).
    #[arg(long, value_enum, default_value_t = RoleArg::All)]
    role: RoleArg,
    /// Listen here instead of [server] listen; for a worker-only process, serve /metrics here.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM), instead of [server] tls_cert; NCS posts
    /// only to https URLs (or terminate TLS in front, see docs/serve.md).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM), instead of [server] tls_key.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    All,
    Receiver,
    Worker,
}

/// Buckets from configured URLs, through the library's front door with the flags'
/// settings (credentials checked per URL: the key pair's variables depend on the vendor).
struct CliOpener(StoreArgs);

#[async_trait::async_trait]
impl OpenBucket for CliOpener {
    async fn open(&self, url: &str) -> stowage::core::Result<Arc<dyn ObjectStore>> {
        let parsed = StorageUrl::parse(url)?;
        let settings = crate::open::settings(&self.0, parsed.scheme, false)
            .map_err(|e| stowage::core::Error::invalid_input(format!("{e:#}")))?;
        match stowage::open_url(&parsed, &settings).await {
            Ok(opened) => Ok(opened.store),
            Err(e) => Err(e.into_error()),
        }
    }
}

pub async fn run(args: ServeArgs) -> Result<ExitCode> {
    let mut config = Config::load(&args.config)?;
    if args.tls_cert.is_some() || args.tls_key.is_some() {
        let (cert, key) = config.tls.take().map(|t| (t.cert, t.key)).unzip();
        config.tls =
            stowage::serve::config::tls_files(args.tls_cert.or(cert), args.tls_key.or(key))?;
    }
    let opts = Options {
        config,
        queue: QueueKind::parse(&args.queue)?,
        role: match args.role {
            RoleArg::All => Role::All,
            RoleArg::Receiver => Role::Receiver,
            RoleArg::Worker => Role::Worker,
        },
        workers: args.workers,
        listen: args.listen,
    };
    let opener = Arc::new(CliOpener(args.store));
    stowage::serve::run(opts, opener, stowage::serve::shutdown_signal())
        .await
        .context("stowage serve")?;
    Ok(ExitCode::SUCCESS)
}
