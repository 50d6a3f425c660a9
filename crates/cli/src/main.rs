//! `stowage`: copy recordings into buckets and prove they arrived.
//!
//! A thin binary over the `stowage` library crate (crates/stowage): flags become
//! `stowage::Settings`, each command makes its library calls and prints what they return.

mod checksum_cmd;
mod cp;
mod doctor;
mod duration;
mod endpoints;
mod inspect;
mod notice;
mod open;
mod output;
mod playlist;
mod presign;
mod progress;
mod serve;
mod upload;
mod verify_cmd;
mod verify_report;

use std::process::ExitCode;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

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

/// How to reach a bucket; used by every command that takes a URL. The switches' variables
/// take 1/0, true/false, yes/no, on/off.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// Endpoint URL: an S3-compatible server (default AWS, or $AWS_ENDPOINT_URL), an OSS
    /// endpoint or custom domain ($OSS_ENDPOINT), or one URL for every Kodo host.
    #[arg(long)]
    endpoint: Option<String>,
    /// Region of the bucket: S3 (default $AWS_REGION, the profile, then us-east-1), OSS
    /// (cn-hangzhou, $OSS_REGION), or the Kodo zone (z0, na0; asked from Qiniu when absent).
    #[arg(long)]
    region: Option<String>,
    /// S3 only: profile in ~/.aws/config (default: $AWS_PROFILE).
    #[arg(long)]
    profile: Option<String>,
    /// Access key id (default: the vendor's variables: AWS_ACCESS_KEY_ID,
    /// OSS_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_ID, QINIU_ACCESS_KEY; or the S3 profile).
    #[arg(long)]
    access_key: Option<String>,
    /// Secret key; prefer the environment, flags show up in `ps`.
    #[arg(long, hide_env_values = true)]
    secret_key: Option<String>,
    /// Temporary (STS) session token that goes with the access key.
    #[arg(long, hide_env_values = true)]
    session_token: Option<String>,
    /// Use path-style addressing (default on when an endpoint is given).
    #[arg(long)]
    path_style: bool,
    /// What every S3 put carries for the server to check: `md5` (Content-MD5 and
    /// CRC64-NVME, checked by every S3-compatible server), `crc64nvme` (only the CRC: no
    /// MD5 pass; checked by AWS and servers with flexible checksums), or `auto` (ask the
    /// server once, with a probe object carrying a wrong CRC: crc64nvme if it is refused,
    /// else md5). Default: crc64nvme on AWS itself, auto with --endpoint.
    #[arg(long, value_parser = ["md5", "crc64nvme", "auto"])]
    s3_integrity: Option<String>,
    /// For s3:// URLs: reach an OSS, COS, Kodo, Huawei OBS, Baidu BOS or Kingsoft KS3 bucket
    /// through that vendor's S3-compatible API, with its endpoint for --region and its quirks
    /// (addressing, Content-MD5) set.
    #[arg(long, value_parser = ["oss", "cos", "kodo", "obs", "bos", "ks3"], requires = "region")]
    s3_preset: Option<String>,
    /// Also trust the CA certificates in this PEM file: an on-premises S3-compatible server
    /// or a TLS-inspecting proxy with a private CA.
    #[arg(long, env = "STOWAGE_CA_BUNDLE", value_name = "PEM")]
    ca_bundle: Option<std::path::PathBuf>,
    /// Where this machine (the uploader) runs: a region id (eu-central-1, cn-hangzhou),
    /// vendor:region (oss:cn-hangzhou), or a geography (europe, mainland-china, …). Picks
    /// the endpoint with the bucket's region and warns when the bucket is far away.
    /// `verify` spells it --from-region (its --from is where repairs come from).
    #[arg(
        id = "uploader_from",
        long = "from",
        value_name = "REGION",
        env = "STOWAGE_FROM"
    )]
    from: Option<String>,
    /// Use the vendor's internal endpoint (OSS `oss-<region>-internal`, COS `cos-internal`)
    /// when --from is the bucket's own region, e.g. on an ECS or CVM instance there.
    #[arg(long, env = "STOWAGE_INTERNAL", value_parser = BoolishValueParser::new())]
    internal: bool,
    /// Use the vendor's accelerated endpoint (S3 Transfer Acceleration, OSS/COS global
    /// acceleration, Kodo's upload-<zone>) when --from is on another continent; acceleration
    /// must be enabled on the bucket.
    #[arg(long, env = "STOWAGE_ACCELERATE", value_parser = BoolishValueParser::new())]
    accelerate: bool,
    /// Time the candidate endpoints (one HEAD each) and use the fastest that answers; fail,
    /// naming them, when none does. With --endpoint, checks that that endpoint answers.
    #[arg(long, env = "STOWAGE_PROBE_ENDPOINTS", value_parser = BoolishValueParser::new())]
    probe_endpoints: bool,
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
