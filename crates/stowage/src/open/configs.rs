//! Settings (and the endpoint the selector chose) in each adapter's own spelling. An
//! explicit endpoint always wins; the adapters build the regional public host themselves.

use stowage_azure::AzureConfig;
use stowage_core::Credentials;
use stowage_cos::CosConfig;
use stowage_gcs::GcsConfig;
use stowage_kodo::KodoConfig;
use stowage_oss::{Addressing, OssConfig};
use stowage_region::{Candidate, EndpointKind, Region, Vendor};
use stowage_s3::{S3Config, S3Integrity};

use super::{OpenError, lookup_region};
use crate::settings::Settings;

/// The endpoint the selector chose, for an adapter's config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chosen<'a> {
    pub candidate: &'a Candidate,
    pub region: &'static Region,
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

/// S3: the settings over `AWS_*` and the profile. An endpoint turns path style on and the
/// integrity check to "ask the server" (AWS itself checks CRC-64/NVME).
pub(crate) fn s3_config(
    bucket: &str,
    s: &Settings,
    chosen: Option<Chosen>,
) -> Result<S3Config, OpenError> {
    if let Some(vendor) = s.s3_preset {
        return preset_config(bucket, s, vendor, chosen);
    }
    let mut cfg = S3Config::from_env(bucket);
    if let Some(ep) = &s.endpoint {
        cfg.endpoint = Some(ep.clone());
        cfg.force_path_style = true;
    }
    cfg.force_path_style |= s.path_style;
    cfg.integrity = match (s.s3_integrity, &cfg.endpoint) {
        (Some(mode), _) => mode,
        (None, None) => S3Integrity::Crc64Nvme,
        (None, Some(_)) => S3Integrity::Auto,
    };
    cfg.region.clone_from(&s.region);
    if s.profile.is_some() {
        cfg.profile.clone_from(&s.profile);
    }
    cfg.credentials = s.credentials.clone();
    if let Some(c) = chosen {
        cfg.region = Some(c.region.id.clone());
        // Transfer Acceleration needs the bucket in the host; still AWS, so the integrity
        // default above stands.
        if !c.is_public() {
            cfg.endpoint = Some(c.host_url());
            cfg.force_path_style = false;
        }
    }
    Ok(cfg)
}

/// An OSS, COS, Kodo, OBS, BOS, KS3 or GCS bucket through the vendor's S3-compatible API: the
/// preset's endpoint for the region (unless an explicit one; its internal or accelerated
/// one when selected), addressing and integrity, from stowage-region's data.
fn preset_config(
    bucket: &str,
    s: &Settings,
    vendor: Vendor,
    chosen: Option<Chosen>,
) -> Result<S3Config, OpenError> {
    let region = preset_region(vendor, s.region.as_deref())?;
    let Some(preset) = stowage_region::s3_preset(vendor) else {
        return Err(OpenError::Endpoint(stowage_core::Error::invalid_input(
            format!("{vendor} has no S3-compatible preset"),
        )));
    };
    let preset = preset.for_region(region);
    let selected = chosen.filter(|c| !c.is_public()).map(|c| c.host_url());
    let integrity = match s.s3_integrity {
        Some(mode) => mode,
        None => crate::settings::parse_s3_integrity(&preset.integrity).map_err(OpenError::Store)?,
    };
    let plain = Settings {
        s3_preset: None,
        region: Some(preset.region.clone()),
        endpoint: Some(
            s.endpoint
                .clone()
                .or(selected)
                .unwrap_or(preset.endpoint.clone()),
        ),
        s3_integrity: Some(integrity),
        ..s.clone()
    };
    let mut cfg = s3_config(bucket, &plain, None)?;
    // s3_config turns path style on for any endpoint; the preset knows better.
    cfg.force_path_style = s.path_style || preset.force_path_style;
    Ok(cfg)
}

/// The preset's region: the one given, or the only one of a vendor with one global
/// endpoint (GCS's XML API), whatever region is given.
fn preset_region(vendor: Vendor, given: Option<&str>) -> Result<&'static Region, OpenError> {
    match vendor.table().regions.as_slice() {
        [global] => Ok(global),
        _ => lookup_region(vendor, given.unwrap_or_default()),
    }
}

/// OSS: settings over `OSS_*` / `ALIBABA_CLOUD_*` variables. An endpoint on aliyuncs.com is
/// addressed virtual-hosted, a loopback one path style, any other host as the bucket's
/// custom domain; `path_style` forces path style.
pub(crate) fn oss_config(bucket: &str, s: &Settings, chosen: Option<Chosen>) -> OssConfig {
    let mut cfg = OssConfig::from_env(bucket);
    if let Some(ep) = &s.endpoint {
        cfg.endpoint = Some(ep.clone());
    }
    if s.region.is_some() {
        cfg.region.clone_from(&s.region);
    }
    cfg.addressing = match (&cfg.endpoint, s.path_style) {
        (_, true) => Addressing::PathStyle,
        (Some(ep), false) => addressing_for(ep),
        (None, false) => Addressing::VirtualHosted,
    };
    let env_token = || token_of(OssConfig::credentials_from_env());
    cfg.credentials = with_env_token(s.credentials.clone(), env_token);
    if let Some(c) = chosen {
        // V4 signs with the region; other hosts are addressed `<bucket>.<endpoint>`.
        cfg.region = Some(c.region.id.clone());
        if !c.is_public() {
            cfg.endpoint = Some(c.host_url());
            cfg.addressing = Addressing::VirtualHosted;
        }
    }
    cfg
}

/// COS: settings over `TENCENTCLOUD_*` / `COS_*` variables. `cos.<region>.myqcloud.com` (or
/// `.tencentcos.cn`) endpoints are addressed as `<bucket>.<endpoint>`, the accelerate
/// endpoint likewise, a loopback one path style, any other host as the bucket's custom
/// domain; `path_style` forces path style.
pub(crate) fn cos_config(bucket: &str, s: &Settings, chosen: Option<Chosen>) -> CosConfig {
    use stowage_cos::Addressing as Cos;
    let mut cfg = CosConfig::from_env(bucket);
    if let Some(ep) = &s.endpoint {
        cfg.endpoint = Some(ep.clone());
    }
    if s.region.is_some() {
        cfg.region.clone_from(&s.region);
    }
    cfg.addressing = match (&cfg.endpoint, s.path_style) {
        (_, true) => Cos::PathStyle,
        (Some(ep), false) if ep.contains("cos.accelerate.myqcloud.com") => Cos::Accelerate,
        (Some(ep), false) if stowage_cos::config::region_of_endpoint(ep).is_some() => {
            Cos::VirtualHosted
        }
        (Some(ep), false) if addressing_for(ep) == Addressing::PathStyle => Cos::PathStyle,
        (Some(_), false) => Cos::CustomDomain,
        (None, false) => Cos::VirtualHosted,
    };
    let env_token = || token_of(CosConfig::credentials_from_env());
    cfg.credentials = with_env_token(s.credentials.clone(), env_token);
    if let Some(c) = chosen {
        apply_cos(&mut cfg, c);
    }
    cfg
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

/// Kodo: the region is the zone (asked from Qiniu when absent), an endpoint puts every host
/// (up, rs, rsf, uc, io) at one URL, keys from the settings or `QINIU_*`. A selected
/// accelerated host is the adapter's own switch (`upload-<zone>.qiniup.com`).
pub(crate) fn kodo_config(bucket: &str, s: &Settings, chosen: Option<Chosen>) -> KodoConfig {
    let mut cfg = KodoConfig::new(bucket);
    cfg.zone.clone_from(&s.region);
    if let Some(ep) = &s.endpoint {
        cfg.endpoint = Some(ep.clone());
        cfg.https = !ep.starts_with("http://");
    }
    cfg.credentials = s.credentials.clone();
    if let Some(c) = chosen {
        cfg.zone = Some(c.region.id.clone());
        cfg.accelerated = c.candidate.kind == EndpointKind::Accelerated;
    }
    cfg
}

/// Azure: the key pair is the storage account name and its key or a SAS token (as Agora's
/// storageConfig carries them), else the `AZURE_STORAGE_*` variables; the endpoint is the
/// account's blob endpoint, an emulator's included.
pub(crate) fn azure_config(container: &str, s: &Settings) -> Result<AzureConfig, OpenError> {
    let mut cfg =
        AzureConfig::from_env(container, s.credentials.as_ref()).map_err(OpenError::Store)?;
    if let Some(ep) = &s.endpoint {
        cfg.endpoint = Some(ep.clone());
    }
    Ok(cfg)
}

/// GCS: a service-account key given as the secret (its JSON, or its file's path), else
/// `STORAGE_EMULATOR_HOST`, `GOOGLE_APPLICATION_CREDENTIALS` and the rest of Google's chain;
/// HMAC keys are refused here (they sign only the XML API, which is reached as an S3 bucket
/// with the `gcs` preset). An endpoint replaces Google's.
pub(crate) fn gcs_config(bucket: &str, s: &Settings) -> Result<GcsConfig, OpenError> {
    let mut cfg = GcsConfig::from_env(bucket, s.credentials.as_ref()).map_err(OpenError::Store)?;
    if let Some(ep) = &s.endpoint {
        cfg.endpoint = Some(ep.clone());
    }
    Ok(cfg)
}

/// Keys given without a token take the vendor's token variable (OSS, COS STS sessions).
fn with_env_token(
    creds: Option<Credentials>,
    env_token: impl FnOnce() -> Option<String>,
) -> Option<Credentials> {
    creds.map(|c| match c.session_token() {
        Some(_) => c,
        None => c.with_session_token(env_token()),
    })
}

fn token_of(creds: Option<Credentials>) -> Option<String> {
    creds?.session_token().map(str::to_string)
}

/// How an OSS endpoint addresses the bucket: its own hosts virtual-hosted, loopback
/// servers path style, anything else a custom domain.
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
