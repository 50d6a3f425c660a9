//! The region tables, embedded as TOML data (`crates/region/data/*.toml`) and parsed once.
//!
//! The files are the source of truth: code never builds a host name from a template, so a
//! vendor's exceptions (S3's China partition, Kodo's `up.qiniup.com`, COS's finance zones)
//! are written down where they can be read and checked against the reference.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use stowage_core::{Error, Result};

/// A storage vendor Stowage has region tables for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    S3,
    Oss,
    Cos,
    Kodo,
    /// Huawei Cloud OBS, through its S3-compatible API.
    Obs,
    /// Baidu AI Cloud BOS, through its S3-compatible API.
    Bos,
    /// Kingsoft Cloud KS3, through its S3-compatible API.
    Ks3,
    /// Google Cloud Storage through its XML API (HMAC keys); `gs://` is the JSON API.
    Gcs,
}

impl Vendor {
    pub const ALL: [Vendor; 8] = [
        Vendor::S3,
        Vendor::Oss,
        Vendor::Cos,
        Vendor::Kodo,
        Vendor::Obs,
        Vendor::Bos,
        Vendor::Ks3,
        Vendor::Gcs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::S3 => "s3",
            Vendor::Oss => "oss",
            Vendor::Cos => "cos",
            Vendor::Kodo => "kodo",
            Vendor::Obs => "obs",
            Vendor::Bos => "bos",
            Vendor::Ks3 => "ks3",
            Vendor::Gcs => "gcs",
        }
    }

    /// The vendor's table.
    pub fn table(self) -> &'static VendorTable {
        let t = tables();
        match self {
            Vendor::S3 => &t.s3,
            Vendor::Oss => &t.oss,
            Vendor::Cos => &t.cos,
            Vendor::Kodo => &t.kodo,
            Vendor::Obs => &t.obs,
            Vendor::Bos => &t.bos,
            Vendor::Ks3 => &t.ks3,
            Vendor::Gcs => &t.gcs,
        }
    }

    /// The vendor's region `id`, also accepting the spellings servers report: OSS's
    /// `oss-cn-hangzhou` (GetBucketLocation) and Kodo's S3 region ids (`cn-east-1` for `z0`).
    pub fn region(self, id: &str) -> Result<&'static Region> {
        let id = id.trim().to_ascii_lowercase();
        let table = self.table();
        let plain = match self {
            Vendor::Oss => id.strip_prefix("oss-").unwrap_or(&id),
            _ => &id,
        };
        table
            .regions
            .iter()
            .find(|r| r.id == plain || r.s3_region.as_deref() == Some(plain))
            .ok_or_else(|| self.unknown_region(&id))
    }

    fn unknown_region(self, id: &str) -> Error {
        let known: Vec<&str> = self.table().regions.iter().map(|r| r.id.as_str()).collect();
        Error::invalid_input(format!(
            "unknown {} region `{id}`; the known regions are {}. Use one of them, or give the endpoint yourself with --endpoint",
            self.table().name,
            known.join(", ")
        ))
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Vendor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "s3" | "aws" | "amazon" => Vendor::S3,
            "oss" | "aliyun" | "alibaba" => Vendor::Oss,
            "cos" | "tencent" | "qcloud" => Vendor::Cos,
            "kodo" | "qiniu" => Vendor::Kodo,
            "obs" | "huawei" => Vendor::Obs,
            "bos" | "baidu" => Vendor::Bos,
            "ks3" | "kingsoft" | "ksyun" => Vendor::Ks3,
            "gcs" | "google" => Vendor::Gcs,
            other => {
                return Err(Error::invalid_input(format!(
                    "unknown vendor `{other}`; use s3, oss, cos, kodo, obs, bos, ks3 or gcs (aliases: aws, aliyun, tencent, qiniu, huawei, baidu, kingsoft, google)"
                )));
            }
        })
    }
}

/// Where a region is, coarse enough to tell near from far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Geography {
    MainlandChina,
    AsiaPacific,
    NorthAmerica,
    SouthAmerica,
    Europe,
    MiddleEast,
    Africa,
}

/// The continent of a geography: uploads across continents are the ones acceleration helps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continent {
    Asia,
    NorthAmerica,
    SouthAmerica,
    Europe,
    Africa,
}

impl Geography {
    pub const ALL: [Geography; 7] = [
        Geography::MainlandChina,
        Geography::AsiaPacific,
        Geography::NorthAmerica,
        Geography::SouthAmerica,
        Geography::Europe,
        Geography::MiddleEast,
        Geography::Africa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Geography::MainlandChina => "mainland-china",
            Geography::AsiaPacific => "asia-pacific",
            Geography::NorthAmerica => "north-america",
            Geography::SouthAmerica => "south-america",
            Geography::Europe => "europe",
            Geography::MiddleEast => "middle-east",
            Geography::Africa => "africa",
        }
    }

    pub fn continent(self) -> Continent {
        match self {
            Geography::MainlandChina | Geography::AsiaPacific | Geography::MiddleEast => {
                Continent::Asia
            }
            Geography::NorthAmerica => Continent::NorthAmerica,
            Geography::SouthAmerica => Continent::SouthAmerica,
            Geography::Europe => Continent::Europe,
            Geography::Africa => Continent::Africa,
        }
    }

    /// Parses `mainland-china`, `europe`, … (also with `_` or spaces, and `china`).
    pub fn parse(s: &str) -> Option<Geography> {
        let norm = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        if norm == "china" || norm == "cn" {
            return Some(Geography::MainlandChina);
        }
        Geography::ALL.into_iter().find(|g| g.as_str() == norm)
    }
}

impl fmt::Display for Geography {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One vendor's file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorTable {
    pub vendor: Vendor,
    pub name: String,
    /// How a bucket's host is formed from an endpoint (`{bucket}.{endpoint}`); absent when
    /// the bucket is not in the host (Kodo uploads name it in the token).
    pub bucket_host: Option<String>,
    /// COS: the bucket name must end in `-<APPID>`.
    #[serde(default)]
    pub bucket_needs_appid: bool,
    /// How the bucket's region is asked of the server.
    pub discovery: String,
    #[serde(default)]
    pub notes: Vec<String>,
    /// Global service hosts (Kodo's `uc`).
    #[serde(default)]
    pub services: BTreeMap<String, Vec<String>>,
    #[serde(rename = "region")]
    pub regions: Vec<Region>,
}

/// A region's life cycle, when it is not simply in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionStatus {
    ClosingDown,
    Decommissioning,
    Decommissioned,
    LegacyOperation,
}

impl RegionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RegionStatus::ClosingDown => "closing down",
            RegionStatus::Decommissioning => "being decommissioned",
            RegionStatus::Decommissioned => "decommissioned",
            RegionStatus::LegacyOperation => "in legacy operation (existing customers only)",
        }
    }
}

/// One region of one vendor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub id: String,
    pub name: String,
    pub geography: Geography,
    /// False when the reference marks the region unverified or inferred.
    #[serde(default = "yes")]
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RegionStatus>,
    /// S3: `aws`, `aws-cn` or `aws-us-gov` (separate accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Kodo: the region id its S3-compatible API uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// OSS mainland regions: new users must map a custom domain for data operations.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom_domain_required: bool,
    pub endpoints: Endpoints,
}

fn yes() -> bool {
    true
}

/// A region's hosts, as the vendor spells them. Absent = not in the reference.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_stack: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accelerated: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_compatible: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_compatible_internal: Option<String>,
    /// COS: the `.tencentcos.cn` host the SDK switches to when `myqcloud.com` redirects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Kodo management and listing hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsf: Option<String>,
}

/// Every embedded table.
#[derive(Debug)]
pub struct Tables {
    pub s3: VendorTable,
    pub oss: VendorTable,
    pub cos: VendorTable,
    pub kodo: VendorTable,
    pub obs: VendorTable,
    pub bos: VendorTable,
    pub ks3: VendorTable,
    pub gcs: VendorTable,
}

pub(crate) const S3_TOML: &str = include_str!("../data/s3.toml");
pub(crate) const OSS_TOML: &str = include_str!("../data/oss.toml");
pub(crate) const COS_TOML: &str = include_str!("../data/cos.toml");
pub(crate) const KODO_TOML: &str = include_str!("../data/kodo.toml");
pub(crate) const OBS_TOML: &str = include_str!("../data/obs.toml");
pub(crate) const BOS_TOML: &str = include_str!("../data/bos.toml");
pub(crate) const KS3_TOML: &str = include_str!("../data/ks3.toml");
pub(crate) const GCS_TOML: &str = include_str!("../data/gcs.toml");

/// Parses one embedded file; the file name makes a schema error findable.
pub(crate) fn parse_embedded<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> T {
    toml::from_str(text).unwrap_or_else(|e| {
        // Embedded data, not user input: the schema tests fail first if it is malformed.
        panic!("embedded table crates/region/data/{file} is malformed: {e}")
    })
}

/// The tables, parsed on first use.
pub fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        s3: parse_embedded("s3.toml", S3_TOML),
        oss: parse_embedded("oss.toml", OSS_TOML),
        cos: parse_embedded("cos.toml", COS_TOML),
        kodo: parse_embedded("kodo.toml", KODO_TOML),
        obs: parse_embedded("obs.toml", OBS_TOML),
        bos: parse_embedded("bos.toml", BOS_TOML),
        ks3: parse_embedded("ks3.toml", KS3_TOML),
        gcs: parse_embedded("gcs.toml", GCS_TOML),
    })
}

/// Every region of every vendor whose id (or Kodo S3 region id) is `id`.
pub fn find_region_anywhere(id: &str) -> Vec<(Vendor, &'static Region)> {
    Vendor::ALL
        .into_iter()
        .filter_map(|v| v.region(id).ok().map(|r| (v, r)))
        .collect()
}

impl Region {
    /// The bucket's host on `endpoint` (`examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com`).
    pub fn bucket_host(vendor: Vendor, bucket: &str, endpoint: &str) -> Option<String> {
        let template = vendor.table().bucket_host.as_deref()?;
        Some(
            template
                .replace("{bucket}", bucket)
                .replace("{endpoint}", endpoint),
        )
    }
}
