//! Where a Kodo bucket is and how to reach it.

use std::time::Duration;

use stowage_core::{Credentials, Error, ErrorKind, Result};

/// Environment variables for the key pair (as Qiniu's tools name them).
pub const ACCESS_KEY_ENV: &str = "QINIU_ACCESS_KEY";
pub const SECRET_KEY_ENV: &str = "QINIU_SECRET_KEY";
/// Qiniu's bucket-management host, which also answers where a bucket is.
pub const DEFAULT_UC_HOST: &str = "https://uc.qiniuapi.com";

/// A Kodo bucket's settings.
#[derive(Debug, Clone)]
pub struct KodoConfig {
    pub bucket: String,
    /// The key pair; `None` reads `QINIU_ACCESS_KEY` and `QINIU_SECRET_KEY`.
    pub credentials: Option<Credentials>,
    /// The bucket's zone (`z0`, `z1`, `z2`, `na0`, `as0`, `cn-east-2`, …); `None` asks `uc`.
    pub zone: Option<String>,
    /// One base URL for every host (up, rs, rsf, uc, io): a local emulator or a proxy.
    pub endpoint: Option<String>,
    /// Upload through the accelerated `upload-<zone>` hosts instead of the source `up-<zone>`.
    pub accelerated: bool,
    /// `https` for hosts derived from the zone or from `uc` (off only for local servers).
    pub https: bool,
    /// The bucket's download domain (`cdn.example.com` or a URL); `None` asks `uc` for the
    /// bucket's domains and takes the first.
    pub download_domain: Option<String>,
    /// How long upload tokens and signed download URLs stay valid.
    pub token_ttl: Duration,
    /// Attempts per request for retryable failures (5xx, 573, broken connections).
    pub max_attempts: u32,
    /// `uc` host, for zone and domain discovery.
    pub uc_host: String,
    /// Extra root certificates to trust (a private CA), besides the usual roots.
    pub ca_bundle: Option<stowage_core::tls::CaBundle>,
}

impl KodoConfig {
    pub fn new(bucket: impl Into<String>) -> Self {
        KodoConfig {
            bucket: bucket.into(),
            credentials: None,
            zone: None,
            endpoint: None,
            accelerated: false,
            https: true,
            download_domain: None,
            token_ttl: Duration::from_secs(3600),
            max_attempts: 3,
            uc_host: DEFAULT_UC_HOST.to_owned(),
            ca_bundle: None,
        }
    }

    /// The configured key pair, else the environment's.
    pub(crate) fn resolve_credentials(&self) -> Result<Credentials> {
        self.credentials_or(|name| std::env::var(name).ok())
    }

    fn credentials_or(&self, env: impl Fn(&str) -> Option<String>) -> Result<Credentials> {
        if let Some(c) = &self.credentials {
            return Ok(c.clone());
        }
        match (env(ACCESS_KEY_ENV), env(SECRET_KEY_ENV)) {
            (Some(ak), Some(sk)) if !ak.is_empty() && !sk.is_empty() => {
                Ok(Credentials::new(ak, sk))
            }
            _ => Err(Error::new(
                ErrorKind::InvalidCredentials,
                format!(
                    "no Qiniu key pair: pass --access-key and --secret-key, or set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV}"
                ),
            )),
        }
    }
}

/// Base URLs of the hosts one bucket uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hosts {
    pub up: String,
    pub rs: String,
    pub rsf: String,
}

impl Hosts {
    /// Every host at one URL.
    pub fn single(endpoint: &str) -> Hosts {
        let base = endpoint.trim_end_matches('/').to_owned();
        Hosts {
            up: base.clone(),
            rs: base.clone(),
            rsf: base,
        }
    }

    /// Qiniu's public hosts of `zone` (developer.qiniu.com/kodo/1671/region-endpoint-fq):
    /// source upload `up-<zone>.qiniup.com`, accelerated `upload-<zone>.qiniup.com`
    /// (`upload.qiniup.com` for z0), `rs-<zone>` and `rsf-<zone>.qiniuapi.com`.
    pub fn for_zone(zone: &str, accelerated: bool, https: bool) -> Hosts {
        let scheme = if https { "https" } else { "http" };
        let up = match (accelerated, zone) {
            (true, "z0") => "upload.qiniup.com".to_owned(),
            (true, z) => format!("upload-{z}.qiniup.com"),
            (false, z) => format!("up-{z}.qiniup.com"),
        };
        Hosts {
            up: format!("{scheme}://{up}"),
            rs: format!("{scheme}://rs-{zone}.qiniuapi.com"),
            rsf: format!("{scheme}://rsf-{zone}.qiniuapi.com"),
        }
    }
}

/// `host` as a base URL: kept when it has a scheme, else `https://` or `http://` added.
pub(crate) fn with_scheme(host: &str, https: bool) -> String {
    let host = host.trim_end_matches('/');
    if host.starts_with("http://") || host.starts_with("https://") {
        host.to_owned()
    } else if https {
        format!("https://{host}")
    } else {
        format!("http://{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_hosts_source_and_accelerated() {
        let h = Hosts::for_zone("z2", false, true);
        assert_eq!(h.up, "https://up-z2.qiniup.com");
        assert_eq!(h.rs, "https://rs-z2.qiniuapi.com");
        assert_eq!(h.rsf, "https://rsf-z2.qiniuapi.com");
        assert_eq!(
            Hosts::for_zone("z2", true, true).up,
            "https://upload-z2.qiniup.com"
        );
        assert_eq!(
            Hosts::for_zone("z0", true, true).up,
            "https://upload.qiniup.com"
        );
        assert_eq!(
            Hosts::for_zone("cn-east-2", false, true).up,
            "https://up-cn-east-2.qiniup.com"
        );
    }

    #[test]
    fn schemes() {
        assert_eq!(
            with_scheme("cdn.example.com", true),
            "https://cdn.example.com"
        );
        assert_eq!(
            with_scheme("127.0.0.1:9/dl/b", false),
            "http://127.0.0.1:9/dl/b"
        );
        assert_eq!(with_scheme("http://x/", true), "http://x");
    }

    #[test]
    fn credentials_from_config_then_environment_else_a_named_fix() {
        let cfg = KodoConfig::new("b");
        let env = |name: &str| {
            (name == ACCESS_KEY_ENV || name == SECRET_KEY_ENV).then(|| format!("{name}-v"))
        };
        let c = cfg.credentials_or(env).unwrap();
        assert_eq!(c.access_key_id, "QINIU_ACCESS_KEY-v");
        assert_eq!(c.secret_access_key(), "QINIU_SECRET_KEY-v");
        let e = cfg.credentials_or(|_| None).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidCredentials);
        let text = e.to_string();
        assert!(
            text.contains("QINIU_ACCESS_KEY") && text.contains("--secret-key"),
            "{text}"
        );
        let mut given = cfg.clone();
        given.credentials = Some(Credentials::new("ak", "sk"));
        assert_eq!(given.credentials_or(env).unwrap().access_key_id, "ak");
    }
}
