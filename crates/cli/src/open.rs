//! Flags → the library's [`Settings`]; the library's open errors and warnings in the
//! command line's words (the library names no flag, so the flag names are added here).

use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use stowage::{Credentials, ObjectStore, OpenError, OpenedBucket, Scheme, Settings, StorageUrl};

use crate::StoreArgs;

/// A store and the key (or prefix) inside it that a URL names.
pub struct Located {
    pub store: Arc<dyn ObjectStore>,
    pub key: String,
    pub url: StorageUrl,
}

/// Choosing the endpoint failed (unknown --from, a region the tables lack, no endpoint
/// answering the probe), before any store was opened: not a credentials problem.
#[derive(Debug)]
pub struct EndpointChoiceError(pub String);

impl std::fmt::Display for EndpointChoiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EndpointChoiceError {}

/// The settings the flags (and their variables) give for a bucket of `scheme`.
pub fn settings(args: &StoreArgs, scheme: Scheme, create: bool) -> Result<Settings> {
    Ok(Settings {
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
        credentials: credentials(args, scheme)?,
        path_style: args.path_style,
        s3_integrity: match args.s3_integrity.as_deref() {
            Some(mode) => Some(stowage::parse_s3_integrity(mode)?),
            None => None,
        },
        s3_preset: match args.s3_preset.as_deref() {
            Some(vendor) => Some(vendor.parse()?),
            None => None,
        },
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
            env_credentials(scheme)
        ),
    }
}

fn env_credentials(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Oss => "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET",
        Scheme::Cos => {
            "TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (the SecretId and SecretKey)"
        }
        Scheme::Kodo => "QINIU_ACCESS_KEY and QINIU_SECRET_KEY",
        Scheme::Azure => {
            "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_TOKEN)"
        }
        Scheme::Gcs => {
            "GOOGLE_APPLICATION_CREDENTIALS (a service-account key file) or gcloud's application-default credentials"
        }
        Scheme::S3 | Scheme::File => "the environment or a profile",
    }
}

/// The library's error with the flags that fix it.
pub fn cli_error(e: OpenError) -> anyhow::Error {
    let choice = |text: String| anyhow::Error::new(EndpointChoiceError(text));
    match e {
        OpenError::Store(e) => e.into(),
        e @ OpenError::UnknownRegion { .. } => choice(format!(
            "{e}. Use one of them, or give the endpoint yourself with --endpoint"
        )),
        OpenError::RegionDiscovery { url, source } => choice(format!(
            "the bucket's region is needed to choose its endpoint (--from, --internal, --accelerate, --probe-endpoints) and asking {url} failed; pass --region to skip the question. {source}"
        )),
        OpenError::NoEndpointAnswers { detail } => choice(format!(
            "--probe-endpoints: {detail}. Fix: check this machine's network, DNS and firewall for these hosts, or give a reachable endpoint with --endpoint (or drop --probe-endpoints)"
        )),
        OpenError::NoCandidate => {
            choice("the selector offered no endpoint; give one with --endpoint".into())
        }
        e @ OpenError::Endpoint(_) => choice(e.to_string()),
    }
}

/// Prints the library's warnings on stderr, each region at most once per run.
fn warn(opened: &OpenedBucket) {
    print_warnings(&opened.warnings);
}

/// Prints warnings from opening buckets on stderr, each region at most once per run.
pub fn print_warnings(warnings: &[stowage::Warning]) {
    static SHOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    for w in warnings {
        let stowage::Warning::UnknownRegion {
            vendor_name,
            region,
            known,
            ..
        } = w;
        let mut shown = SHOWN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let topic = format!("{vendor_name}|{region}");
        if shown.contains(&topic) {
            continue;
        }
        shown.push(topic);
        eprintln!(
            "warning: unknown {vendor_name} region `{region}` (not in Stowage's tables, which know {}); the host is built from the vendor's pattern. If it is misspelt, use one of those, or give the endpoint yourself with --endpoint",
            known.join(", ")
        );
    }
}

/// Opens the bucket a URL names, through the endpoint the selector picks when --from,
/// --internal, --accelerate or --probe-endpoints ask for it. Local directories must exist
/// unless `create` is set.
pub async fn open_placed(url: &StorageUrl, args: &StoreArgs, create: bool) -> Result<OpenedBucket> {
    let settings = settings(args, url.scheme, create)?;
    let opened = stowage::open_url(url, &settings).await.map_err(cli_error)?;
    warn(&opened);
    Ok(opened)
}

/// The bucket a URL lies in and the key (object or prefix) it names below the bucket's
/// root; a local path is split at its directory bucket's root.
pub async fn open_place_placed(
    url: &StorageUrl,
    args: &StoreArgs,
    create: bool,
) -> Result<OpenedBucket> {
    let settings = settings(args, url.scheme, create)?;
    let opened = stowage::locate(url, &settings).await.map_err(cli_error)?;
    warn(&opened);
    Ok(opened)
}

/// [`open_place_placed`], the store and the key.
pub async fn open_place(
    url: &StorageUrl,
    args: &StoreArgs,
    create: bool,
) -> Result<(Arc<dyn ObjectStore>, String)> {
    let opened = open_place_placed(url, args, create).await?;
    Ok((opened.store, opened.prefix))
}

/// Opens the store of a URL naming one object (or a prefix).
pub async fn open_object(url: &StorageUrl, args: &StoreArgs) -> Result<Located> {
    let (store, key) = open_place(url, args, false).await?;
    Ok(Located {
        store,
        key,
        url: url.clone(),
    })
}
