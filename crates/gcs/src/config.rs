//! Where the bucket is and how requests are authorised.
//!
//! Google Cloud Storage's JSON API takes OAuth 2.0 bearer tokens only. They come from
//! apache object_store's GCP credential chain: a service-account key (JSON, the file
//! `GOOGLE_APPLICATION_CREDENTIALS` names, or the key itself), gcloud's application-default
//! credentials, or the metadata server on Google Cloud. An emulator (fake-gcs-server,
//! `STORAGE_EMULATOR_HOST`, the variable Google's SDKs read) takes anonymous requests.
//!
//! HMAC keys (Agora's `accessKey`/`secretKey` for vendor 6) sign the XML API only, which
//! this store does not speak: they are refused here, naming both ways out (the S3 store with
//! the `gcs` preset, which is where Agora's vendor 6 sends them, or a service account).

use std::fmt;
use std::path::PathBuf;

use stowage_core::retry::RetryPolicy;
use stowage_core::tls::CaBundle;
use stowage_core::{Credentials, Error, ErrorKind, Result};
use stowage_http::env::env_first;

/// The variable naming a service-account key file (Google's SDKs and gcloud read it).
pub const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// object_store's variables: a service-account key file, or the key's JSON itself.
pub const SERVICE_ACCOUNT_ENV: [&str; 2] =
    ["GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_PATH"];
pub const SERVICE_ACCOUNT_KEY_ENV: &str = "GOOGLE_SERVICE_ACCOUNT_KEY";
/// An OAuth access token already obtained (`gcloud auth print-access-token`).
pub const BEARER_ENV: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";
/// An emulator's `host:port` (or URL): requests go there, unauthenticated, as Google's
/// SDKs do.
pub const EMULATOR_ENV: &str = "STORAGE_EMULATOR_HOST";
/// Another endpoint for the real service (a private endpoint, a proxy).
pub const ENDPOINT_ENV: &str = "GCS_ENDPOINT";

/// Google's endpoint for the JSON API (uploads under `/upload`).
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// How requests are authorised.
#[derive(Clone, PartialEq, Eq)]
pub enum GcsAuth {
    /// A service-account key file (JSON): object_store signs a JWT and trades it for
    /// OAuth tokens, renewed before they expire.
    ServiceAccountFile(PathBuf),
    /// A service-account key's JSON itself.
    ServiceAccountKey(String),
    /// gcloud's application-default credentials (`~/.config/gcloud/…`), else the metadata
    /// server of the Google Cloud machine this runs on.
    ApplicationDefault,
    /// An OAuth access token as is (it expires after an hour).
    Bearer(String),
    /// No `Authorization` header: an emulator, or a public bucket.
    Anonymous,
}

impl fmt::Debug for GcsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GcsAuth::ServiceAccountFile(p) => write!(f, "ServiceAccountFile({})", p.display()),
            GcsAuth::ServiceAccountKey(_) => f.write_str("ServiceAccountKey(<redacted>)"),
            GcsAuth::ApplicationDefault => f.write_str("ApplicationDefault"),
            GcsAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            GcsAuth::Anonymous => f.write_str("Anonymous"),
        }
    }
}

/// One Google Cloud Storage bucket.
#[derive(Clone, Debug)]
pub struct GcsConfig {
    pub bucket: String,
    pub auth: GcsAuth,
    /// The service's base URL; default [`DEFAULT_ENDPOINT`]. The JSON API is under
    /// `/storage/v1`, uploads under `/upload/storage/v1`.
    pub endpoint: Option<String>,
    pub ca_bundle: Option<CaBundle>,
    /// Retries of each request.
    pub retry: RetryPolicy,
}

impl GcsConfig {
    pub fn new(bucket: &str, auth: GcsAuth) -> GcsConfig {
        GcsConfig {
            bucket: bucket.to_string(),
            auth,
            endpoint: None,
            ca_bundle: None,
            retry: RetryPolicy::default(),
        }
    }

    /// From explicit credentials, else the environment:
    ///
    /// - `explicit`: a secret that is a service-account key (JSON text, or the path of a
    ///   key file) is used as one; HMAC keys (Agora's accessKey/secretKey) are refused,
    ///   naming the way to give a service account;
    /// - `STORAGE_EMULATOR_HOST`: that emulator, anonymous;
    /// - `GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_SERVICE_ACCOUNT(_PATH)`: a key file;
    ///   `GOOGLE_SERVICE_ACCOUNT_KEY`: the key's JSON; `GOOGLE_OAUTH_ACCESS_TOKEN`: a token;
    /// - else gcloud's application-default credentials or the metadata server.
    ///
    /// `GCS_ENDPOINT` names another endpoint for the real service.
    pub fn from_env(bucket: &str, explicit: Option<&Credentials>) -> Result<GcsConfig> {
        let emulator = env_first(&[EMULATOR_ENV]);
        let auth = match explicit {
            Some(c) => auth_from_secret(bucket, c.secret_access_key())?,
            None if emulator.is_some() => GcsAuth::Anonymous,
            None => {
                if let Some(path) =
                    env_first(&[CREDENTIALS_ENV]).or_else(|| env_first(&SERVICE_ACCOUNT_ENV))
                {
                    GcsAuth::ServiceAccountFile(path.into())
                } else if let Some(key) = env_first(&[SERVICE_ACCOUNT_KEY_ENV]) {
                    GcsAuth::ServiceAccountKey(key)
                } else if let Some(token) = env_first(&[BEARER_ENV]) {
                    GcsAuth::Bearer(token)
                } else {
                    GcsAuth::ApplicationDefault
                }
            }
        };
        let mut cfg = GcsConfig::new(bucket, auth);
        cfg.endpoint = match emulator {
            Some(host) if host.contains("://") => Some(host),
            Some(host) => Some(format!("http://{host}")),
            None => env_first(&[ENDPOINT_ENV]),
        };
        Ok(cfg)
    }

    /// Checks the bucket name as Google does, before any request.
    pub fn validate(&self) -> Result<()> {
        match bucket_name_problem(&self.bucket) {
            Some(p) => Err(Error::invalid_input(format!(
                "`{}` is not a Google Cloud Storage bucket name: {p}",
                self.bucket
            ))),
            None => Ok(()),
        }
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> Result<String> {
        let ep = self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        let ep = ep.trim_end_matches('/');
        reqwest::Url::parse(ep).map_err(|e| {
            Error::invalid_input(format!(
                "the Google Cloud Storage endpoint `{ep}` is not a URL ({e}); write it as {DEFAULT_ENDPOINT}"
            ))
        })?;
        Ok(ep.to_string())
    }
}

/// A secret given as credentials: a service-account key (its JSON, or a file), never HMAC.
fn auth_from_secret(bucket: &str, secret: &str) -> Result<GcsAuth> {
    let s = secret.trim();
    if s.starts_with('{') {
        return Ok(GcsAuth::ServiceAccountKey(s.to_string()));
    }
    if std::path::Path::new(s).is_file() {
        return Ok(GcsAuth::ServiceAccountFile(s.into()));
    }
    Err(Error::new(
        ErrorKind::Unsupported,
        format!(
            "gs://{bucket}: the access key and secret given look like GCS HMAC keys, which sign only Google's XML API; gs:// is the JSON API, which takes OAuth tokens. Either reach the bucket through the XML API as s3://{bucket} with the gcs S3-compatible preset (storage.googleapis.com), or give a service-account key: set {CREDENTIALS_ENV} to its JSON file (or pass the file's path, or its JSON, as the secret key)"
        ),
    ))
}

/// Why Google would refuse `name` as a bucket name, if it would.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    let max = if name.contains('.') { 222 } else { 63 };
    if name.len() < 3 || name.len() > max {
        Some("3 to 63 characters (222 with dots)")
    } else if !ok_chars {
        Some("only lower-case letters, digits, `-`, `_` and `.`")
    } else if !name.as_bytes()[0].is_ascii_alphanumeric()
        || !name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
    {
        Some("must start and end with a letter or digit")
    } else if name.starts_with("goog") {
        Some("must not start with `goog`")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_keys_are_refused_with_the_way_out_and_without_the_secret() {
        let c = Credentials::new("GOOG1EXAMPLEACCESSKEY", "hmacSECRETvalue/abc+def");
        let e = GcsConfig::from_env("rec", Some(&c)).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unsupported);
        assert!(e.to_string().contains(CREDENTIALS_ENV), "{e}");
        assert!(!e.to_string().contains("hmacSECRET"), "{e}");
        let c = Credentials::new("sa", r#"{"type":"service_account","private_key":"k"}"#);
        let cfg = GcsConfig::from_env("rec", Some(&c)).unwrap();
        assert!(matches!(cfg.auth, GcsAuth::ServiceAccountKey(_)));
        assert!(!format!("{cfg:?}").contains("private_key"));
    }

    #[test]
    fn bucket_names_are_checked_with_the_rule() {
        assert_eq!(bucket_name_problem("rec-2024_a.b"), None);
        assert!(bucket_name_problem("Rec").is_some());
        assert!(bucket_name_problem("ab").is_some());
        assert!(bucket_name_problem("-ab").is_some());
        assert!(bucket_name_problem("google-rec").is_some());
        let cfg = GcsConfig::new("Bad_Name", GcsAuth::Anonymous);
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("lower-case")
        );
    }

    #[test]
    fn endpoints() {
        let mut cfg = GcsConfig::new("rec", GcsAuth::Anonymous);
        assert_eq!(cfg.base_url().unwrap(), DEFAULT_ENDPOINT);
        cfg.endpoint = Some("http://127.0.0.1:4443/".into());
        assert_eq!(cfg.base_url().unwrap(), "http://127.0.0.1:4443");
    }
}
