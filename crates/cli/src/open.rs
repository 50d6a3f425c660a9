//! From a URL and flags to a store and a key.

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

/// Kodo: `--region` is the zone (asked from Qiniu when absent), `--endpoint` puts every
/// host (up, rs, rsf, uc, io) at one URL, keys come from the flags or
/// `QINIU_ACCESS_KEY`/`QINIU_SECRET_KEY`.
fn kodo_config(bucket: &str, args: &StoreArgs) -> Result<KodoConfig> {
    let mut cfg = KodoConfig::new(bucket);
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

/// Opens the store of a URL naming one object: for a local file, its directory is the
/// bucket and its name the key.
pub async fn open_object(url: &StorageUrl, args: &StoreArgs) -> Result<Located> {
    if url.scheme == Scheme::File {
        let path = url.local_path().unwrap_or_default();
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            bail!("{} does not name a file", path.display());
        };
        let dir_url = StorageUrl::parse(&dir.to_string_lossy())?;
        let store = open_bucket(&dir_url, args, false).await?;
        return Ok(Located {
            store,
            key: name.to_string_lossy().into_owned(),
            url: url.clone(),
        });
    }
    let store = open_bucket(url, args, false).await?;
    Ok(Located {
        store,
        key: url.key.clone(),
        url: url.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
