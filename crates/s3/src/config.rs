//! How an [`crate::S3Store`] is configured: from flags, from the `AWS_*` environment, or
//! from a profile. Region and credentials are resolved from explicit values, then the
//! environment, then the profile files — never from the EC2/ECS metadata services, which
//! would be a network call to a link-local address from every machine that lacks keys.

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use stowage_core::Credentials;

/// Region used when none is configured anywhere (S3 answers with a redirect naming the
/// bucket's real region, which becomes a wrong-region error).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Settings of one S3 (or S3-compatible) bucket.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    /// `None`: `AWS_REGION`/`AWS_DEFAULT_REGION`, then the profile, then `us-east-1`.
    pub region: Option<String>,
    /// An S3-compatible endpoint such as `http://127.0.0.1:9000`; `None` is AWS itself.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most local servers need.
    pub force_path_style: bool,
    /// `None`: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, then the profile.
    pub credentials: Option<Credentials>,
    /// Profile name in `~/.aws/config` and `~/.aws/credentials`.
    pub profile: Option<String>,
    /// Attempts per request inside the SDK (standard retry mode).
    pub max_attempts: u32,
    /// Which checksums every put carries for the server to verify.
    pub integrity: S3Integrity,
    /// Extra root certificates to trust (a private CA), besides the usual roots.
    pub ca_bundle: Option<stowage_core::tls::CaBundle>,
}

/// What a put sends so that the server can refuse corrupted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum S3Integrity {
    /// `Content-MD5` and `x-amz-checksum-crc64nvme`: every S3-compatible server checks
    /// Content-MD5; AWS and newer servers also check the CRC. Costs an MD5 pass.
    #[default]
    Md5AndCrc64Nvme,
    /// Only `x-amz-checksum-crc64nvme` (S3's own default): nearly free to compute, checked by
    /// AWS and by servers with flexible checksums; servers without them check nothing.
    Crc64Nvme,
    /// Asks the server once (per store, on its first write) whether it checks
    /// `x-amz-checksum-crc64nvme`: a probe object sent with a deliberately wrong CRC must be
    /// refused (BadDigest, InvalidDigest, XAmzContentChecksumMismatch, or InvalidRequest /
    /// InvalidArgument naming the checksum). Refused: [`S3Integrity::Crc64Nvme`]. Accepted
    /// (the probe is deleted again), or any other answer: [`S3Integrity::Md5AndCrc64Nvme`].
    Auto,
}

impl S3Config {
    /// A config for `bucket` with everything else from the environment
    /// (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_PROFILE`, credentials at connect time).
    pub fn from_env(bucket: impl Into<String>) -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok()
            .filter(|s| !s.is_empty());
        S3Config {
            bucket: bucket.into(),
            region: None,
            force_path_style: endpoint.is_some(),
            endpoint,
            credentials: None,
            profile: std::env::var("AWS_PROFILE").ok().filter(|s| !s.is_empty()),
            max_attempts: 3,
            integrity: Default::default(),
            ca_bundle: None,
        }
    }

    pub(crate) async fn resolve_region(&self) -> String {
        if let Some(r) = &self.region {
            return r.clone();
        }
        let mut profile = ProfileFileRegionProvider::builder();
        if let Some(p) = &self.profile {
            profile = profile.profile_name(p);
        }
        RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
            .or_else(profile.build())
            .region()
            .await
            .map_or_else(|| DEFAULT_REGION.to_string(), |r| r.to_string())
    }

    pub(crate) fn credentials_provider(&self) -> SharedCredentialsProvider {
        if let Some(c) = &self.credentials {
            let creds = aws_credential_types::Credentials::new(
                &c.access_key_id,
                c.secret_access_key(),
                c.session_token().map(str::to_string),
                None,
                "stowage",
            );
            return SharedCredentialsProvider::new(creds);
        }
        // The profile provider builds (but only uses when a profile asks for it) an
        // instance-metadata client, which needs an HTTP client at construction.
        let provider_config = ProviderConfig::default().with_http_client(crate::https_client(None));
        let mut profile = ProfileFileCredentialsProvider::builder().configure(&provider_config);
        if let Some(p) = &self.profile {
            profile = profile.profile_name(p);
        }
        let chain = CredentialsProviderChain::first_try(
            "environment",
            EnvironmentVariableCredentialsProvider::new(),
        )
        .or_else("profile", profile.build());
        SharedCredentialsProvider::new(chain)
    }
}
