//! How to reach a bucket: bucket name (`<name>-<appid>`), region, endpoint, addressing,
//! credentials.

use std::net::SocketAddr;

use stowage_core::{Credentials, Error, ErrorKind, Result};
use stowage_http::env::{credentials_from_env, env_first};

/// How the bucket appears in request URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Addressing {
    /// `https://<bucket>.cos.<region>.myqcloud.com/<key>` (or `<bucket>.<endpoint>` when an
    /// endpoint is given). On a redirect without `x-cos-request-id`, requests switch to
    /// `<bucket>.cos.<region>.tencentcos.cn`, as the official SDK does.
    #[default]
    VirtualHosted,
    /// `https://<bucket>.cos.accelerate.myqcloud.com/<key>`: global acceleration.
    Accelerate,
    /// `https://<custom domain>/<key>`: a domain bound to the bucket.
    CustomDomain,
    /// `http://<endpoint>/<bucket>/<key>`: local servers and emulators (COS itself has no
    /// path-style API).
    PathStyle,
}

/// Everything a [`crate::CosStore`] needs.
#[derive(Debug, Clone)]
pub struct CosConfig {
    /// `<name>-<appid>`, e.g. `examplebucket-1250000000`.
    pub bucket: String,
    /// `ap-guangzhou`. Without it, it is read from a `cos.<region>.myqcloud.com` endpoint.
    pub region: Option<String>,
    /// Endpoint host or URL (`cos.ap-guangzhou.myqcloud.com`, `http://127.0.0.1:9000`, the
    /// custom domain). Default: `https://cos.<region>.myqcloud.com`.
    pub endpoint: Option<String>,
    pub addressing: Addressing,
    /// `None`: from the environment (see [`CosConfig::credentials_from_env`]).
    pub credentials: Option<Credentials>,
    /// Attempts per request for retryable failures (5xx, throttling, broken connections).
    pub max_attempts: u32,
    /// Connect to this address whatever the host name says (as `curl --resolve` does): for
    /// private networks and for tests that serve real COS host names from 127.0.0.1. The
    /// port comes from the endpoint URL.
    pub resolve_to: Option<SocketAddr>,
    /// Extra root certificates to trust (a private CA), besides the usual roots.
    pub ca_bundle: Option<stowage_core::tls::CaBundle>,
}

impl CosConfig {
    pub fn new(bucket: impl Into<String>) -> Self {
        CosConfig {
            bucket: bucket.into(),
            region: None,
            endpoint: None,
            addressing: Addressing::VirtualHosted,
            credentials: None,
            max_attempts: 3,
            resolve_to: None,
            ca_bundle: None,
        }
    }

    /// Defaults plus `COS_REGION` / `TENCENTCLOUD_REGION` and `COS_ENDPOINT`.
    pub fn from_env(bucket: impl Into<String>) -> Self {
        let mut cfg = CosConfig::new(bucket);
        cfg.region = env_first(&["COS_REGION", "TENCENTCLOUD_REGION"]);
        cfg.endpoint = env_first(&["COS_ENDPOINT"]);
        cfg
    }

    /// `TENCENTCLOUD_SECRET_ID`/`TENCENTCLOUD_SECRET_KEY`/`TENCENTCLOUD_SESSION_TOKEN`, else
    /// `COS_SECRET_ID`/`COS_SECRET_KEY`/`COS_SESSION_TOKEN`.
    pub fn credentials_from_env() -> Option<Credentials> {
        let sets = [
            [
                "TENCENTCLOUD_SECRET_ID",
                "TENCENTCLOUD_SECRET_KEY",
                "TENCENTCLOUD_SESSION_TOKEN",
            ],
            ["COS_SECRET_ID", "COS_SECRET_KEY", "COS_SESSION_TOKEN"],
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
                    "no COS credentials: pass --access-key/--secret-key (SecretId/SecretKey) or set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (or COS_SECRET_ID and COS_SECRET_KEY; add TENCENTCLOUD_SESSION_TOKEN for STS)",
                )
                .with_bucket(&self.bucket)
            })
    }

    /// The region, from the config or the endpoint; only virtual-hosted addressing without
    /// an endpoint cannot do without it.
    pub(crate) fn resolve_region(&self) -> Result<Option<String>> {
        let from_endpoint = self.endpoint.as_deref().and_then(region_of_endpoint);
        let region = self
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .or(from_endpoint);
        let needed = self.addressing == Addressing::VirtualHosted && self.endpoint.is_none();
        match region {
            None if needed => Err(Error::invalid_input(
                "the COS region is unknown: pass --region (e.g. ap-guangzhou) or an endpoint like cos.ap-guangzhou.myqcloud.com",
            )
            .with_bucket(&self.bucket)),
            r => Ok(r),
        }
    }

    /// Custom-domain and path-style addressing have no default host.
    pub(crate) fn check_endpoint(&self) -> Result<()> {
        let needs = match self.addressing {
            Addressing::CustomDomain => "custom-domain",
            Addressing::PathStyle => "path-style",
            Addressing::VirtualHosted | Addressing::Accelerate => return Ok(()),
        };
        match self.endpoint.as_deref().map(str::trim) {
            Some(e) if !e.is_empty() => Ok(()),
            _ => Err(Error::invalid_input(format!(
                "{needs} addressing needs an endpoint: pass --endpoint (the domain bound to the bucket, or the local server's URL)"
            ))
            .with_bucket(&self.bucket)),
        }
    }

    /// The URL prefix every request starts with (`…/` before the encoded key).
    pub(crate) fn base(&self, region: Option<&str>) -> String {
        let endpoint = match (&self.endpoint, self.addressing) {
            (Some(e), _) => e.clone(),
            (None, Addressing::Accelerate) => "cos.accelerate.myqcloud.com".to_string(),
            (None, _) => format!("cos.{}.myqcloud.com", region.unwrap_or_default()),
        };
        let (scheme, host) = match endpoint.split_once("://") {
            Some((s, h)) => (s.to_string(), h.trim_end_matches('/').to_string()),
            None => ("https".into(), endpoint.trim_end_matches('/').to_string()),
        };
        match self.addressing {
            Addressing::VirtualHosted | Addressing::Accelerate => {
                format!("{scheme}://{}.{host}/", self.bucket)
            }
            Addressing::CustomDomain => format!("{scheme}://{host}/"),
            Addressing::PathStyle => format!("{scheme}://{host}/{}/", self.bucket),
        }
    }
}

/// Checks the `<name>-<appid>` form COS requires: lower-case letters, digits and `-`, the
/// account's numeric APPID last, at most 60 characters in all.
pub fn validate_bucket(bucket: &str) -> Result<()> {
    let problem = bucket_problem(bucket);
    match problem {
        None => Ok(()),
        Some(why) => Err(Error::invalid_input(format!(
            "`{bucket}` is not a COS bucket name: {why}; COS names are `<name>-<APPID>`, e.g. examplebucket-1250000000 (the full name is shown in the COS console's bucket list)"
        ))
        .with_bucket(bucket)),
    }
}

fn bucket_problem(bucket: &str) -> Option<&'static str> {
    let Some((name, appid)) = bucket.rsplit_once('-') else {
        return Some("it does not end with `-<APPID>`");
    };
    if appid.is_empty() || !appid.bytes().all(|b| b.is_ascii_digit()) {
        return Some("it does not end with `-<APPID>` (the account's numeric id)");
    }
    if name.is_empty() || name.starts_with('-') || name.ends_with('-') {
        return Some("the part before the APPID is empty or starts or ends with `-`");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("only lower-case letters, digits and `-` are allowed");
    }
    if bucket.len() > 60 {
        return Some("it is longer than 60 characters");
    }
    None
}

/// `cos.ap-guangzhou.myqcloud.com`, `b-1.cos.ap-guangzhou.tencentcos.cn`,
/// `cos-internal.ap-guangzhou.tencentcos.cn` → `ap-guangzhou`.
pub fn region_of_endpoint(endpoint: &str) -> Option<String> {
    let host = endpoint.split("://").last()?.split(['/', ':']).next()?;
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels
        .iter()
        .position(|l| *l == "cos" || *l == "cos-internal")?;
    let region = labels.get(at + 1)?;
    let known_domain = matches!(
        labels.get(at + 2..),
        Some(["myqcloud", "com"]) | Some(["tencentcos", "cn"])
    );
    (known_domain && *region != "accelerate").then(|| region.to_string())
}

/// The `.tencentcos.cn` twin of a `.cos.<region>.myqcloud.com` URL prefix (the host the
/// official SDK switches to on a redirect without `x-cos-request-id`); `None` for other
/// hosts (accelerate, custom domains, local servers).
pub fn tencentcos_fallback(base: &str) -> Option<String> {
    let (scheme, rest) = base.split_once("://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, format!(":{p}")),
        None => (authority, String::new()),
    };
    let stem = host.strip_suffix(".myqcloud.com")?;
    region_of_endpoint(host)?;
    Some(format!("{scheme}://{stem}.tencentcos.cn{port}/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_need_the_appid() {
        assert!(validate_bucket("examplebucket-1250000000").is_ok());
        assert!(validate_bucket("rec-2024-1250000000").is_ok());
        for bad in [
            "examplebucket",
            "example-bucket",
            "-1250000000",
            "Example-1250000000",
            "ex_ample-1250000000",
            "x-",
        ] {
            let e = validate_bucket(bad).unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("<name>-<APPID>"), "{e}");
        }
        let long = format!("{}-1250000000", "a".repeat(50));
        assert!(
            validate_bucket(&long)
                .unwrap_err()
                .to_string()
                .contains("60")
        );
    }

    #[test]
    fn regions_from_endpoints() {
        assert_eq!(
            region_of_endpoint("cos.ap-guangzhou.myqcloud.com").as_deref(),
            Some("ap-guangzhou")
        );
        assert_eq!(
            region_of_endpoint("https://b-1.cos.ap-beijing.tencentcos.cn:8443/x").as_deref(),
            Some("ap-beijing")
        );
        assert_eq!(
            region_of_endpoint("cos-internal.ap-shanghai.tencentcos.cn").as_deref(),
            Some("ap-shanghai")
        );
        assert_eq!(region_of_endpoint("cos.accelerate.myqcloud.com"), None);
        assert_eq!(region_of_endpoint("http://127.0.0.1:9000"), None);
    }

    #[test]
    fn urls_for_each_addressing_style() {
        let mut cfg = CosConfig::new("rec-1250000000");
        assert_eq!(
            cfg.base(Some("ap-guangzhou")),
            "https://rec-1250000000.cos.ap-guangzhou.myqcloud.com/"
        );
        cfg.addressing = Addressing::Accelerate;
        assert_eq!(
            cfg.base(None),
            "https://rec-1250000000.cos.accelerate.myqcloud.com/"
        );
        cfg.addressing = Addressing::PathStyle;
        cfg.endpoint = Some("http://127.0.0.1:9000".into());
        assert_eq!(cfg.base(None), "http://127.0.0.1:9000/rec-1250000000/");
        cfg.addressing = Addressing::CustomDomain;
        cfg.endpoint = Some("media.example.com".into());
        assert_eq!(cfg.base(None), "https://media.example.com/");
    }

    #[test]
    fn fallback_only_for_regional_myqcloud_hosts() {
        assert_eq!(
            tencentcos_fallback("https://b-1.cos.ap-guangzhou.myqcloud.com/").as_deref(),
            Some("https://b-1.cos.ap-guangzhou.tencentcos.cn/")
        );
        assert_eq!(
            tencentcos_fallback("http://b-1.cos.ap-guangzhou.myqcloud.com:8080/").as_deref(),
            Some("http://b-1.cos.ap-guangzhou.tencentcos.cn:8080/")
        );
        assert_eq!(
            tencentcos_fallback("https://b-1.cos.accelerate.myqcloud.com/"),
            None
        );
        assert_eq!(tencentcos_fallback("https://media.example.com/"), None);
    }

    #[test]
    fn custom_domain_and_path_style_need_an_endpoint() {
        for addressing in [Addressing::CustomDomain, Addressing::PathStyle] {
            let mut cfg = CosConfig::new("rec-1250000000");
            cfg.addressing = addressing;
            let e = cfg.check_endpoint().unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::InvalidInput);
            assert!(e.to_string().contains("--endpoint"), "{e}");
            cfg.endpoint = Some("media.example.com".into());
            assert!(cfg.check_endpoint().is_ok());
        }
        assert!(CosConfig::new("rec-1250000000").check_endpoint().is_ok());
    }

    #[test]
    fn missing_region_names_the_flag() {
        let e = CosConfig::new("rec-1250000000")
            .resolve_region()
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(e.to_string().contains("--region"), "{e}");
    }
}
