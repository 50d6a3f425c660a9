//! How to reach a bucket: a plain struct, a builder, and [`Settings::from_env`].
//!
//! What is left `None` here is read by each vendor's adapter from that vendor's own
//! environment when the bucket is opened (the vendor is known only from the URL):
//! credentials (`AWS_*` and the profile, `OSS_*`/`ALIBABA_CLOUD_*`, `TENCENTCLOUD_*`/`COS_*`,
//! `QINIU_*`, `AZURE_STORAGE_*`), the endpoint (`AWS_ENDPOINT_URL`, `OSS_ENDPOINT`, …) and
//! the region (`AWS_REGION`, `OSS_REGION`, …).

use std::fmt;
use std::path::PathBuf;

use stowage_core::{Credentials, Error, Result, Scheme};
use stowage_region::Vendor;
pub use stowage_s3::S3Integrity;

/// How to reach a bucket. `Default` is "everything from the vendor's environment, the
/// adapters' default endpoints, no endpoint selection".
#[derive(Clone, Default)]
pub struct Settings {
    /// An S3-compatible server, an OSS endpoint or custom domain, one URL for every Kodo
    /// host, an Azure account's blob endpoint. Always wins over selection.
    pub endpoint: Option<String>,
    /// The bucket's region (the Kodo zone).
    pub region: Option<String>,
    /// S3 only: a profile in `~/.aws/config`.
    pub profile: Option<String>,
    /// A key pair (with an optional STS token); `None`: the vendor's environment.
    pub credentials: Option<Credentials>,
    /// Path-style addressing (on by default when an S3 endpoint is given).
    pub path_style: bool,
    /// What every S3 put carries; `None`: CRC-64/NVME on AWS itself, ask the server
    /// elsewhere ([`S3Integrity::Auto`]).
    pub s3_integrity: Option<S3Integrity>,
    /// For `s3://` URLs: reach this vendor's bucket through its S3-compatible API (OSS,
    /// COS, Kodo, OBS, BOS, KS3), with its endpoint for the region and its quirks.
    pub s3_preset: Option<Vendor>,
    /// A PEM file of CA certificates to trust besides the system's roots.
    pub ca_bundle: Option<PathBuf>,
    /// Where the uploader runs: a region id, `vendor:region`, or a geography. Drives the
    /// endpoint choice and the cross-region advice.
    pub from: Option<String>,
    /// Use the vendor's internal endpoint when the uploader runs in the bucket's region.
    pub internal: bool,
    /// Use the vendor's accelerated endpoint across continents.
    pub accelerate: bool,
    /// Time the candidate endpoints and use the fastest that answers.
    pub probe_endpoints: bool,
    /// A `file://` directory that does not exist yet is created (else it is an error).
    pub create_local: bool,
}

/// The secret and the token never appear in `Debug`.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("profile", &self.profile)
            .field("credentials", &self.credentials)
            .field("path_style", &self.path_style)
            .field("s3_integrity", &self.s3_integrity)
            .field("s3_preset", &self.s3_preset)
            .field("ca_bundle", &self.ca_bundle)
            .field("from", &self.from)
            .field("internal", &self.internal)
            .field("accelerate", &self.accelerate)
            .field("probe_endpoints", &self.probe_endpoints)
            .field("create_local", &self.create_local)
            .finish()
    }
}

impl Settings {
    /// A builder starting from [`Settings::default`].
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder(Settings::default())
    }

    /// The settings the `stowage` command reads from its environment: `STOWAGE_CA_BUNDLE`,
    /// `STOWAGE_FROM`, and the switches `STOWAGE_INTERNAL`, `STOWAGE_ACCELERATE`,
    /// `STOWAGE_PROBE_ENDPOINTS` (1/0, true/false, yes/no, on/off). Credentials, endpoint
    /// and region stay `None`: the adapter of the URL's vendor reads that vendor's variables.
    pub fn from_env() -> Result<Settings> {
        Ok(Settings {
            ca_bundle: env("STOWAGE_CA_BUNDLE").map(PathBuf::from),
            from: env("STOWAGE_FROM"),
            internal: switch("STOWAGE_INTERNAL")?,
            accelerate: switch("STOWAGE_ACCELERATE")?,
            probe_endpoints: switch("STOWAGE_PROBE_ENDPOINTS")?,
            ..Settings::default()
        })
    }

    /// True when endpoint selection or advice is asked for. Without it the adapters build
    /// their default endpoints from the region.
    pub fn wants_selection(&self) -> bool {
        self.from.is_some() || self.internal || self.accelerate || self.probe_endpoints
    }

    /// The private CA file, read.
    pub fn ca(&self) -> Result<Option<stowage_core::tls::CaBundle>> {
        self.ca_bundle
            .as_deref()
            .map(stowage_core::tls::CaBundle::from_file)
            .transpose()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A boolean variable in any of the usual spellings; absent or empty is false.
fn switch(name: &str) -> Result<bool> {
    let Some(value) = env(name) else {
        return Ok(false);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        "0" | "false" | "no" | "off" | "n" | "f" => Ok(false),
        _ => Err(Error::invalid_input(format!(
            "{name} must be 1/0, true/false, yes/no or on/off"
        ))),
    }
}

/// Builds [`Settings`] one choice at a time.
#[derive(Debug, Clone)]
pub struct SettingsBuilder(Settings);

impl SettingsBuilder {
    /// See [`Settings::endpoint`].
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.0.endpoint = Some(endpoint.into());
        self
    }
    /// See [`Settings::region`].
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.0.region = Some(region.into());
        self
    }
    /// See [`Settings::profile`].
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.0.profile = Some(profile.into());
        self
    }
    /// See [`Settings::credentials`].
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.0.credentials = Some(credentials);
        self
    }
    /// See [`Settings::path_style`].
    pub fn path_style(mut self, on: bool) -> Self {
        self.0.path_style = on;
        self
    }
    /// See [`Settings::s3_integrity`].
    pub fn s3_integrity(mut self, integrity: S3Integrity) -> Self {
        self.0.s3_integrity = Some(integrity);
        self
    }
    /// See [`Settings::s3_preset`].
    pub fn s3_preset(mut self, vendor: Vendor) -> Self {
        self.0.s3_preset = Some(vendor);
        self
    }
    /// See [`Settings::ca_bundle`].
    pub fn ca_bundle(mut self, pem: impl Into<PathBuf>) -> Self {
        self.0.ca_bundle = Some(pem.into());
        self
    }
    /// See [`Settings::from`].
    pub fn from(mut self, place: impl Into<String>) -> Self {
        self.0.from = Some(place.into());
        self
    }
    /// See [`Settings::internal`].
    pub fn internal(mut self, on: bool) -> Self {
        self.0.internal = on;
        self
    }
    /// See [`Settings::accelerate`].
    pub fn accelerate(mut self, on: bool) -> Self {
        self.0.accelerate = on;
        self
    }
    /// See [`Settings::probe_endpoints`].
    pub fn probe_endpoints(mut self, on: bool) -> Self {
        self.0.probe_endpoints = on;
        self
    }
    /// See [`Settings::create_local`].
    pub fn create_local(mut self, on: bool) -> Self {
        self.0.create_local = on;
        self
    }
    /// The settings.
    pub fn build(self) -> Settings {
        self.0
    }
}

/// Where a vendor's credentials come from when [`Settings::credentials`] gives none: its
/// environment variables (or, for S3, a profile), for messages.
pub fn credential_variables(scheme: Scheme) -> &'static str {
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

/// Parses the S3 integrity mode as the command line spells it (`md5`, `crc64nvme`, `auto`).
pub fn parse_s3_integrity(s: &str) -> Result<S3Integrity> {
    match s {
        "md5" => Ok(S3Integrity::Md5AndCrc64Nvme),
        "crc64nvme" => Ok(S3Integrity::Crc64Nvme),
        "auto" => Ok(S3Integrity::Auto),
        other => Err(Error::invalid_input(format!(
            "unknown S3 integrity mode `{other}`; use md5, crc64nvme or auto"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credential_variables_are_the_vendors_own() {
        use super::{Scheme, credential_variables};
        assert!(credential_variables(Scheme::Oss).starts_with("OSS_ACCESS_KEY_ID"));
        assert!(credential_variables(Scheme::Cos).contains("TENCENTCLOUD_SECRET_ID"));
    }

    use super::*;

    /// Only this test touches the `STOWAGE_*` switches, so setting them is race-free.
    #[test]
    fn from_env_reads_the_commands_variables_and_refuses_a_bad_switch() {
        let set = |k: &str, v: &str| unsafe { std::env::set_var(k, v) };
        set("STOWAGE_FROM", "oss:cn-hangzhou");
        set("STOWAGE_INTERNAL", "yes");
        set("STOWAGE_ACCELERATE", "0");
        set("STOWAGE_PROBE_ENDPOINTS", "");
        let s = Settings::from_env().unwrap();
        assert_eq!(s.from.as_deref(), Some("oss:cn-hangzhou"));
        assert!(s.internal && !s.accelerate && !s.probe_endpoints);
        assert!(s.wants_selection());
        set("STOWAGE_ACCELERATE", "maybe");
        let e = Settings::from_env().unwrap_err();
        assert!(e.to_string().contains("STOWAGE_ACCELERATE"), "{e}");
        for k in ["STOWAGE_FROM", "STOWAGE_INTERNAL", "STOWAGE_ACCELERATE"] {
            unsafe { std::env::remove_var(k) };
        }
    }

    #[test]
    fn the_builder_sets_each_field_and_debug_hides_the_secret() {
        let s = Settings::builder()
            .endpoint("http://127.0.0.1:9000")
            .region("us-east-1")
            .credentials(Credentials::new("AKID", "TOPSECRET"))
            .s3_preset(Vendor::Oss)
            .s3_integrity(S3Integrity::Md5AndCrc64Nvme)
            .from("eu-central-1")
            .accelerate(true)
            .create_local(true)
            .build();
        assert_eq!(s.region.as_deref(), Some("us-east-1"));
        assert_eq!(s.s3_preset, Some(Vendor::Oss));
        assert!(s.accelerate && s.create_local);
        assert!(!format!("{s:?}").contains("TOPSECRET"));
    }
}
