//! From a URL and flags to a store and a key. For s3/oss/cos/kodo URLs whose region is
//! known, stowage-region's selector picks the endpoint (see `placement`) and each adapter is
//! configured with it in its own spelling; an explicit endpoint always wins.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use stowage_azure::{AzureConfig, AzureStore};
use stowage_core::{Credentials, ObjectStore, Scheme, StorageUrl};
use stowage_cos::{CosConfig, CosStore};
use stowage_fs::FsStore;
use stowage_kodo::{KodoConfig, KodoStore};
use stowage_oss::{Addressing, OssConfig, OssStore};
use stowage_region::{Candidate, EndpointKind, Protocol, Region, Vendor};
use stowage_s3::{S3Config, S3Integrity, S3Store};

use crate::StoreArgs;
use crate::placement::{self, Placement, Target};

/// A store and the key (or prefix) inside it that a URL names.
pub struct Located {
    pub store: Arc<dyn ObjectStore>,
    pub key: String,
    pub url: StorageUrl,
}

/// A bucket opened, with how its endpoint was chosen.
pub struct Opened {
    pub store: Arc<dyn ObjectStore>,
    /// `None` for local directories, when no selection flag was given, or when the bucket's
    /// region is unknown.
    pub placement: Option<Placement>,
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

/// The endpoint the selector chose, for an adapter's config.
#[derive(Debug, Clone, Copy)]
struct Chosen<'a> {
    candidate: &'a Candidate,
    region: &'static Region,
}

impl Chosen<'_> {
    /// The regional public host is what every adapter builds from the region by itself, so
    /// only other kinds (internal, accelerated, COS's fallback) set an endpoint.
    fn is_public(&self) -> bool {
        self.candidate.kind == EndpointKind::Public
    }

    fn host_url(&self) -> String {
        format!("https://{}", self.candidate.host)
    }
}

/// Opens the bucket a URL names. Local directories must exist unless `create` is set.
pub async fn open_bucket(
    url: &StorageUrl,
    args: &StoreArgs,
    create: bool,
) -> Result<Arc<dyn ObjectStore>> {
    Ok(open_placed(url, args, create).await?.store)
}

/// Opens the bucket a URL names, through the endpoint the selector picks when --from,
/// --internal, --accelerate or --probe-endpoints ask for it.
pub async fn open_placed(url: &StorageUrl, args: &StoreArgs, create: bool) -> Result<Opened> {
    if url.scheme == Scheme::File {
        let store = open_local(&url.local_path().unwrap_or_default(), create).await?;
        return Ok(Opened {
            store,
            placement: None,
        });
    }
    let placement = match placement::wanted(args) {
        true => placement_of(url, args)
            .await
            .map_err(|e| EndpointChoiceError(e.to_string()))?,
        false => {
            known_region(url, args).map_err(|e| EndpointChoiceError(e.to_string()))?;
            None
        }
    };
    let chosen = placement.as_ref().and_then(|p| {
        p.chosen.as_ref().map(|candidate| Chosen {
            candidate,
            region: p.region,
        })
    });
    let store = open_remote(url, args, chosen).await?;
    Ok(Opened { store, placement })
}

async fn open_local(root: &Path, create: bool) -> Result<Arc<dyn ObjectStore>> {
    let store = if create {
        FsStore::create(root).await?
    } else {
        FsStore::open(root).await?
    };
    Ok(Arc::new(store))
}

async fn open_remote(
    url: &StorageUrl,
    args: &StoreArgs,
    chosen: Option<Chosen<'_>>,
) -> Result<Arc<dyn ObjectStore>> {
    let bucket = &url.bucket;
    // Read once here, not in each config builder (they also serve endpoint and region look-ups).
    let ca = ca_bundle(args)?;
    Ok(match url.scheme {
        Scheme::File => bail!("{url} is a local directory, not a bucket"),
        Scheme::S3 => {
            let cfg = S3Config {
                ca_bundle: ca,
                ..s3_config(bucket, args, chosen)?
            };
            Arc::new(S3Store::new(cfg).await?)
        }
        Scheme::Oss => {
            let cfg = OssConfig {
                ca_bundle: ca,
                ..oss_config(bucket, args, chosen)?
            };
            Arc::new(OssStore::new(cfg)?)
        }
        Scheme::Cos => {
            let cfg = CosConfig {
                ca_bundle: ca,
                ..cos_config(bucket, args, chosen)?
            };
            Arc::new(CosStore::new(cfg)?)
        }
        Scheme::Kodo => {
            let cfg = KodoConfig {
                ca_bundle: ca,
                ..kodo_config(bucket, args, chosen)?
            };
            Arc::new(KodoStore::new(cfg).await?)
        }
        Scheme::Azure => {
            let cfg = AzureConfig {
                ca_bundle: ca,
                ..azure_config(bucket, args)?
            };
            Arc::new(AzureStore::new(cfg)?)
        }
    })
}

/// The selector's verdict for a bucket URL, or `None` when its region cannot be known.
async fn placement_of(url: &StorageUrl, args: &StoreArgs) -> Result<Option<Placement>> {
    let Some((vendor, protocol)) = vendor_of(url.scheme, args)? else {
        return Ok(None);
    };
    let explicit = explicit_endpoint(url, args)?;
    if args.probe_endpoints
        && let Some(ep) = &explicit
    {
        placement::require_alive(ep, ca_bundle(args)?.as_ref()).await?;
    }
    let Some(region) = bucket_region(url, vendor, args, explicit.is_some()).await? else {
        return Ok(None);
    };
    let target = Target {
        vendor,
        protocol,
        region,
        bucket: &url.bucket,
        explicit: explicit.as_deref(),
    };
    placement::place(&target, args).await.map(Some)
}

/// Without an endpoint of the user's own, the adapter builds the host from the region: a
/// region the tables do not know would only show up later as a DNS failure, so it is named
/// now, with the regions there are (and `--endpoint` for one too new for the tables).
fn known_region(url: &StorageUrl, args: &StoreArgs) -> Result<()> {
    let Some((vendor, _)) = vendor_of(url.scheme, args)? else {
        return Ok(());
    };
    if explicit_endpoint(url, args)?.is_some() {
        return Ok(());
    }
    if let Some(id) = configured_region(url, args)? {
        vendor.region(&id)?;
    }
    Ok(())
}

/// The vendor whose tables apply: the URL's, or with --s3-preset the preset's vendor
/// reached through its S3-compatible API.
fn vendor_of(scheme: Scheme, args: &StoreArgs) -> Result<Option<(Vendor, Protocol)>> {
    if let (Scheme::S3, Some(preset)) = (scheme, &args.s3_preset) {
        return Ok(Some((preset.parse()?, Protocol::S3Compatible)));
    }
    Ok(match scheme {
        // Azure has no region tables: one endpoint per storage account.
        Scheme::File | Scheme::Azure => None,
        Scheme::S3 => Some((Vendor::S3, Protocol::Native)),
        Scheme::Oss => Some((Vendor::Oss, Protocol::Native)),
        Scheme::Cos => Some((Vendor::Cos, Protocol::Native)),
        Scheme::Kodo => Some((Vendor::Kodo, Protocol::Native)),
    })
}

/// The endpoint the user named: --endpoint, or the vendor's endpoint variable (which an S3
/// preset overrides with its own, so there only --endpoint counts).
fn explicit_endpoint(url: &StorageUrl, args: &StoreArgs) -> Result<Option<String>> {
    let bucket = &url.bucket;
    Ok(match url.scheme {
        Scheme::S3 if args.s3_preset.is_some() => args.endpoint.clone(),
        Scheme::S3 => s3_config(bucket, args, None)?.endpoint,
        Scheme::Oss => oss_config(bucket, args, None)?.endpoint,
        Scheme::Cos => cos_config(bucket, args, None)?.endpoint,
        Scheme::Kodo => kodo_config(bucket, args, None)?.endpoint,
        Scheme::Azure => azure_config(bucket, args)?.endpoint,
        Scheme::File => None,
    })
}

/// The bucket's region: --region, the vendor's region variable, the explicit endpoint's
/// host; else, for S3 and Kodo (one cheap request that needs no region), asked of the
/// bucket. OSS and COS cannot even address a bucket without its region.
async fn bucket_region(
    url: &StorageUrl,
    vendor: Vendor,
    args: &StoreArgs,
    explicit: bool,
) -> Result<Option<&'static Region>> {
    let configured = configured_region(url, args)?;
    let id = match configured {
        Some(id) => id,
        None if explicit => return Ok(None),
        None => match vendor {
            Vendor::S3 | Vendor::Kodo => return discover(url, vendor, args).await,
            Vendor::Oss | Vendor::Cos | Vendor::Obs | Vendor::Bos | Vendor::Ks3 => {
                return Ok(None);
            }
        },
    };
    match vendor.region(&id) {
        Ok(region) => Ok(Some(region)),
        // A region the tables do not know, behind an endpoint the user gave (a local
        // server, a private cloud): nothing to select, nothing to warn about.
        Err(_) if explicit => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn configured_region(url: &StorageUrl, args: &StoreArgs) -> Result<Option<String>> {
    let bucket = &url.bucket;
    Ok(match url.scheme {
        Scheme::S3 => args.region.clone().or_else(|| {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        }),
        Scheme::Oss => {
            let cfg = oss_config(bucket, args, None)?;
            let from_endpoint = cfg
                .endpoint
                .as_deref()
                .and_then(stowage_oss::config::region_of_endpoint);
            cfg.region.or(from_endpoint)
        }
        Scheme::Cos => {
            let cfg = cos_config(bucket, args, None)?;
            let from_endpoint = cfg
                .endpoint
                .as_deref()
                .and_then(stowage_cos::config::region_of_endpoint);
            cfg.region.or(from_endpoint)
        }
        Scheme::Kodo => args.region.clone(),
        Scheme::File | Scheme::Azure => None,
    })
}

/// Asks the bucket where it is, through the adapter's default endpoint.
async fn discover(
    url: &StorageUrl,
    vendor: Vendor,
    args: &StoreArgs,
) -> Result<Option<&'static Region>> {
    let store = open_remote(url, args, None).await?;
    stowage_region::discover_region(store.as_ref(), vendor)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the bucket's region is needed to choose its endpoint (--from, --internal, --accelerate, --probe-endpoints) and asking {url} failed; pass --region to skip the question. {e}"
            )
        })
}

fn s3_config(bucket: &str, args: &StoreArgs, chosen: Option<Chosen>) -> Result<S3Config> {
    if let Some(vendor) = &args.s3_preset {
        return preset_config(bucket, args, vendor, chosen);
    }
    let mut cfg = S3Config::from_env(bucket);
    if let Some(ep) = &args.endpoint {
        cfg.endpoint = Some(ep.clone());
        cfg.force_path_style = true;
    }
    cfg.force_path_style |= args.path_style;
    // AWS itself checks CRC64-NVME; any other endpoint is asked once (see S3Integrity::Auto).
    cfg.integrity = match (args.s3_integrity.as_deref(), &cfg.endpoint) {
        (Some("crc64nvme"), _) | (None, None) => S3Integrity::Crc64Nvme,
        (Some("md5"), _) => S3Integrity::Md5AndCrc64Nvme,
        _ => S3Integrity::Auto,
    };
    cfg.region.clone_from(&args.region);
    if args.profile.is_some() {
        cfg.profile.clone_from(&args.profile);
    }
    cfg.credentials = flag_credentials(args, || None, "the environment or a profile")?;
    if let Some(c) = chosen {
        apply_s3(&mut cfg, c);
    }
    Ok(cfg)
}

/// S3: the bucket's region, and a non-public endpoint (`s3-accelerate.amazonaws.com`)
/// addressed virtual-hosted, as Transfer Acceleration requires. It is still AWS, so the
/// integrity default chosen above (CRC64-NVME only) stands.
fn apply_s3(cfg: &mut S3Config, chosen: Chosen) {
    cfg.region = Some(chosen.region.id.clone());
    if !chosen.is_public() {
        cfg.endpoint = Some(chosen.host_url());
        cfg.force_path_style = false;
    }
}

/// An OSS, COS, Kodo, OBS, BOS or KS3 bucket through the vendor's S3-compatible API: the preset's endpoint
/// for the region (unless --endpoint; its internal or accelerated one when selected),
/// addressing and integrity, from stowage-region's data.
fn preset_config(
    bucket: &str,
    args: &StoreArgs,
    vendor: &str,
    chosen: Option<Chosen>,
) -> Result<S3Config> {
    let vendor: stowage_region::Vendor = vendor.parse()?;
    let region_id = args.region.as_deref().unwrap_or_default();
    let region = vendor.region(region_id)?;
    let Some(preset) = stowage_region::s3_preset(vendor) else {
        bail!("{vendor} has no S3-compatible preset");
    };
    let settings = preset.for_region(region);
    let mut plain = args.clone();
    plain.s3_preset = None;
    plain.region = Some(settings.region.clone());
    let selected = chosen.filter(|c| !c.is_public()).map(|c| c.host_url());
    plain.endpoint = Some(
        args.endpoint
            .clone()
            .or(selected)
            .unwrap_or(settings.endpoint),
    );
    plain.s3_integrity = Some(args.s3_integrity.clone().unwrap_or(settings.integrity));
    let mut cfg = s3_config(bucket, &plain, None)?;
    // s3_config turns path style on for any --endpoint; the preset knows better.
    cfg.force_path_style = args.path_style || settings.force_path_style;
    Ok(cfg)
}

/// OSS: flags over `OSS_*` / `ALIBABA_CLOUD_*` variables. An endpoint on aliyuncs.com is
/// addressed virtual-hosted, a loopback one path style, any other host as the bucket's
/// custom domain; `--path-style` forces path style.
fn oss_config(bucket: &str, args: &StoreArgs, chosen: Option<Chosen>) -> Result<OssConfig> {
    let mut cfg = OssConfig::from_env(bucket);
    if let Some(ep) = &args.endpoint {
        cfg.endpoint = Some(ep.clone());
    }
    if args.region.is_some() {
        cfg.region.clone_from(&args.region);
    }
    cfg.addressing = match (&cfg.endpoint, args.path_style) {
        (_, true) => Addressing::PathStyle,
        (Some(ep), false) => addressing_for(ep),
        (None, false) => Addressing::VirtualHosted,
    };
    let env_token = || {
        OssConfig::credentials_from_env()?
            .session_token()
            .map(str::to_string)
    };
    cfg.credentials = flag_credentials(
        args,
        env_token,
        "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET",
    )?;
    if let Some(c) = chosen {
        apply_oss(&mut cfg, c);
    }
    Ok(cfg)
}

/// OSS: the bucket's region (V4 signs with it), and a non-public endpoint
/// (`oss-<region>-internal.aliyuncs.com`, `oss-accelerate.aliyuncs.com`) addressed
/// `<bucket>.<endpoint>` like the public one.
fn apply_oss(cfg: &mut OssConfig, chosen: Chosen) {
    cfg.region = Some(chosen.region.id.clone());
    if !chosen.is_public() {
        cfg.endpoint = Some(chosen.host_url());
        cfg.addressing = Addressing::VirtualHosted;
    }
}

/// Kodo: `--region` is the zone (asked from Qiniu when absent), `--endpoint` puts every
/// host (up, rs, rsf, uc, io) at one URL, keys come from the flags or
/// `QINIU_ACCESS_KEY`/`QINIU_SECRET_KEY`.
fn kodo_config(bucket: &str, args: &StoreArgs, chosen: Option<Chosen>) -> Result<KodoConfig> {
    let mut cfg = KodoConfig::new(bucket);
    cfg.zone.clone_from(&args.region);
    if let Some(ep) = &args.endpoint {
        cfg.endpoint = Some(ep.clone());
        cfg.https = !ep.starts_with("http://");
    }
    cfg.credentials = flag_credentials(args, || None, "QINIU_ACCESS_KEY and QINIU_SECRET_KEY")?;
    if let Some(c) = chosen {
        apply_kodo(&mut cfg, c);
    }
    Ok(cfg)
}

/// Azure: `--access-key` is the storage account name and `--secret-key` its key or a SAS
/// token (as Agora's storageConfig carries them), else the `AZURE_STORAGE_*` variables;
/// `--endpoint` (or `AZURE_STORAGE_ENDPOINT`) is the account's blob endpoint, an emulator's
/// `http://127.0.0.1:10000` included.
fn azure_config(container: &str, args: &StoreArgs) -> Result<AzureConfig> {
    let creds = flag_credentials(
        args,
        || None,
        "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_TOKEN)",
    )?;
    let mut cfg = AzureConfig::from_env(container, creds.as_ref())?;
    if let Some(ep) = &args.endpoint {
        cfg.endpoint = Some(ep.clone());
    }
    Ok(cfg)
}

/// The key pair from `--access-key`/`--secret-key`, with `--session-token` (else
/// `env_token()`, the vendor's variable), or `None` to let the adapter read the vendor's
/// environment; one flag without the other is an error naming `fallback`.
fn flag_credentials(
    args: &StoreArgs,
    env_token: impl FnOnce() -> Option<String>,
    fallback: &str,
) -> Result<Option<Credentials>> {
    match (&args.access_key, &args.secret_key) {
        (Some(ak), Some(sk)) => {
            let token = args.session_token.clone().or_else(env_token);
            Ok(Some(Credentials::new(ak, sk).with_session_token(token)))
        }
        (None, None) => Ok(None),
        _ => bail!(
            "--access-key and --secret-key go together: give both, or neither to use {fallback}"
        ),
    }
}

/// The private CA to trust besides the usual roots (`--ca-bundle`, `STOWAGE_CA_BUNDLE`).
pub fn ca_bundle(args: &StoreArgs) -> Result<Option<stowage_core::tls::CaBundle>> {
    Ok(match &args.ca_bundle {
        Some(path) => Some(stowage_core::tls::CaBundle::from_file(path)?),
        None => None,
    })
}

/// Kodo: the zone, and its accelerated upload host (`upload-<zone>.qiniup.com`) through the
/// adapter's own switch; the adapter derives every host (up, rs, rsf) from the zone.
fn apply_kodo(cfg: &mut KodoConfig, chosen: Chosen) {
    cfg.zone = Some(chosen.region.id.clone());
    cfg.accelerated = chosen.candidate.kind == EndpointKind::Accelerated;
}

fn addressing_for(endpoint: &str) -> Addressing {
    let host = endpoint
        .split("://")
        .last()
        .unwrap_or(endpoint)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    if host.ends_with(".aliyuncs.com") {
        Addressing::VirtualHosted
    } else if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() {
        Addressing::PathStyle
    } else {
        Addressing::CustomDomain
    }
}

/// COS: flags over `TENCENTCLOUD_*` / `COS_*` variables. `cos.<region>.myqcloud.com` (or
/// `.tencentcos.cn`) endpoints are addressed as `<bucket>.<endpoint>`, the accelerate
/// endpoint likewise, a loopback one path style, any other host as the bucket's custom
/// domain; `--path-style` forces path style.
fn cos_config(bucket: &str, args: &StoreArgs, chosen: Option<Chosen>) -> Result<CosConfig> {
    use stowage_cos::Addressing as Cos;
    let mut cfg = CosConfig::from_env(bucket);
    if let Some(ep) = &args.endpoint {
        cfg.endpoint = Some(ep.clone());
    }
    if args.region.is_some() {
        cfg.region.clone_from(&args.region);
    }
    cfg.addressing = match (&cfg.endpoint, args.path_style) {
        (_, true) => Cos::PathStyle,
        (Some(ep), false) if ep.contains("cos.accelerate.myqcloud.com") => Cos::Accelerate,
        (Some(ep), false) if stowage_cos::config::region_of_endpoint(ep).is_some() => {
            Cos::VirtualHosted
        }
        (Some(ep), false) if addressing_for(ep) == Addressing::PathStyle => Cos::PathStyle,
        (Some(_), false) => Cos::CustomDomain,
        (None, false) => Cos::VirtualHosted,
    };
    let env_token = || {
        CosConfig::credentials_from_env()?
            .session_token()
            .map(str::to_string)
    };
    cfg.credentials = flag_credentials(
        args,
        env_token,
        "TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (the SecretId and SecretKey)",
    )?;
    if let Some(c) = chosen {
        apply_cos(&mut cfg, c);
    }
    Ok(cfg)
}

/// COS: the bucket's region; acceleration through the adapter's own `Accelerate`
/// addressing (`<bucket>.cos.accelerate.myqcloud.com`); the internal and `.tencentcos.cn`
/// hosts as `<bucket>.<endpoint>`.
fn apply_cos(cfg: &mut CosConfig, chosen: Chosen) {
    use stowage_cos::Addressing as Cos;
    cfg.region = Some(chosen.region.id.clone());
    match chosen.candidate.kind {
        EndpointKind::Public => {}
        EndpointKind::Accelerated => {
            cfg.endpoint = None;
            cfg.addressing = Cos::Accelerate;
        }
        _ => {
            cfg.endpoint = Some(chosen.host_url());
            cfg.addressing = Cos::VirtualHosted;
        }
    }
}

/// Opens the store of a URL naming one object (or a prefix): the bucket, and the key in it.
pub async fn open_object(url: &StorageUrl, args: &StoreArgs) -> Result<Located> {
    let (store, key) = open_place(url, args, false).await?;
    Ok(Located {
        store,
        key,
        url: url.clone(),
    })
}

/// The bucket a URL lies in and the key (object or prefix) it names below the bucket's root.
/// A local path is split at its directory bucket's root (see [`split_local`]); `create`
/// makes a missing local directory a new bucket.
pub async fn open_place(
    url: &StorageUrl,
    args: &StoreArgs,
    create: bool,
) -> Result<(Arc<dyn ObjectStore>, String)> {
    let (opened, key) = open_place_placed(url, args, create).await?;
    Ok((opened.store, key))
}

/// [`open_place`], with how the bucket's endpoint was chosen (for the commands that warn).
pub async fn open_place_placed(
    url: &StorageUrl,
    args: &StoreArgs,
    create: bool,
) -> Result<(Opened, String)> {
    let Some(path) = url.local_path() else {
        return Ok((open_placed(url, args, create).await?, url.key.clone()));
    };
    let (root, key) = split_local(&path);
    let opened = Opened {
        store: open_local(&root, create).await?,
        placement: None,
    };
    Ok((opened, key))
}

/// Splits a local path into the directory bucket it lies in and the key below it, so that
/// `file:///srv/bucket/rec/demo/x.ts` names key `rec/demo/x.ts` of bucket `/srv/bucket`, the
/// way `s3://bucket/rec/demo/x.ts` does (and the object's stored checksums are found).
/// The bucket is the nearest directory at or above the path that holds a directory bucket's
/// state (`.stowage/meta/`, made by its first write; a recording spool's `.stowage/` holds
/// only journals and is not mistaken for one). Without one, an existing file's
/// directory is its bucket, and any other path (a directory, or one not made yet) is a
/// bucket itself.
pub fn split_local(path: &Path) -> (PathBuf, String) {
    let marked = path.ancestors().find(|dir| {
        dir.join(stowage_fs::INTERNAL_DIR)
            .join(stowage_fs::META_DIR)
            .is_dir()
    });
    let root = match marked {
        Some(root) => root.to_path_buf(),
        None if path.is_file() => path.parent().unwrap_or(path).to_path_buf(),
        None => path.to_path_buf(),
    };
    let key = path
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    (root, key)
}

/// `key/rest`, leaving out empty parts.
pub fn join_key(key: &str, rest: &str) -> String {
    [key.trim_matches('/'), rest.trim_matches('/')]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_region::{Origin, SelectRequest, select};

    /// The selector's first candidate for a bucket of `vendor` in `region`, uploaded from
    /// `from` (None: unknown), with --internal / --accelerate as given.
    fn first_candidate(
        vendor: Vendor,
        region: &str,
        from: Option<&str>,
        internal: bool,
        accelerate: bool,
    ) -> (Candidate, &'static Region) {
        let region = vendor.region(region).unwrap();
        let mut req = SelectRequest::new(vendor, region);
        req.bucket = Some("rec-1250000000".into());
        req.allow_internal = internal;
        req.accelerate = accelerate;
        if let Some(f) = from {
            req.from = Origin::parse(f, vendor).unwrap();
        }
        let selection = select(&req).unwrap();
        (selection.candidates[0].clone(), region)
    }

    fn chosen<'a>(c: &'a (Candidate, &'static Region)) -> Option<Chosen<'a>> {
        Some(Chosen {
            candidate: &c.0,
            region: c.1,
        })
    }

    #[test]
    fn s3_integrity_defaults_to_crc_on_aws_and_asking_elsewhere_and_can_be_forced() {
        let integrity = |endpoint: Option<&str>, flag: Option<&str>| {
            let args = StoreArgs {
                endpoint: endpoint.map(str::to_string),
                s3_integrity: flag.map(str::to_string),
                region: Some("us-east-1".into()),
                ..StoreArgs::default()
            };
            s3_config("rec", &args, None).unwrap().integrity
        };
        let local = Some("http://127.0.0.1:9000");
        assert_eq!(integrity(None, None), S3Integrity::Crc64Nvme);
        assert_eq!(integrity(local, None), S3Integrity::Auto);
        assert_eq!(integrity(local, Some("md5")), S3Integrity::Md5AndCrc64Nvme);
        assert_eq!(integrity(None, Some("md5")), S3Integrity::Md5AndCrc64Nvme);
        assert_eq!(integrity(local, Some("crc64nvme")), S3Integrity::Crc64Nvme);
        assert_eq!(integrity(None, Some("auto")), S3Integrity::Auto);
    }

    #[test]
    fn oss_co_located_with_internal_uses_the_internal_host_virtual_hosted() {
        let c = first_candidate(
            Vendor::Oss,
            "cn-hangzhou",
            Some("oss:cn-hangzhou"),
            true,
            false,
        );
        let cfg = oss_config("rec", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!(
            cfg.endpoint.as_deref(),
            Some("https://oss-cn-hangzhou-internal.aliyuncs.com")
        );
        assert_eq!(cfg.addressing, Addressing::VirtualHosted);
        assert_eq!(cfg.region.as_deref(), Some("cn-hangzhou"));
        // Without --internal the same machine gets the public host (the adapter's default).
        let c = first_candidate(
            Vendor::Oss,
            "cn-hangzhou",
            Some("oss:cn-hangzhou"),
            false,
            false,
        );
        assert_eq!(c.0.kind, EndpointKind::Public);
        let cfg = oss_config("rec", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!(cfg.endpoint, None);
        assert_eq!(cfg.region.as_deref(), Some("cn-hangzhou"));
    }

    #[test]
    fn s3_across_continents_with_accelerate_uses_s3_accelerate() {
        let c = first_candidate(Vendor::S3, "eu-central-1", Some("cn-beijing"), false, true);
        let cfg = s3_config("rec", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!(
            cfg.endpoint.as_deref(),
            Some("https://s3-accelerate.amazonaws.com")
        );
        assert!(
            !cfg.force_path_style,
            "acceleration needs the bucket in the host"
        );
        assert_eq!(cfg.region.as_deref(), Some("eu-central-1"));
        assert_eq!(cfg.integrity, S3Integrity::Crc64Nvme, "still AWS itself");
    }

    #[test]
    fn unknown_origin_gets_the_regional_public_endpoint() {
        for (vendor, region) in [
            (Vendor::S3, "eu-central-1"),
            (Vendor::Oss, "cn-hangzhou"),
            (Vendor::Cos, "ap-guangzhou"),
            (Vendor::Kodo, "z0"),
        ] {
            // Even with --internal and --accelerate: neither applies without knowing where we are.
            let c = first_candidate(vendor, region, None, true, true);
            assert_eq!(c.0.kind, EndpointKind::Public, "{vendor} {region}");
        }
        let c = first_candidate(Vendor::S3, "eu-central-1", None, true, true);
        let cfg = s3_config("rec", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!(
            (cfg.endpoint, cfg.region.as_deref()),
            (None, Some("eu-central-1"))
        );
        let c = first_candidate(Vendor::Cos, "ap-guangzhou", None, true, true);
        let cfg = cos_config("rec-1250000000", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!(cfg.endpoint, None);
        assert_eq!(cfg.addressing, stowage_cos::Addressing::VirtualHosted);
        assert_eq!(cfg.region.as_deref(), Some("ap-guangzhou"));
    }

    #[test]
    fn cos_internal_and_accelerate_in_the_adapters_spelling() {
        use stowage_cos::Addressing as Cos;
        let c = first_candidate(
            Vendor::Cos,
            "ap-guangzhou",
            Some("cos:ap-guangzhou"),
            true,
            false,
        );
        let cfg = cos_config("rec-1250000000", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!(
            cfg.endpoint.as_deref(),
            Some("https://cos-internal.ap-guangzhou.tencentcos.cn")
        );
        assert_eq!(cfg.addressing, Cos::VirtualHosted);
        let c = first_candidate(
            Vendor::Cos,
            "ap-guangzhou",
            Some("eu-central-1"),
            false,
            true,
        );
        assert_eq!(c.0.host, "cos.accelerate.myqcloud.com");
        let cfg = cos_config("rec-1250000000", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!((cfg.endpoint, cfg.addressing), (None, Cos::Accelerate));
        assert_eq!(cfg.region.as_deref(), Some("ap-guangzhou"));
    }

    #[test]
    fn kodo_takes_the_zone_and_its_accelerated_upload_switch() {
        let c = first_candidate(Vendor::Kodo, "z0", Some("us-east-1"), false, true);
        assert_eq!(c.0.host, "upload.qiniup.com");
        let cfg = kodo_config("rec", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!((cfg.zone.as_deref(), cfg.accelerated), (Some("z0"), true));
        // Same continent: acceleration is not offered, the source upload host is used.
        let c = first_candidate(Vendor::Kodo, "z0", Some("cn-beijing"), false, true);
        let cfg = kodo_config("rec", &StoreArgs::default(), chosen(&c)).unwrap();
        assert_eq!((cfg.zone.as_deref(), cfg.accelerated), (Some("z0"), false));
    }

    #[tokio::test]
    async fn an_explicit_endpoint_wins_but_the_warning_stays() {
        let args = StoreArgs {
            endpoint: Some("http://127.0.0.1:9".into()),
            region: Some("cn-hangzhou".into()),
            from: Some("eu-central-1".into()),
            internal: true,
            accelerate: true,
            ..StoreArgs::default()
        };
        let url = StorageUrl::parse("oss://rec/x").unwrap();
        let placement = placement_of(&url, &args).await.unwrap().unwrap();
        assert!(placement.chosen.is_none(), "selection is skipped");
        assert!(placement.cross_region().is_some(), "Frankfurt → Hangzhou");
        let cfg = oss_config("rec", &args, None).unwrap();
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(cfg.addressing, Addressing::PathStyle);
    }

    #[tokio::test]
    async fn s3_presets_take_the_vendors_internal_s3_endpoint_when_selected() {
        let args = StoreArgs {
            region: Some("cn-hangzhou".into()),
            s3_preset: Some("oss".into()),
            from: Some("oss:cn-hangzhou".into()),
            internal: true,
            ..StoreArgs::default()
        };
        let url = StorageUrl::parse("s3://rec/x").unwrap();
        let placement = placement_of(&url, &args).await.unwrap().unwrap();
        let candidate = placement.chosen.as_ref().unwrap();
        assert_eq!(candidate.kind, EndpointKind::Internal);
        let chosen = Chosen {
            candidate,
            region: placement.region,
        };
        let cfg = s3_config("rec", &args, Some(chosen)).unwrap();
        assert_eq!(
            cfg.endpoint.as_deref(),
            Some("https://s3.oss-cn-hangzhou-internal.aliyuncs.com")
        );
        assert!(!cfg.force_path_style, "the OSS preset is virtual-hosted");
        assert_eq!(cfg.integrity, S3Integrity::Md5AndCrc64Nvme);
        // --endpoint still wins.
        let explicit = StoreArgs {
            endpoint: Some("https://oss.example.com".into()),
            ..args
        };
        let cfg = s3_config("rec", &explicit, Some(chosen)).unwrap();
        assert_eq!(cfg.endpoint.as_deref(), Some("https://oss.example.com"));
    }

    #[tokio::test]
    async fn a_region_the_tables_lack_is_an_error_only_when_selection_needs_it() {
        let mut args = StoreArgs {
            region: Some("mars-1".into()),
            accelerate: true,
            ..StoreArgs::default()
        };
        let url = StorageUrl::parse("oss://rec/x").unwrap();
        let e = placement_of(&url, &args).await.err().unwrap();
        assert!(e.to_string().contains("mars-1"), "{e}");
        assert!(e.to_string().contains("--endpoint"), "names the fix: {e}");
        args.endpoint = Some("http://127.0.0.1:9".into());
        assert!(placement_of(&url, &args).await.unwrap().is_none());
    }

    #[test]
    fn local_paths_split_at_the_nearest_bucket_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("bucket");
        let deep = root.join("rec/demo");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("a.ts"), b"x").unwrap();
        // No state directory yet: a directory is its own bucket, a file's parent is.
        assert_eq!(split_local(&deep), (deep.clone(), String::new()));
        assert_eq!(
            split_local(&deep.join("a.ts")),
            (deep.clone(), "a.ts".into())
        );
        // A spool's journal directory does not make a bucket; a bucket's stored checksums do.
        std::fs::create_dir(deep.join(".stowage")).unwrap();
        assert_eq!(split_local(&deep), (deep.clone(), String::new()));
        std::fs::create_dir_all(root.join(".stowage/meta")).unwrap();
        assert_eq!(split_local(&deep), (root.clone(), "rec/demo".into()));
        assert_eq!(
            split_local(&deep.join("a.ts")),
            (root.clone(), "rec/demo/a.ts".into())
        );
        // A path not there yet still splits at the root above it.
        assert_eq!(
            split_local(&deep.join("later.m3u8")),
            (root.clone(), "rec/demo/later.m3u8".into())
        );
        assert_eq!(split_local(&root), (root, String::new()));
    }

    #[test]
    fn s3_presets_fill_endpoint_region_addressing_and_integrity() {
        let args = StoreArgs {
            region: Some("cn-hangzhou".into()),
            s3_preset: Some("oss".into()),
            ..StoreArgs::default()
        };
        let cfg = s3_config("rec", &args, None).unwrap();
        assert_eq!(
            cfg.endpoint.as_deref(),
            Some("https://s3.oss-cn-hangzhou.aliyuncs.com")
        );
        assert_eq!(cfg.region.as_deref(), Some("cn-hangzhou"));
        assert!(!cfg.force_path_style, "OSS wants virtual-hosted addressing");
        assert_eq!(cfg.integrity, S3Integrity::Md5AndCrc64Nvme);

        let kodo = StoreArgs {
            region: Some("z0".into()),
            s3_preset: Some("kodo".into()),
            ..StoreArgs::default()
        };
        let cfg = s3_config("rec", &kodo, None).unwrap();
        assert!(cfg.endpoint.unwrap().contains("qiniucs.com"));

        let unknown = StoreArgs {
            region: Some("mars-1".into()),
            s3_preset: Some("cos".into()),
            ..StoreArgs::default()
        };
        let e = s3_config("rec-1250000000", &unknown, None).unwrap_err();
        assert!(e.to_string().contains("mars-1"), "{e}");

        // Huawei, Baidu, Kingsoft: each preset's host, signing region and addressing.
        for (preset, region, endpoint, path_style) in [
            (
                "obs",
                "cn-north-4",
                "https://obs.cn-north-4.myhuaweicloud.com",
                false,
            ),
            ("bos", "fwh", "https://s3.fwh.bcebos.com", true),
            ("ks3", "sgp", "https://ks3-sgp.ksyuncs.com", false),
        ] {
            let args = StoreArgs {
                region: Some(region.into()),
                s3_preset: Some(preset.into()),
                ..StoreArgs::default()
            };
            let cfg = s3_config("rec", &args, None).unwrap();
            assert_eq!(cfg.endpoint.as_deref(), Some(endpoint), "{preset}");
            assert_eq!(cfg.region.as_deref(), Some(region), "{preset}");
            assert_eq!(cfg.force_path_style, path_style, "{preset}");
            assert_eq!(cfg.integrity, S3Integrity::Md5AndCrc64Nvme, "{preset}");
        }
    }
}
