//! OSS, COS and Kodo through their S3-compatible APIs: one preset per vendor with its quirks
//! as data (`data/s3_presets.toml`), the way rclone's provider files describe S3 providers.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::tables::{Region, Vendor, parse_embedded};

const PRESETS_TOML: &str = include_str!("../data/s3_presets.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    #[serde(rename = "preset")]
    presets: Vec<S3Preset>,
}

/// How the S3 adapter must talk to one vendor's S3-compatible API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Preset {
    pub vendor: Vendor,
    pub name: String,
    /// URL templates with `{region}` (the preset's S3 region id).
    pub endpoint: String,
    pub internal_endpoint: Option<String>,
    pub accelerated_endpoint: Option<String>,
    pub signing_region: String,
    /// Path-style (`endpoint/bucket/key`) rather than virtual-hosted addressing.
    pub force_path_style: bool,
    /// What every put carries, as `stowage --s3-integrity` spells it.
    pub integrity: String,
    pub list_version: u8,
    pub multipart_etag_is_md5: bool,
    /// The S3 bucket name may differ from the native one (Kodo).
    pub bucket_name_may_differ: bool,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A preset filled in for one region: what to hand the S3 adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3Settings {
    pub endpoint: String,
    pub internal_endpoint: Option<String>,
    pub accelerated_endpoint: Option<String>,
    pub region: String,
    pub force_path_style: bool,
    pub integrity: String,
}

fn presets() -> &'static [S3Preset] {
    static FILE: OnceLock<PresetFile> = OnceLock::new();
    &FILE
        .get_or_init(|| parse_embedded("s3_presets.toml", PRESETS_TOML))
        .presets
}

/// The S3-compatible preset of `vendor` (`None` for S3 itself, which needs none).
pub fn s3_preset(vendor: Vendor) -> Option<&'static S3Preset> {
    presets().iter().find(|p| p.vendor == vendor)
}

/// Every preset, for listings and tests.
pub fn all_presets() -> &'static [S3Preset] {
    presets()
}

impl S3Preset {
    /// The preset for `region` of this vendor.
    pub fn for_region(&self, region: &Region) -> S3Settings {
        let id = region.s3_region.as_deref().unwrap_or(&region.id);
        let fill = |t: &str| t.replace("{region}", id);
        S3Settings {
            endpoint: fill(&self.endpoint),
            internal_endpoint: self.internal_endpoint.as_deref().map(fill),
            accelerated_endpoint: self.accelerated_endpoint.as_deref().map(fill),
            region: fill(&self.signing_region),
            force_path_style: self.force_path_style,
            integrity: self.integrity.clone(),
        }
    }
}
