//! `stowage`: copy recordings into buckets and prove they arrived.
//!
//! A thin binary over the `stowage` library crate (crates/stowage): flags become
//! `stowage::Settings`, each command makes its library calls and prints what they return.

mod checksum_cmd;
mod cp;
mod doctor;
mod endpoints;
mod flags;
mod inspect;
mod notice;
mod open;
mod playlist;
mod presign;
mod progress;
mod serve;
mod upload;
mod verify_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "stowage",
    version,
    about = "Get cloud recordings safely into object storage, and prove they arrived."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upload a recording directory: segments first, playlists last, crash-safe, with a backup bucket.
    Upload(upload::UploadArgs),
    /// Move what a previous upload left in the backup bucket into the primary.
    Restore(upload::UploadArgs),
    /// Check that every object of a recording is in the bucket, intact (exit 1 if not).
    Verify(verify_cmd::VerifyArgs),
    /// Copy a file or directory to or from a bucket (either side local or a URL).
    Cp(cp::CpArgs),
    /// List the objects under a URL prefix.
    Ls(inspect::LsArgs),
    /// Show one object's size, ETag, content type and stored checksums.
    Stat(inspect::StatArgs),
    /// Print a time-limited download URL for one object (S3, OSS, COS, Kodo, Azure), like `aws s3 presign`.
    Presign(presign::PresignArgs),
    /// Compute the checksums each vendor uses, in their wire forms.
    Checksum(checksum_cmd::ChecksumArgs),
    /// Validate, merge and locate HLS playlists.
    Playlist(playlist::PlaylistArgs),
    /// Will recordings land in this bucket, and fast? Credentials, bucket, region, clock,
    /// write permission, latency, throughput and playback, each with its fix.
    Doctor(doctor::DoctorArgs),
    /// Which endpoints to use for a bucket (and which Agora REST domains), with cross-region advice.
    Endpoints(endpoints::EndpointsArgs),
    /// Receive Agora NCS webhooks and verify (and repair) every uploaded recording.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    init_logging();
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Upload(args) => upload::upload(args, false).await,
            Command::Restore(args) => upload::upload(args, true).await,
            Command::Verify(args) => Ok(verify_cmd::run(args).await),
            Command::Cp(args) => cp::run(args).await,
            Command::Ls(args) => inspect::ls(args).await,
            Command::Stat(args) => inspect::stat(args).await,
            Command::Presign(args) => presign::run(args).await,
            Command::Checksum(args) => checksum_cmd::run(args).await,
            Command::Playlist(args) => playlist::run(args),
            Command::Doctor(args) => Ok(doctor::run(args).await),
            Command::Endpoints(args) => endpoints::run(args).await,
            Command::Serve(args) => serve::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line. `verify` has its own `--from` (where repairs come from), so
/// there the shared uploader-region flag is spelled `--from-region`.
fn parse_cli() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command().mut_subcommand("verify", |verify| {
        verify.mut_arg("uploader_from", |arg| arg.long("from-region"))
    });
    Cli::from_arg_matches(&command.get_matches())
}

/// Our warnings, and only errors from the AWS SDK (which warns about absent config files).
const DEFAULT_LOG: &str =
    "warn,aws_runtime=error,aws_config=error,aws_smithy_runtime=error,aws_sdk_s3=error";

/// Logs go to stderr; `STOWAGE_LOG=debug` for more.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STOWAGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
