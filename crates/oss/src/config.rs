//! How to reach a bucket: endpoint, addressing style, region, signing version, credentials.

use stowage_core::{Credentials, Error, ErrorKind, Result};
use stowage_http::env::{credentials_from_env, env_first};

/// How the bucket appears in request URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Addressing {
    /// `https://<bucket>.<endpoint>/<key>`: the public and internal OSS endpoints.
    #[default]
    VirtualHosted,
    /// `http://<endpoint>/<bucket>/<key>`: local servers and emulators.
    PathStyle,
    /// `https://<custom domain>/<key>`: a domain (CNAME) bound to the bucket, which new
    /// mainland-China buckets must use for data requests since 2025-03-20.
    CustomDomain,
}

/// OSS signature version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningVersion {
    /// `OSS4-HMAC-SHA256`, region-scoped (the default; V1 is being phased out).
    #[default]
    V4,
    /// `OSS <AccessKeyId>:<Signature>`, HMAC-SHA1.
    V1,
}

/// Everything an [`crate::OssStore`] needs.
#[derive(Debug, Clone)]
pub struct OssConfig {
    pub bucket: String,
    /// Region id as V4 signs it (`cn-hangzhou`; `oss-cn-hangzhou` is accepted too). Without
    /// it, it is read from an `oss-<region>.aliyuncs.com` endpoint.
    pub region: Option<String>,
    /// Endpoint host or URL (`oss-cn-hangzhou.aliyuncs.com`, `http://127.0.0.1:9000`, or the
    /// custom domain). Default: `https://oss-<region>.aliyuncs.com`.
    pub endpoint: Option<String>,
    pub addressing: Addressing,
    pub signing: SigningVersion,
    /// `None`: from the environment (see [`OssConfig::credentials_from_env`]).
    pub credentials: Option<Credentials>,
    /// Attempts per request for retryable failures (5xx, throttling, broken connections).
    pub max_attempts: u32,
    /// Extra root certificates to trust (a private CA), besides the usual roots.
    pub ca_bundle: Option<stowage_core::tls::CaBundle>,
}

impl OssConfig {
    pub fn new(bucket: impl Into<String>) -> Self {
        OssConfig {
            bucket: bucket.into(),
            region: None,
            endpoint: None,
            addressing: Addressing::VirtualHosted,
            signing: SigningVersion::V4,
            credentials: None,
            max_attempts: 3,
            ca_bundle: None,
        }
    }

    /// Defaults plus `OSS_REGION` / `ALIBABA_CLOUD_REGION`, `OSS_ENDPOINT` and
    /// `OSS_SIGNATURE_VERSION` (`v1` or `v4`).
    pub fn from_env(bucket: impl Into<String>) -> Self {
        let mut cfg = OssConfig::new(bucket);
        cfg.region = env_first(&["OSS_REGION", "ALIBABA_CLOUD_REGION"]);
        cfg.endpoint = env_first(&["OSS_ENDPOINT"]);
        if env_first(&["OSS_SIGNATURE_VERSION"]).is_some_and(|v| v.eq_ignore_ascii_case("v1")) {
            cfg.signing = SigningVersion::V1;
        }
        cfg
    }

    /// `OSS_ACCESS_KEY_ID`/`OSS_ACCESS_KEY_SECRET`/`OSS_SESSION_TOKEN`, else
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`/`ALIBABA_CLOUD_ACCESS_KEY_SECRET`/`ALIBABA_CLOUD_SECURITY_TOKEN`.
    pub fn credentials_from_env() -> Option<Credentials> {
        let sets = [
            [
                "OSS_ACCESS_KEY_ID",
                "OSS_ACCESS_KEY_SECRET",
                "OSS_SESSION_TOKEN",
            ],
            [
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                "ALIBABA_CLOUD_SECURITY_TOKEN",
            ],
        ];
        credentials_from_env(&sets)
    }

    pub(crate) fn resolve_credentials(&self) -> Result<Credentials> {
        self.credentials
            .clone()
            .or_else(Self::credentials_from_env)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidCredentials,
                    "no OSS credentials: pass --access-key/--secret-key or set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET; add OSS_SESSION_TOKEN for STS)",
                )
                .with_bucket(&self.bucket)
            })
    }

    /// The plain region id, from the config or the endpoint.
    pub(crate) fn resolve_region(&self) -> Result<String> {
        let from_endpoint = self.endpoint.as_deref().and_then(region_of_endpoint);
        match self.region.as_deref().map(plain_region).or(from_endpoint) {
            Some(r) if !r.is_empty() => Ok(r),
            _ => Err(Error::invalid_input(
                "the OSS region is unknown: pass --region (e.g. cn-hangzhou) or an endpoint like oss-cn-hangzhou.aliyuncs.com",
            )
            .with_bucket(&self.bucket)),
        }
    }

    /// Scheme and authority requests go to, and the path prefix before the key.
    pub(crate) fn base(&self, region: &str) -> Base {
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("oss-{region}.aliyuncs.com"));
        let (scheme, host) = match endpoint.split_once("://") {
            Some((s, h)) => (s.to_string(), h.trim_end_matches('/').to_string()),
            None => (
                "https".to_string(),
                endpoint.trim_end_matches('/').to_string(),
            ),
        };
        let (authority, bucket_in_path) = match self.addressing {
            Addressing::VirtualHosted => (format!("{}.{host}", self.bucket), false),
            Addressing::PathStyle => (host, true),
            Addressing::CustomDomain => (host, false),
        };
        let prefix = match bucket_in_path {
            true => format!("{scheme}://{authority}/{}/", self.bucket),
            false => format!("{scheme}://{authority}/"),
        };
        Base { prefix }
    }
}

/// The URL every request starts with (`…/` before the encoded key).
#[derive(Debug, Clone)]
pub struct Base {
    pub prefix: String,
}

/// Where a store's requests go and the region they are signed for.
#[derive(Debug, Clone)]
pub struct Place {
    pub region: String,
    pub base: Base,
}

impl Place {
    pub fn region_id(&self) -> Option<&str> {
        Some(&self.region)
    }
}

/// `oss-cn-hangzhou` → `cn-hangzhou` (GetBucketLocation's form → V4's).
pub fn plain_region(region: &str) -> String {
    region.strip_prefix("oss-").unwrap_or(region).to_string()
}

/// `oss-cn-hangzhou.aliyuncs.com`, `oss-cn-hangzhou-internal.aliyuncs.com` → `cn-hangzhou`.
pub fn region_of_endpoint(endpoint: &str) -> Option<String> {
    let host = endpoint.split("://").last()?.split(['/', ':']).next()?;
    let label = host
        .split('.')
        .find(|l| l.starts_with("oss-") && *l != "oss-accelerate")?;
    let region = label.strip_prefix("oss-")?;
    Some(
        region
            .strip_suffix("-internal")
            .unwrap_or(region)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_endpoints_and_location_names() {
        assert_eq!(
            region_of_endpoint("oss-cn-hangzhou.aliyuncs.com").as_deref(),
            Some("cn-hangzhou")
        );
        assert_eq!(
            region_of_endpoint("https://bkt.oss-ap-southeast-1-internal.aliyuncs.com").as_deref(),
            Some("ap-southeast-1")
        );
        assert_eq!(region_of_endpoint("http://127.0.0.1:9000"), None);
        assert_eq!(plain_region("oss-cn-beijing"), "cn-beijing");
    }

    #[test]
    fn urls_for_each_addressing_style() {
        let mut cfg = OssConfig::new("rec");
        assert_eq!(
            cfg.base("cn-hangzhou").prefix,
            "https://rec.oss-cn-hangzhou.aliyuncs.com/"
        );
        cfg.endpoint = Some("http://127.0.0.1:9000".into());
        cfg.addressing = Addressing::PathStyle;
        assert_eq!(cfg.base("x").prefix, "http://127.0.0.1:9000/rec/");
        cfg.endpoint = Some("media.example.com".into());
        cfg.addressing = Addressing::CustomDomain;
        assert_eq!(cfg.base("x").prefix, "https://media.example.com/");
    }

    #[test]
    fn missing_region_names_the_flag() {
        let e = OssConfig::new("rec").resolve_region().unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(e.to_string().contains("--region"), "{e}");
    }
}
