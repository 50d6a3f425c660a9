//! Flags → the library's [`Settings`]; the library's open errors and warnings in the
//! command line's words (the library names no flag, so the flag names are added here).

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use anyhow::{Result, bail};
use clap::Args;
use clap::builder::BoolishValueParser;
use stowage::{Credentials, OpenedBucket, Scheme, Settings, StorageUrl};

/// How to reach a bucket; used by every command that takes a URL. The switches' variables
/// take 1/0, true/false, yes/no, on/off.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// Endpoint URL: an S3-compatible server (default AWS, or $AWS_ENDPOINT_URL), an OSS
    /// endpoint or custom domain ($OSS_ENDPOINT), one URL for every Kodo host, or another
    /// GCS endpoint (an emulator).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Region of the bucket: S3 (default $AWS_REGION, the profile, then us-east-1), OSS
    /// (cn-hangzhou, $OSS_REGION), or the Kodo zone (z0, na0; asked from Qiniu when absent).
    #[arg(long)]
    pub region: Option<String>,
    /// S3 only: profile in ~/.aws/config (default: $AWS_PROFILE).
    #[arg(long)]
    pub profile: Option<String>,
    /// Access key id (default: the vendor's variables: AWS_ACCESS_KEY_ID,
    /// OSS_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_ID, QINIU_ACCESS_KEY; or the S3 profile).
    #[arg(long)]
    pub access_key: Option<String>,
    /// Secret key (for gs://, a service-account key: its JSON or its file); prefer the
    /// environment, flags show up in `ps`.
    #[arg(long, hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Temporary (STS) session token that goes with the access key.
    #[arg(long, hide_env_values = true)]
    pub session_token: Option<String>,
    /// Use path-style addressing (default on when an endpoint is given).
    #[arg(long)]
    pub path_style: bool,
    /// What every S3 put carries for the server to check: `md5` (Content-MD5 and
    /// CRC64-NVME, checked by every S3-compatible server), `crc64nvme` (only the CRC: no
    /// MD5 pass; checked by AWS and servers with flexible checksums), or `auto` (ask the
    /// server once, with a probe object carrying a wrong CRC: crc64nvme if it is refused,
    /// else md5). Default: crc64nvme on AWS itself, auto with --endpoint.
    #[arg(long, value_parser = ["md5", "crc64nvme", "auto"])]
    pub s3_integrity: Option<String>,
    /// For s3:// URLs: reach an OSS, COS, Kodo, Huawei OBS, Baidu BOS or Kingsoft KS3 bucket
    /// through that vendor's S3-compatible API, with its endpoint for --region and its quirks
    /// (addressing, Content-MD5) set; `gcs`: a Google Cloud Storage bucket with HMAC keys,
    /// through GCS's XML API on its one global endpoint (no --region).
    #[arg(
        long,
        value_parser = ["oss", "cos", "kodo", "obs", "bos", "ks3", "gcs"],
        requires_ifs = [("oss", "region"), ("cos", "region"), ("kodo", "region"), ("obs", "region"), ("bos", "region"), ("ks3", "region")]
    )]
    pub s3_preset: Option<String>,
    /// Also trust the CA certificates in this PEM file: an on-premises S3-compatible server
    /// or a TLS-inspecting proxy with a private CA.
    #[arg(long, env = "STOWAGE_CA_BUNDLE", value_name = "PEM")]
    pub ca_bundle: Option<std::path::PathBuf>,
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
    pub from: Option<String>,
    /// Use the vendor's internal endpoint (OSS `oss-<region>-internal`, COS `cos-internal`)
    /// when --from is the bucket's own region, e.g. on an ECS or CVM instance there.
    #[arg(long, env = "STOWAGE_INTERNAL", value_parser = BoolishValueParser::new())]
    pub internal: bool,
    /// Use the vendor's accelerated endpoint (S3 Transfer Acceleration, OSS/COS global
    /// acceleration, Kodo's upload-<zone>) when --from is on another continent; acceleration
    /// must be enabled on the bucket.
    #[arg(long, env = "STOWAGE_ACCELERATE", value_parser = BoolishValueParser::new())]
    pub accelerate: bool,
    /// Time the candidate endpoints (one HEAD each) and use the fastest that answers; fail,
    /// naming them, when none does. With --endpoint, checks that that endpoint answers.
    #[arg(long, env = "STOWAGE_PROBE_ENDPOINTS", value_parser = BoolishValueParser::new())]
    pub probe_endpoints: bool,
}

/// The settings the flags (and their variables) give for a bucket of `scheme`.
pub fn settings(args: &StoreArgs, scheme: Scheme, create: bool) -> Result<Settings> {
    Ok(Settings {
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
        credentials: credentials(args, scheme)?,
        path_style: args.path_style,
        s3_integrity: (args.s3_integrity.as_deref())
            .map(stowage::parse_s3_integrity)
            .transpose()?,
        s3_preset: args.s3_preset.as_deref().map(str::parse).transpose()?,
        ca_bundle: args.ca_bundle.clone(),
        from: args.from.clone(),
        internal: args.internal,
        accelerate: args.accelerate,
        probe_endpoints: args.probe_endpoints,
        create_local: create,
    })
}

/// The key pair from `--access-key`/`--secret-key` with `--session-token`, or `None` for
/// the vendor's environment; one flag without the other names what the vendor reads.
fn credentials(args: &StoreArgs, scheme: Scheme) -> Result<Option<Credentials>> {
    if scheme == Scheme::File {
        return Ok(None);
    }
    match (&args.access_key, &args.secret_key) {
        (Some(ak), Some(sk)) => {
            let token = args.session_token.clone();
            Ok(Some(Credentials::new(ak, sk).with_session_token(token)))
        }
        (None, None) => Ok(None),
        _ => bail!(
            "--access-key and --secret-key go together: give both, or neither to use {}",
            stowage::credential_variables(scheme)
        ),
    }
}

/// Prints warnings from opening buckets on stderr, each at most once per run.
pub fn print_warnings(warnings: &[stowage::Warning]) {
    for w in warnings {
        let line = format!("warning: {w} with --endpoint");
        eprint_once(line.clone(), &line);
    }
}

/// Prints `line` on stderr unless a line on the same `topic` was printed before in this run.
pub fn eprint_once(topic: String, line: &str) {
    static SHOWN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut shown = SHOWN.lock().unwrap_or_else(PoisonError::into_inner);
    if shown.insert(topic) {
        eprintln!("{line}");
    }
}

/// Opens the bucket a URL names, through the endpoint the selector picks when --from,
/// --internal, --accelerate or --probe-endpoints ask for it, and prints the warnings.
/// With `locate`, the bucket the URL lies in, with the key (object or prefix) it names below
/// the bucket's root as the prefix; a local path is split at its directory bucket's root.
/// Local directories must exist unless `create` is set.
pub async fn open(
    url: &StorageUrl,
    args: &StoreArgs,
    create: bool,
    locate: bool,
) -> Result<OpenedBucket> {
    let settings = settings(args, url.scheme, create)?;
    let opened = match locate {
        true => stowage::locate(url, &settings).await,
        false => stowage::open_url(url, &settings).await,
    };
    let opened = opened.map_err(crate::flags::open_error)?;
    print_warnings(&opened.warnings);
    Ok(opened)
}
