//! The bucket's region (configured, read from the endpoint, or asked of the bucket), and
//! the placement selected for it. A region the tables lack is a warning where the vendor's
//! hosts follow a pattern the adapter builds (S3, OSS, COS), an error elsewhere.

use stowage_core::{Scheme, StorageUrl};
use stowage_region::{Protocol, Region, Vendor};

use super::configs::{azure_config, cos_config, gcs_config, kodo_config, oss_config, s3_config};
use super::{OpenError, Warning, known_regions, open_remote, vendor_of};
use crate::placement::{self, Placement, Target};
use crate::settings::Settings;

/// `vendor`'s region `id`, or [`OpenError::UnknownRegion`] naming the known ones.
pub(crate) fn lookup_region(vendor: Vendor, id: &str) -> Result<&'static Region, OpenError> {
    vendor.region(id).map_err(|_| OpenError::UnknownRegion {
        vendor,
        vendor_name: vendor.table().name.clone(),
        region: id.trim().to_string(),
        known: known_regions(vendor),
    })
}

/// A region the tables lack: for a vendor whose hosts follow a pattern, a warning and no
/// table entry; otherwise the error.
fn unknown_region(
    vendor: Vendor,
    protocol: Protocol,
    id: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Option<&'static Region>, OpenError> {
    let e = match lookup_region(vendor, id) {
        Ok(region) => return Ok(Some(region)),
        Err(e) => e,
    };
    let patterned = matches!(vendor, Vendor::S3 | Vendor::Oss | Vendor::Cos);
    match (e, patterned && protocol == Protocol::Native) {
        (
            OpenError::UnknownRegion {
                vendor,
                vendor_name,
                region,
                known,
            },
            true,
        ) => {
            warnings.push(Warning::UnknownRegion {
                vendor,
                vendor_name,
                region,
                known,
            });
            Ok(None)
        }
        (e, _) => Err(e),
    }
}

/// Without selection: a region the tables lack is named now (the adapter builds the host
/// from it, so a misspelling would only show up later as a DNS failure).
pub(super) fn check_region(
    url: &StorageUrl,
    settings: &Settings,
    warnings: &mut Vec<Warning>,
) -> Result<(), OpenError> {
    let Some((vendor, protocol)) = vendor_of(url.scheme, settings) else {
        return Ok(());
    };
    if explicit_endpoint(url, settings)?.is_some() {
        return Ok(());
    }
    if let Some(id) = configured_region(url, settings) {
        unknown_region(vendor, protocol, &id, warnings)?;
    }
    Ok(())
}

/// The selector's verdict for a bucket URL, or `None` when its region cannot be known.
pub(super) async fn placement_of(
    url: &StorageUrl,
    settings: &Settings,
    warnings: &mut Vec<Warning>,
) -> Result<Option<Placement>, OpenError> {
    let Some((vendor, protocol)) = vendor_of(url.scheme, settings) else {
        return Ok(None);
    };
    let explicit = explicit_endpoint(url, settings)?;
    if settings.probe_endpoints
        && let Some(ep) = &explicit
    {
        placement::require_alive(ep, settings.ca()?.as_ref()).await?;
    }
    let found = bucket_region(
        url,
        vendor,
        protocol,
        settings,
        explicit.is_some(),
        warnings,
    );
    let Some(region) = found.await? else {
        return Ok(None);
    };
    let target = Target {
        vendor,
        protocol,
        region,
        bucket: &url.bucket,
        explicit: explicit.as_deref(),
    };
    placement::place(&target, settings).await.map(Some)
}

/// The endpoint the caller named: the setting, or the vendor's endpoint variable (which an
/// S3 preset overrides with its own, so there only the setting counts).
pub(super) fn explicit_endpoint(
    url: &StorageUrl,
    s: &Settings,
) -> Result<Option<String>, OpenError> {
    let bucket = &url.bucket;
    Ok(match url.scheme {
        Scheme::S3 if s.s3_preset.is_some() => s.endpoint.clone(),
        Scheme::S3 => s3_config(bucket, s, None)?.endpoint,
        Scheme::Oss => oss_config(bucket, s, None).endpoint,
        Scheme::Cos => cos_config(bucket, s, None).endpoint,
        Scheme::Kodo => kodo_config(bucket, s, None).endpoint,
        Scheme::Azure => azure_config(bucket, s)?.endpoint,
        Scheme::Gcs => gcs_config(bucket, s)?.endpoint,
        Scheme::File => None,
    })
}

/// The bucket's region: configured, the vendor's region variable, the explicit endpoint's
/// host; else, for S3 and Kodo (one cheap request that needs no region), asked of the
/// bucket. OSS and COS cannot even address a bucket without its region.
async fn bucket_region(
    url: &StorageUrl,
    vendor: Vendor,
    protocol: Protocol,
    settings: &Settings,
    explicit: bool,
    warnings: &mut Vec<Warning>,
) -> Result<Option<&'static Region>, OpenError> {
    let id = match configured_region(url, settings) {
        Some(id) => id,
        None if explicit => return Ok(None),
        None => match vendor {
            Vendor::S3 | Vendor::Kodo => return discover(url, vendor, settings).await,
            Vendor::Oss | Vendor::Cos | Vendor::Obs | Vendor::Bos | Vendor::Ks3 | Vendor::Gcs => {
                return Ok(None);
            }
        },
    };
    match vendor.region(&id) {
        Ok(region) => Ok(Some(region)),
        // A region the tables do not know, behind an endpoint the caller gave (a local
        // server, a private cloud): nothing to select, nothing to warn about.
        Err(_) if explicit => Ok(None),
        Err(_) => unknown_region(vendor, protocol, &id, warnings),
    }
}

fn configured_region(url: &StorageUrl, s: &Settings) -> Option<String> {
    let bucket = &url.bucket;
    match url.scheme {
        Scheme::S3 => s.region.clone().or_else(|| {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        }),
        Scheme::Oss => {
            let cfg = oss_config(bucket, s, None);
            let from_endpoint = cfg
                .endpoint
                .as_deref()
                .and_then(stowage_oss::config::region_of_endpoint);
            cfg.region.or(from_endpoint)
        }
        Scheme::Cos => {
            let cfg = cos_config(bucket, s, None);
            let from_endpoint = cfg
                .endpoint
                .as_deref()
                .and_then(stowage_cos::config::region_of_endpoint);
            cfg.region.or(from_endpoint)
        }
        Scheme::Kodo => s.region.clone(),
        Scheme::File | Scheme::Azure | Scheme::Gcs => None,
    }
}

/// Asks the bucket where it is, through the adapter's default endpoint.
async fn discover(
    url: &StorageUrl,
    vendor: Vendor,
    settings: &Settings,
) -> Result<Option<&'static Region>, OpenError> {
    let store = open_remote(url, settings, None).await?;
    stowage_region::discover_region(store.as_ref(), vendor)
        .await
        .map_err(|source| OpenError::RegionDiscovery {
            url: url.to_string(),
            source,
        })
}
