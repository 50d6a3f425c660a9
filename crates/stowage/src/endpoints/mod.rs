//! Which endpoints to use for a bucket, in order, with the Agora FAQ's cross-region advice,
//! the Agora REST domains to call, and optionally a latency probe: as data (and JSON).

mod text;

use std::time::Duration;

use serde_json::{Value, json};
use stowage_core::{Error, Result, Scheme, StorageUrl};
use stowage_region::agora::AgoraStorage;
use stowage_region::{
    AgoraTarget, Geography, Origin, Prober, Protocol, Ranked, Region, SelectRequest, Selection,
    Vendor, rest, s3_preset, select,
};

use crate::open::{open_url, vendor_of_scheme};
use crate::settings::Settings;
pub use text::table_text;

/// How the bucket is named.
#[derive(Debug, Clone)]
pub enum Bucket {
    /// A vendor and one of its region ids.
    Region {
        /// The vendor.
        vendor: Vendor,
        /// The region id.
        region: String,
    },
    /// An Agora `storageConfig` (or `start` request) as JSON.
    Agora(String),
    /// A bucket URL whose region is asked of the bucket.
    Discover(String),
}

/// What to select for.
#[derive(Debug, Clone)]
pub struct Query {
    /// The bucket.
    pub bucket: Bucket,
    /// Where the uploader runs (`vendor:region`, a region id, or a geography).
    pub from: Option<String>,
    /// The bucket's name, to show its own hosts (COS: name-APPID).
    pub bucket_name: Option<String>,
    /// Through the vendor's S3-compatible API instead of its native one.
    pub s3_compatible: bool,
    /// Acceleration is enabled on the bucket.
    pub accelerate: bool,
    /// Offer the internal endpoint.
    pub allow_internal: bool,
    /// Extra endpoints to consider first.
    pub custom: Vec<String>,
    /// Time each endpoint, giving up after this long.
    pub probe: Option<Duration>,
}

/// The selection, with what the bucket is and the Agora REST domains.
#[derive(Debug, Clone)]
pub struct Report {
    /// The bucket's vendor.
    pub vendor: Vendor,
    /// The bucket's region.
    pub region: &'static Region,
    /// What the `storageConfig` said (no secrets), when the bucket came from one.
    pub agora: Option<Value>,
    /// The candidates, in order, and the advice.
    pub selection: Selection,
    /// The candidates timed, fastest first, when probed.
    pub ranked: Option<Vec<Ranked>>,
    /// Agora's REST domains, in the order to try them.
    pub domains: Vec<String>,
    /// Whether the caller is in mainland China (Agora's REST domain order depends on it).
    pub caller_in_mainland: bool,
}

/// Selects (and probes) the endpoints `query` asks about.
pub async fn endpoints(query: &Query, settings: &Settings) -> Result<Report> {
    let (vendor, region, bucket, agora, protocol) = target(query, settings).await?;
    let from = match &query.from {
        Some(f) => Origin::parse(f, vendor)?,
        None => Origin::Unknown,
    };
    let caller_in_mainland = from.geography() == Some(Geography::MainlandChina);
    let req = SelectRequest {
        vendor,
        region,
        bucket,
        from,
        allow_internal: query.allow_internal,
        accelerate: query.accelerate,
        protocol,
        custom: query.custom.clone(),
    };
    let selection = select(&req)?;
    let ranked = match query.probe {
        Some(timeout) => {
            let prober = Prober::new(timeout, Duration::from_secs(60))?;
            Some(prober.rank(&selection.candidates).await)
        }
        None => None,
    };
    Ok(Report {
        vendor,
        region,
        agora,
        selection,
        ranked,
        domains: rest::domains(caller_in_mainland, Some(region)),
        caller_in_mainland,
    })
}

type Target = (
    Vendor,
    &'static Region,
    Option<String>,
    Option<Value>,
    Protocol,
);

async fn target(query: &Query, settings: &Settings) -> Result<Target> {
    let protocol = match query.s3_compatible {
        true => Protocol::S3Compatible,
        false => Protocol::Native,
    };
    let name = query.bucket_name.clone();
    match &query.bucket {
        Bucket::Region { vendor, region } => {
            Ok((*vendor, vendor.region(region)?, name, None, protocol))
        }
        Bucket::Agora(json) => agora_target(json, name, protocol),
        Bucket::Discover(url) => discover_target(url, name, protocol, settings).await,
    }
}

fn agora_target(json: &str, name: Option<String>, protocol: Protocol) -> Result<Target> {
    let cfg = AgoraStorage::from_json(json)?;
    if cfg.target == AgoraTarget::Azure {
        return Err(Error::invalid_input(format!(
            "vendor {} ({}) is reached at its storage account's own endpoint, https://{}.blob.core.windows.net: Azure has no regional endpoints to choose from",
            cfg.vendor_code, cfg.vendor_name, cfg.credentials.access_key_id
        )));
    }
    if let Some(api) = cfg.gcs_api() {
        return Err(Error::invalid_input(format!(
            "vendor {} ({}) is reached at Google's one global endpoint, {}, through {api}: Google Cloud Storage has no regional endpoints to choose from",
            cfg.vendor_code,
            cfg.vendor_name,
            stowage_gcs::config::DEFAULT_ENDPOINT
        )));
    }
    // Huawei, Baidu and Kingsoft are reached through their S3-compatible APIs.
    let protocol = match cfg.s3_preset() {
        Some(_) => Protocol::S3Compatible,
        None => protocol,
    };
    let (AgoraTarget::Vendor(vendor), Some(resolved)) = (cfg.target, &cfg.region) else {
        let endpoint = cfg.endpoint.as_deref().unwrap_or("?");
        return Err(Error::invalid_input(format!(
            "vendor {} ({}) is S3-compatible storage at {endpoint}: there is no region table to choose from; use that endpoint as it is",
            cfg.vendor_code, cfg.vendor_name,
        )));
    };
    let agora = json!({
        "vendor": cfg.vendor_code,
        "vendor_name": cfg.vendor_name,
        "region_code": resolved.code,
        "region_label": resolved.label,
        "region_id_inferred": true,
        "url": cfg.url.to_string(),
        "prefix": cfg.prefix,
        "sts_token": cfg.credentials.session_token().is_some(),
    });
    let name = name.or(Some(cfg.bucket));
    Ok((vendor, resolved.region, name, Some(agora), protocol))
}

async fn discover_target(
    url: &str,
    name: Option<String>,
    protocol: Protocol,
    settings: &Settings,
) -> Result<Target> {
    let url = StorageUrl::parse(url)?;
    let Some(vendor) = vendor_of_scheme(url.scheme) else {
        return Err(Error::invalid_input(match (url.local_path(), url.scheme) {
            (Some(_), _) => format!("{url} is a local directory: it has no region"),
            (None, Scheme::Gcs) => format!(
                "{url} is a Google Cloud Storage bucket: GCS has one global endpoint ({}), no regional endpoints to choose from",
                stowage_gcs::config::DEFAULT_ENDPOINT
            ),
            (None, _) => format!(
                "{url} is an Azure container: Azure has one endpoint per storage account (https://<account>.blob.core.windows.net), no regional endpoints to choose from"
            ),
        }));
    };
    let store = open_url(&url, settings)
        .await
        .map_err(|e| e.into_error())?
        .store;
    let Some(region) = stowage_region::discover_region(store.as_ref(), vendor).await? else {
        return Err(Error::invalid_input(format!(
            "{} does not report its region; give the vendor ({vendor}) and the region",
            store.name()
        )));
    };
    let name = name.or(Some(url.bucket.clone()));
    Ok((vendor, region, name, None, protocol))
}

impl Report {
    /// Everything, as JSON.
    pub fn json(&self) -> Value {
        let endpoints = match &self.ranked {
            Some(r) => serde_json::to_value(r),
            None => serde_json::to_value(&self.selection.candidates),
        }
        .unwrap_or(Value::Null);
        json!({
            "vendor": self.vendor,
            "region": self.selection.region,
            "agora": self.agora,
            "protocol": self.selection.protocol,
            "distance": self.selection.distance,
            "cross_region": self.selection.is_cross_region(),
            "endpoints": endpoints,
            "advice": self.selection.advice,
            "agora_rest": {
                "caller_in_mainland_china": self.caller_in_mainland,
                "domains": self.domains,
                "backoff_seconds": rest::BACKOFF.map(|d| d.as_secs()),
            },
            "s3_compatible": self.s3_settings(),
        })
    }

    fn s3_settings(&self) -> Value {
        match s3_preset(self.vendor) {
            Some(p) => json!({
                "settings": p.for_region(self.region),
                "list_version": p.list_version,
                "multipart_etag_is_md5": p.multipart_etag_is_md5,
                "bucket_name_may_differ": p.bucket_name_may_differ,
            }),
            None => Value::Null,
        }
    }
}

/// A vendor's table as JSON.
pub fn table_json(vendor: Vendor) -> Value {
    let table = vendor.table();
    json!({
        "vendor": vendor,
        "name": table.name,
        "discovery": table.discovery,
        "notes": table.notes,
        "services": table.services,
        "regions": table.regions,
    })
}
