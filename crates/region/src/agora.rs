//! Agora Cloud Recording's storage codes and its `storageConfig` object.
//!
//! The code tables are data (`data/agora.toml`); every region id there is Agora's label
//! transformed (Agora never gives vendor region ids), which [`AgoraRegion::inferred`] says
//! out loud. Codes the reference cannot map resolve to an error naming the reason.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};
use stowage_core::{Credentials, Error, ErrorKind, Result, Scheme, StorageUrl};

use crate::tables::{Region, Vendor, parse_embedded};

const AGORA_TOML: &str = include_str!("../data/agora.toml");

/// Longest `fileNamePrefix` Agora accepts, counting the `/` between elements.
pub const MAX_PREFIX_LEN: usize = 128;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgoraTable {
    #[serde(rename = "vendor")]
    pub vendors: Vec<AgoraVendor>,
}

/// One `storageConfig.vendor` code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgoraVendor {
    pub code: u32,
    pub name: String,
    /// The Stowage backend for it: `s3`, `oss`, `cos`, `kodo`, `azure` or `s3-compatible`; `None`
    /// when Stowage does not support the vendor.
    pub stowage: Option<String>,
    /// `current` (today's start reference) or `legacy` (only older docs).
    pub listed: String,
    pub note: Option<String>,
    #[serde(rename = "region", default)]
    pub regions: Vec<AgoraRegion>,
}

/// One `storageConfig.region` code of a vendor.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgoraRegion {
    pub code: u32,
    /// Agora's own label (`US_EAST_1`, `CN_Hangzhou`).
    pub label: String,
    /// The vendor's region id; `None` when the code is explicitly unknown.
    pub id: Option<String>,
    /// Why the code cannot be mapped.
    pub unknown: Option<String>,
}

impl AgoraRegion {
    /// Agora gives labels, not region ids: every mapping is an inference from the label.
    pub fn inferred(&self) -> bool {
        self.id.is_some()
    }
}

/// Which store an Agora vendor code becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgoraTarget {
    Vendor(Vendor),
    /// Vendor 11: any S3-compatible server at `extensionParams.endpoint`.
    S3Compatible,
    /// Vendor 5: Azure Blob (no region tables: one endpoint per storage account).
    Azure,
    /// Vendor 6: Google Cloud Storage (no region tables: one global endpoint).
    Gcs,
}

pub fn agora_table() -> &'static AgoraTable {
    static TABLE: OnceLock<AgoraTable> = OnceLock::new();
    TABLE.get_or_init(|| parse_embedded("agora.toml", AGORA_TOML))
}

impl AgoraVendor {
    /// The store this vendor becomes, or an error naming the vendor when Stowage lacks it.
    pub fn target(&self) -> Result<AgoraTarget> {
        match self.stowage.as_deref() {
            Some("s3-compatible") => Ok(AgoraTarget::S3Compatible),
            Some("azure") => Ok(AgoraTarget::Azure),
            Some("gcs") => Ok(AgoraTarget::Gcs),
            Some(v) => Ok(AgoraTarget::Vendor(v.parse()?)),
            None => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "Agora vendor {} ({}) is not supported by Stowage, which stores to {}; move the recording to one of those vendors",
                    self.code,
                    self.name,
                    supported_vendors()
                ),
            )),
        }
    }

    /// The region code `code` of this vendor, mapped to the vendor's table.
    pub fn region(&self, code: i64) -> Result<(&AgoraRegion, &'static Region)> {
        let Some(entry) = self.regions.iter().find(|r| i64::from(r.code) == code) else {
            return Err(self.region_out_of_range(code));
        };
        let Some(id) = entry.id.as_deref() else {
            let reason = entry.unknown.as_deref().unwrap_or("no region id is known");
            return Err(Error::invalid_input(format!(
                "Agora region code {code} ({}) of {} cannot be mapped: {reason}. Give the bucket's region id yourself (--vendor/--region)",
                entry.label, self.name
            )));
        };
        let AgoraTarget::Vendor(vendor) = self.target()? else {
            return Err(self.region_out_of_range(code));
        };
        Ok((entry, vendor.region(id)?))
    }

    fn region_out_of_range(&self, code: i64) -> Error {
        let codes: Vec<String> = self.regions.iter().map(|r| r.code.to_string()).collect();
        let valid = if codes.is_empty() {
            "it takes no region code (use 0)".to_string()
        } else {
            format!("its codes are {}", codes.join(", "))
        };
        Error::invalid_input(format!(
            "Agora region code {code} is not in the {} table: {valid}. Check storageConfig.region",
            self.name
        ))
    }
}

fn supported_vendors() -> String {
    agora_table()
        .vendors
        .iter()
        .filter(|v| v.stowage.is_some())
        .map(|v| format!("{} ({})", v.name, v.code))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The vendor with Agora code `code`.
pub fn agora_vendor(code: i64) -> Result<&'static AgoraVendor> {
    let table = agora_table();
    table
        .vendors
        .iter()
        .find(|v| i64::from(v.code) == code)
        .ok_or_else(|| {
            let known: Vec<String> = table
                .vendors
                .iter()
                .map(|v| format!("{} {}", v.code, v.name))
                .collect();
            Error::invalid_input(format!(
                "unknown Agora vendor code {code}; Agora documents {}. Check storageConfig.vendor",
                known.join(", ")
            ))
        })
}

/// A parsed and checked `storageConfig`, in Stowage's terms.
#[derive(Debug, Clone)]
pub struct AgoraStorage {
    pub vendor_code: u32,
    pub vendor_name: String,
    pub target: AgoraTarget,
    /// The bucket's region (absent for vendors 5 and 11, whose region is ignored).
    pub region: Option<ResolvedRegion>,
    pub bucket: String,
    /// Debug output redacts the secret and the token.
    pub credentials: Credentials,
    /// When the STS token expires (Unix seconds).
    pub sts_expiration: Option<i64>,
    /// The key prefix the recorder writes under: `directory1/directory2/`, or empty.
    pub prefix: String,
    /// `extensionParams.sse` (`kms` or `aes256`, Amazon S3 only).
    pub sse: Option<String>,
    /// `extensionParams.tag` (Alibaba and Amazon S3).
    pub tag: Option<String>,
    /// `extensionParams.endpoint` (vendor 11).
    pub endpoint: Option<String>,
    /// Where the recording lands: `s3://bucket/prefix/`, `oss://…`, `cos://…`, `kodo://…`,
    /// `az://container/prefix/`.
    pub url: StorageUrl,
}

impl AgoraStorage {
    /// The S3-compatible preset the S3 adapter needs for this vendor (`obs`, `bos`, `ks3`, and
    /// `gcs` for vendor 6 with HMAC keys): their recordings are `s3://` URLs reached through
    /// the preset's endpoint.
    pub fn s3_preset(&self) -> Option<Vendor> {
        match self.target {
            AgoraTarget::Vendor(v @ (Vendor::Obs | Vendor::Bos | Vendor::Ks3)) => Some(v),
            AgoraTarget::Gcs if self.url.scheme == Scheme::S3 => Some(Vendor::Gcs),
            _ => None,
        }
    }

    /// Vendor 6: which of GCS's APIs the recording goes through, and why.
    pub fn gcs_api(&self) -> Option<&'static str> {
        if self.target != AgoraTarget::Gcs {
            return None;
        }
        Some(if self.url.scheme == Scheme::S3 {
            "GCS's XML API (S3-compatible, SigV4 at storage.googleapis.com): accessKey/secretKey are HMAC keys, which sign only the XML API"
        } else {
            "GCS's JSON API: secretKey is a service-account key (its JSON or its file), which the JSON API takes"
        })
    }
}

/// An Agora region code resolved to a vendor region.
#[derive(Debug, Clone)]
pub struct ResolvedRegion {
    pub code: u32,
    pub label: String,
    pub region: &'static Region,
}

impl AgoraStorage {
    /// Parses the `storageConfig` JSON; also accepts a whole `start` request body
    /// (`clientRequest.storageConfig`) or an object with a `storageConfig` member.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::invalid_input(format!(
                "the storageConfig is not valid JSON ({e}); it must be an object such as {{\"vendor\":1,\"region\":0,\"bucket\":\"…\",\"accessKey\":\"…\",\"secretKey\":\"…\"}}"
            ))
        })?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Self> {
        let obj = storage_object(value)?;
        let vendor_code = required_int(obj, "vendor")?;
        let vendor = agora_vendor(vendor_code)?;
        let target = vendor.target()?;
        let region_code = required_int(obj, "region")?;
        let region = match target {
            AgoraTarget::Vendor(_) => {
                let (entry, region) = vendor.region(region_code)?;
                Some(ResolvedRegion {
                    code: entry.code,
                    label: entry.label.clone(),
                    region,
                })
            }
            AgoraTarget::S3Compatible | AgoraTarget::Azure | AgoraTarget::Gcs => None,
        };
        let bucket = required_str(obj, "bucket")?;
        let access_key = required_str(obj, "accessKey")?;
        let secret_key = required_str(obj, "secretKey")?;
        let sts_token = optional_str(obj, "stsToken")?;
        if sts_token.is_some() && !matches!(vendor.code, 1..=3) {
            return Err(Error::invalid_input(format!(
                "storageConfig.stsToken is only accepted for vendors 1, 2 and 3 (Amazon S3, Alibaba, Tencent), not {} ({}); remove it and use a permanent key pair",
                vendor.code, vendor.name
            )));
        }
        let sts_expiration = optional_int(obj, "stsExpiration")?;
        let prefix = file_name_prefix(obj.get("fileNamePrefix"))?;
        let ext = extension_params(obj.get("extensionParams"), vendor)?;
        let url = storage_url(target, &bucket, &prefix, &secret_key)?;
        let credentials = Credentials::new(access_key, secret_key).with_session_token(sts_token);
        Ok(AgoraStorage {
            vendor_code: vendor.code,
            vendor_name: vendor.name.clone(),
            target,
            region,
            bucket,
            credentials,
            sts_expiration,
            prefix,
            sse: ext.sse,
            tag: ext.tag,
            endpoint: ext.endpoint,
            url,
        })
    }
}

fn storage_object(value: &Value) -> Result<&Map<String, Value>> {
    let obj = value.as_object().ok_or_else(|| {
        Error::invalid_input("the storageConfig must be a JSON object, not an array or a value")
    })?;
    if let Some(inner) = obj.get("storageConfig") {
        return storage_object(inner);
    }
    if let Some(inner) = obj.get("clientRequest") {
        return storage_object(inner);
    }
    Ok(obj)
}

fn missing(key: &str) -> Error {
    Error::invalid_input(format!(
        "storageConfig.{key} is missing; Agora requires vendor, region, bucket, accessKey and secretKey"
    ))
}

fn required_int(obj: &Map<String, Value>, key: &str) -> Result<i64> {
    optional_int(obj, key)?.ok_or_else(|| missing(key))
}

fn optional_int(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            Error::invalid_input(format!(
                "storageConfig.{key} must be a whole number (as in \"{key}\": 1)"
            ))
        }),
    }
}

fn required_str(obj: &Map<String, Value>, key: &str) -> Result<String> {
    let s = optional_str(obj, key)?.ok_or_else(|| missing(key))?;
    if s.trim().is_empty() {
        return Err(Error::invalid_input(format!(
            "storageConfig.{key} is empty; fill it in"
        )));
    }
    Ok(s)
}

/// The value is never echoed: it may be a secret.
fn optional_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::invalid_input(format!(
            "storageConfig.{key} must be a string"
        ))),
    }
}

/// Checks `fileNamePrefix` the way Agora does (elements of `a-z A-Z 0-9` only, at most
/// [`MAX_PREFIX_LEN`] characters with the slashes) and returns `a/b/` (or empty).
pub fn file_name_prefix(value: Option<&Value>) -> Result<String> {
    let elements = match value {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(Error::invalid_input(
                "storageConfig.fileNamePrefix must be an array of strings, e.g. [\"directory1\",\"directory2\"]",
            ));
        }
    };
    let mut parts = Vec::with_capacity(elements.len());
    for (i, item) in elements.iter().enumerate() {
        let Some(part) = item.as_str() else {
            return Err(Error::invalid_input(format!(
                "storageConfig.fileNamePrefix[{i}] must be a string"
            )));
        };
        check_prefix_element(i, part)?;
        parts.push(part);
    }
    let joined = parts.join("/");
    if joined.len() > MAX_PREFIX_LEN {
        return Err(Error::invalid_input(format!(
            "storageConfig.fileNamePrefix is {} characters joined with `/`; Agora allows at most {MAX_PREFIX_LEN}. Shorten the directory names",
            joined.len()
        )));
    }
    Ok(if joined.is_empty() {
        joined
    } else {
        joined + "/"
    })
}

fn check_prefix_element(i: usize, part: &str) -> Result<()> {
    if part.is_empty() {
        return Err(Error::invalid_input(format!(
            "storageConfig.fileNamePrefix[{i}] is empty; remove it or give it a name"
        )));
    }
    if let Some(bad) = part.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(Error::invalid_input(format!(
            "storageConfig.fileNamePrefix[{i}] = `{part}` contains `{bad}`; Agora allows only letters a-z, A-Z and digits 0-9 in each element (no `/`, `_` or other symbols): split directories into separate elements"
        )));
    }
    Ok(())
}

#[derive(Default)]
struct Extension {
    sse: Option<String>,
    tag: Option<String>,
    endpoint: Option<String>,
}

fn extension_params(value: Option<&Value>, vendor: &AgoraVendor) -> Result<Extension> {
    let obj = match value {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(o),
        Some(_) => {
            return Err(Error::invalid_input(
                "storageConfig.extensionParams must be an object",
            ));
        }
    };
    let get = |k: &str| obj.map_or(Ok(None), |o| optional_str(o, k));
    let ext = Extension {
        sse: get("sse")?,
        tag: get("tag")?,
        endpoint: get("endpoint")?,
    };
    if let Some(sse) = &ext.sse {
        if vendor.code != 1 {
            return Err(Error::invalid_input(format!(
                "extensionParams.sse applies to Amazon S3 (vendor 1) only, not {}; remove it",
                vendor.name
            )));
        }
        if !matches!(sse.as_str(), "kms" | "aes256") {
            return Err(Error::invalid_input(format!(
                "extensionParams.sse = `{sse}`; Agora accepts `kms` or `aes256`"
            )));
        }
    }
    if ext.tag.is_some() && !matches!(vendor.code, 1 | 2) {
        return Err(Error::invalid_input(format!(
            "extensionParams.tag applies to Amazon S3 and Alibaba OSS only, not {}; remove it",
            vendor.name
        )));
    }
    check_endpoint(&ext, vendor)?;
    Ok(ext)
}

fn check_endpoint(ext: &Extension, vendor: &AgoraVendor) -> Result<()> {
    match (&ext.endpoint, vendor.code) {
        (None, 11) => Err(Error::invalid_input(
            "vendor 11 (S3-compatible storage) needs extensionParams.endpoint, the server's URL (e.g. https://s3.example.com)",
        )),
        (Some(_), code) if code != 11 => Err(Error::invalid_input(format!(
            "extensionParams.endpoint applies to vendor 11 (S3-compatible storage) only, not {}; remove it",
            vendor.name
        ))),
        (Some(ep), _) if !(ep.starts_with("https://") || ep.starts_with("http://")) => {
            Err(Error::invalid_input(format!(
                "extensionParams.endpoint = `{ep}` is not a URL; write it with its scheme, e.g. https://{ep}"
            )))
        }
        _ => Ok(()),
    }
}

fn storage_url(
    target: AgoraTarget,
    bucket: &str,
    prefix: &str,
    secret: &str,
) -> Result<StorageUrl> {
    let scheme = match target {
        AgoraTarget::Gcs if gcs_secret_is_hmac(secret) => Scheme::S3,
        AgoraTarget::Vendor(Vendor::S3 | Vendor::Obs | Vendor::Bos | Vendor::Ks3 | Vendor::Gcs)
        | AgoraTarget::S3Compatible => Scheme::S3,
        AgoraTarget::Vendor(Vendor::Oss) => Scheme::Oss,
        AgoraTarget::Vendor(Vendor::Cos) => Scheme::Cos,
        AgoraTarget::Vendor(Vendor::Kodo) => Scheme::Kodo,
        AgoraTarget::Azure => Scheme::Azure,
        AgoraTarget::Gcs => Scheme::Gcs,
    };
    StorageUrl::parse(&format!("{}://{bucket}/{prefix}", scheme.as_str()))
}

/// Whether a GCS secret is an HMAC secret (for the XML API) rather than a service-account
/// key, given as its JSON or as the path of its file (for the JSON API).
pub fn gcs_secret_is_hmac(secret: &str) -> bool {
    let s = secret.trim();
    !s.starts_with('{') && !std::path::Path::new(s).is_file()
}
