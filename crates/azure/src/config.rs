//! Where the container is and how to sign: the storage account, its key or a SAS token,
//! and the account's blob endpoint.
//!
//! Agora's `storageConfig` for Azure (vendor 5) carries the account name as `accessKey` and
//! the account key as `secretKey`; Stowage's flags follow it (`--access-key` is the account
//! name, `--secret-key` the key). A secret that is a SAS token (`sv=…&sig=…`, with or
//! without the leading `?`) is used as one.

use std::fmt;

use stowage_core::retry::RetryPolicy;
use stowage_core::tls::CaBundle;
use stowage_core::{Credentials, Error, Result};
use stowage_http::env::env_first;

/// The variables holding the account name, in the order they are read (object_store's
/// name first, then the Azure CLI's).
pub const ACCOUNT_ENV: [&str; 2] = ["AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT"];
/// The variables holding the account key.
pub const KEY_ENV: [&str; 2] = ["AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY"];
/// The variables holding a SAS token (used when no key is set).
pub const SAS_ENV: [&str; 2] = ["AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_SAS_KEY"];
/// The variable holding the account's blob endpoint.
pub const ENDPOINT_ENV: &str = "AZURE_STORAGE_ENDPOINT";

/// How requests are authorised.
#[derive(Clone, PartialEq, Eq)]
pub enum AzureAuth {
    /// The account key (base64, as the portal shows it): Shared Key signing.
    Key(String),
    /// A SAS token's query (`sv=…&sig=…`).
    Sas(String),
}

impl fmt::Debug for AzureAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AzureAuth::Key(_) => f.write_str("Key(<redacted>)"),
            AzureAuth::Sas(_) => f.write_str("Sas(<redacted>)"),
        }
    }
}

impl AzureAuth {
    /// A secret as given: a SAS token when it looks like one, else an account key.
    pub fn from_secret(secret: &str) -> AzureAuth {
        let s = secret.trim().trim_start_matches('?');
        if s.contains("sig=") && s.contains('&') {
            AzureAuth::Sas(s.to_string())
        } else {
            AzureAuth::Key(secret.trim().to_string())
        }
    }
}

/// One Azure Blob container.
#[derive(Clone, Debug)]
pub struct AzureConfig {
    pub account: String,
    pub container: String,
    pub auth: AzureAuth,
    /// The account's blob endpoint; default `https://<account>.blob.core.windows.net`. An
    /// endpoint on a loopback or IP address without a path is an emulator's (Azurite):
    /// the account goes into the path, `http://127.0.0.1:10000/<account>`.
    pub endpoint: Option<String>,
    pub ca_bundle: Option<CaBundle>,
    /// Retries of each request this crate sends (object_store retries its own).
    pub retry: RetryPolicy,
}

impl AzureConfig {
    pub fn new(account: &str, container: &str, auth: AzureAuth) -> AzureConfig {
        AzureConfig {
            account: account.to_string(),
            container: container.to_string(),
            auth,
            endpoint: None,
            ca_bundle: None,
            retry: RetryPolicy::default(),
        }
    }

    /// From explicit credentials (`access_key_id` = account name, secret = key or SAS), or
    /// else the `AZURE_STORAGE_*` variables; the endpoint from `AZURE_STORAGE_ENDPOINT`.
    pub fn from_env(container: &str, explicit: Option<&Credentials>) -> Result<AzureConfig> {
        let (account, auth) = match explicit {
            Some(c) => (
                c.access_key_id.clone(),
                AzureAuth::from_secret(c.secret_access_key()),
            ),
            None => {
                let account = env_first(&ACCOUNT_ENV).ok_or_else(|| no_credentials(container))?;
                let auth = match (env_first(&KEY_ENV), env_first(&SAS_ENV)) {
                    (Some(key), _) => AzureAuth::Key(key),
                    (None, Some(sas)) => AzureAuth::Sas(sas.trim_start_matches('?').to_string()),
                    (None, None) => return Err(no_credentials(container)),
                };
                (account, auth)
            }
        };
        let mut cfg = AzureConfig::new(&account, container, auth);
        cfg.endpoint = env_first(&[ENDPOINT_ENV]);
        Ok(cfg)
    }

    /// Checks the names Azure would refuse, before any request.
    pub fn validate(&self) -> Result<()> {
        let a = &self.account;
        if !(3..=24).contains(&a.len())
            || !a
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(Error::invalid_input(format!(
                "`{a}` is not an Azure storage account name: 3 to 24 lower-case letters and digits (the accessKey, or {})",
                ACCOUNT_ENV[0]
            )));
        }
        container_name_problem(&self.container).map_or(Ok(()), |p| {
            Err(Error::invalid_input(format!(
                "`{}` is not an Azure container name: {p}",
                self.container
            )))
        })?;
        if let AzureAuth::Key(k) = &self.auth {
            use base64::Engine as _;
            if base64::engine::general_purpose::STANDARD.decode(k).is_err() {
                return Err(Error::invalid_input(
                    "the Azure account key (secretKey) is not base64: copy key1 or key2 from the storage account's Access keys page, or give a SAS token",
                ));
            }
        }
        Ok(())
    }

    /// The account's blob endpoint URL, without a trailing `/`.
    pub fn account_url(&self) -> Result<String> {
        let Some(ep) = &self.endpoint else {
            return Ok(format!("https://{}.blob.core.windows.net", self.account));
        };
        let ep = ep.trim_end_matches('/');
        let url = reqwest::Url::parse(ep).map_err(|e| {
            Error::invalid_input(format!(
                "the Azure endpoint `{ep}` is not a URL ({e}); write it as https://<account>.blob.core.windows.net"
            ))
        })?;
        let host = url.host_str().unwrap_or_default();
        let emulator = host == "localhost"
            || host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<std::net::IpAddr>()
                .is_ok();
        if emulator && url.path().trim_matches('/').is_empty() {
            return Ok(format!("{ep}/{}", self.account));
        }
        Ok(ep.to_string())
    }
}

/// Why Azure would refuse `name` as a container name, if it would.
pub fn container_name_problem(name: &str) -> Option<&'static str> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !(3..=63).contains(&name.len()) {
        Some("3 to 63 characters")
    } else if !ok_chars {
        Some("only lower-case letters, digits and `-`")
    } else if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        Some("`-` only between letters or digits, never two in a row")
    } else {
        None
    }
}

fn no_credentials(container: &str) -> Error {
    Error::new(
        stowage_core::ErrorKind::InvalidCredentials,
        format!(
            "no Azure credentials for container `{container}`: give the account name and key (--access-key/--secret-key, as Agora's accessKey/secretKey), or set {} and {} (or {})",
            ACCOUNT_ENV[0], KEY_ENV[0], SAS_ENV[0]
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sas_tokens_are_told_from_keys() {
        assert!(matches!(
            AzureAuth::from_secret("?sv=2022-11-02&ss=b&sig=abc%3D"),
            AzureAuth::Sas(s) if s == "sv=2022-11-02&ss=b&sig=abc%3D"
        ));
        assert!(matches!(
            AzureAuth::from_secret("Eby8vdM02xNO+/=="),
            AzureAuth::Key(_)
        ));
        let d = format!("{:?}", AzureAuth::from_secret("sv=1&sig=SECRET"));
        assert!(!d.contains("SECRET"), "{d}");
    }

    #[test]
    fn endpoints_and_emulators() {
        let mut c = AzureConfig::new("acct", "rec", AzureAuth::Key("a2V5".into()));
        assert_eq!(
            c.account_url().unwrap(),
            "https://acct.blob.core.windows.net"
        );
        c.endpoint = Some("http://127.0.0.1:10000/".into());
        assert_eq!(c.account_url().unwrap(), "http://127.0.0.1:10000/acct");
        c.endpoint = Some("http://127.0.0.1:10000/other".into());
        assert_eq!(c.account_url().unwrap(), "http://127.0.0.1:10000/other");
        c.endpoint = Some("https://acct.blob.core.chinacloudapi.cn".into());
        assert_eq!(
            c.account_url().unwrap(),
            "https://acct.blob.core.chinacloudapi.cn"
        );
    }

    #[test]
    fn names_are_checked_with_the_rule() {
        let c = AzureConfig::new("Acct", "rec", AzureAuth::Key("a2V5".into()));
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("3 to 24 lower-case"), "{e}");
        let c = AzureConfig::new("acct", "Rec_1", AzureAuth::Key("a2V5".into()));
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("only lower-case"), "{e}");
        assert_eq!(
            container_name_problem("a--b"),
            Some("`-` only between letters or digits, never two in a row")
        );
        let c = AzureConfig::new("acct", "rec", AzureAuth::Key("not base64!".into()));
        assert!(c.validate().unwrap_err().to_string().contains("base64"));
    }
}
