//! From a URL and flags to a store and a key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use stowage_core::{Credentials, ObjectStore, Scheme, StorageUrl};
use stowage_cos::{CosConfig, CosStore};
use stowage_fs::FsStore;
use stowage_kodo::{KodoConfig, KodoStore};
use stowage_oss::{Addressing, OssConfig, OssStore};
use stowage_s3::{S3Config, S3Integrity, S3Store};

use crate::StoreArgs;

/// A store and the key (or prefix) inside it that a URL names.
pub struct Located {
    pub store: Arc<dyn ObjectStore>,
    pub key: String,
    pub url: StorageUrl,
}

/// Opens the bucket a URL names. Local directories must exist unless `create` is set.
pub async fn open_bucket(
    url: &StorageUrl,
    args: &StoreArgs,
    create: bool,
) -> Result<Arc<dyn ObjectStore>> {
    match url.scheme {
        Scheme::File => {
            let root = url.local_path().unwrap_or_default();
            let store = if create {
                FsStore::create(root).await?
            } else {
                FsStore::open(root).await?
            };
            Ok(Arc::new(store))
        }
        Scheme::S3 => Ok(Arc::new(S3Store::new(s3_config(&url.bucket, args)?).await?)),
        Scheme::Oss => Ok(Arc::new(OssStore::new(oss_config(&url.bucket, args)?)?)),
        Scheme::Cos => Ok(Arc::new(CosStore::new(cos_config(&url.bucket, args)?)?)),
        Scheme::Kodo => Ok(Arc::new(
            KodoStore::new(kodo_config(&url.bucket, args)?).await?,
        )),
    }
}

fn s3_config(bucket: &str, args: &StoreArgs) -> Result<S3Config> {
    if let Some(vendor) = &args.s3_preset {
        return preset_config(bucket, args, vendor);
    }
    let mut cfg = S3Config::from_env(bucket);
    if let Some(ep) = &args.endpoint {
        cfg.endpoint = Some(ep.clone());
        cfg.force_path_style = true;
    }
    cfg.force_path_style |= args.path_style;
    cfg.integrity = match (args.s3_integrity.as_deref(), &cfg.endpoint) {
        (Some("crc64nvme"), _) | (None, None) => S3Integrity::Crc64Nvme,
        _ => S3Integrity::Md5AndCrc64Nvme,
    };
    cfg.region.clone_from(&args.region);
    cfg.ca_bundle = ca_bundle(args)?;
    if args.profile.is_some() {
        cfg.profile.clone_from(&args.profile);
    }
    cfg.credentials = match (&args.access_key, &args.secret_key) {
        (Some(ak), Some(sk)) => {
            Some(Credentials::new(ak, sk).with_session_token(args.session_token.clone()))
        }
        (None, None) => None,
        _ => bail!(
            "--access-key and --secret-key go together: give both, or neither to use the environment or a profile"
        ),
    };
    Ok(cfg)
}

/// An OSS, COS or Kodo bucket through the vendor's S3-compatible API: the preset's endpoint
/// for the region (unless --endpoint), addressing and integrity, from stowage-region's data.
fn preset_config(bucket: &str, args: &StoreArgs, vendor: &str) -> Result<S3Config> {
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
    plain.endpoint = Some(args.endpoint.clone().unwrap_or(settings.endpoint));
    plain.s3_integrity = Some(args.s3_integrity.clone().unwrap_or(settings.integrity));
    let mut cfg = s3_config(bucket, &plain)?;
    // s3_config turns path style on for any --endpoint; the preset knows better.
    cfg.force_path_style = args.path_style || settings.force_path_style;
    Ok(cfg)
}

/// OSS: flags over `OSS_*` / `ALIBABA_CLOUD_*` variables. An endpoint on aliyuncs.com is
/// addressed virtual-hosted, a loopback one path style, any other host as the bucket's
/// custom domain; `--path-style` forces path style.
fn oss_config(bucket: &str, args: &StoreArgs) -> Result<OssConfig> {
    let mut cfg = OssConfig::from_env(bucket);
    cfg.ca_bundle = ca_bundle(args)?;
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
    cfg.credentials = match (&args.access_key, &args.secret_key) {
        // An STS token: --session-token, else the environment.
        (Some(ak), Some(sk)) => {
            let env_token = || {
                OssConfig::credentials_from_env()
                    .and_then(|c| c.session_token().map(str::to_string))
            };
            let token = args.session_token.clone().or_else(env_token);
            Some(Credentials::new(ak, sk).with_session_token(token))
        }
        (None, None) => None,
        _ => bail!(
            "--access-key and --secret-key go together: give both, or neither to use OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET"
        ),
    };
    Ok(cfg)
}

/// The Kodo store a kodo:// URL names, as its own type (for its signed download URLs).
pub async fn open_kodo(url: &StorageUrl, args: &StoreArgs) -> Result<KodoStore> {
    Ok(KodoStore::new(kodo_config(&url.bucket, args)?).await?)
}

/// Kodo: `--region` is the zone (asked from Qiniu when absent), `--endpoint` puts every
/// host (up, rs, rsf, uc, io) at one URL, keys come from the flags or
/// `QINIU_ACCESS_KEY`/`QINIU_SECRET_KEY`.
fn kodo_config(bucket: &str, args: &StoreArgs) -> Result<KodoConfig> {
    let mut cfg = KodoConfig::new(bucket);
    cfg.ca_bundle = ca_bundle(args)?;
    cfg.zone.clone_from(&args.region);
    if let Some(ep) = &args.endpoint {
        cfg.endpoint = Some(ep.clone());
        cfg.https = !ep.starts_with("http://");
    }
    cfg.credentials = match (&args.access_key, &args.secret_key) {
        (Some(ak), Some(sk)) => Some(Credentials::new(ak, sk)),
        (None, None) => None,
        _ => bail!(
            "--access-key and --secret-key go together: give both, or neither to use QINIU_ACCESS_KEY and QINIU_SECRET_KEY"
        ),
    };
    Ok(cfg)
}

/// The private CA to trust besides the usual roots (`--ca-bundle`, `STOWAGE_CA_BUNDLE`).
fn ca_bundle(args: &StoreArgs) -> Result<Option<stowage_core::tls::CaBundle>> {
    Ok(match &args.ca_bundle {
        Some(path) => Some(stowage_core::tls::CaBundle::from_file(path)?),
        None => None,
    })
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
fn cos_config(bucket: &str, args: &StoreArgs) -> Result<CosConfig> {
    use stowage_cos::Addressing as Cos;
    let mut cfg = CosConfig::from_env(bucket);
    cfg.ca_bundle = ca_bundle(args)?;
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
    cfg.credentials = match (&args.access_key, &args.secret_key) {
        (Some(id), Some(key)) => {
            let token = args.session_token.clone().or_else(|| {
                CosConfig::credentials_from_env()
                    .and_then(|c| c.session_token().map(str::to_string))
            });
            Some(Credentials::new(id, key).with_session_token(token))
        }
        (None, None) => None,
        _ => bail!(
            "--access-key and --secret-key go together (the SecretId and SecretKey): give both, or neither to use TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY"
        ),
    };
    Ok(cfg)
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
    let Some(path) = url.local_path() else {
        return Ok((open_bucket(url, args, create).await?, url.key.clone()));
    };
    let (root, key) = split_local(&path);
    let store = if create {
        FsStore::create(&root).await?
    } else {
        FsStore::open(&root).await?
    };
    Ok((Arc::new(store), key))
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
        let cfg = s3_config("rec", &args).unwrap();
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
        let cfg = s3_config("rec", &kodo).unwrap();
        assert!(cfg.endpoint.unwrap().contains("qiniucs.com"));

        let unknown = StoreArgs {
            region: Some("mars-1".into()),
            s3_preset: Some("cos".into()),
            ..StoreArgs::default()
        };
        let e = s3_config("rec-1250000000", &unknown).unwrap_err();
        assert!(e.to_string().contains("mars-1"), "{e}");
    }
}
