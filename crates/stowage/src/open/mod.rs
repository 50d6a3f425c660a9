//! The front door: a URL (or an Agora `storageConfig`) and [`Settings`] → an
//! [`OpenedBucket`]: the store, the key prefix, the endpoint chosen and why, and the
//! cross-region advice, as data.

mod configs;
mod region;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stowage_azure::AzureStore;
use stowage_core::{Error, ErrorKind, ObjectStore, Scheme, StorageUrl};
use stowage_cos::CosStore;
use stowage_fs::FsStore;
use stowage_gcs::GcsStore;
use stowage_kodo::KodoStore;
use stowage_oss::OssStore;
use stowage_region::{EndpointKind, Protocol, Region, Vendor};
use stowage_s3::S3Store;

use crate::placement::Placement;
use crate::settings::Settings;
use configs::Chosen;
pub(crate) use region::lookup_region;

/// A bucket, opened.
#[derive(Clone)]
pub struct OpenedBucket {
    /// The store; every call goes through it.
    pub store: Arc<dyn ObjectStore>,
    /// The URL it was opened from.
    pub url: StorageUrl,
    /// The key prefix the URL names inside the bucket (for a local directory opened with
    /// [`open`], empty: the directory is the bucket).
    pub prefix: String,
    /// The endpoint used, and why.
    pub endpoint: Endpoint,
    /// How the endpoint was selected; `None` for local directories, when no selection was
    /// asked for ([`Settings::wants_selection`]), or when the bucket's region is unknown.
    pub placement: Option<Placement>,
    /// What the caller should tell its operator; none of it stopped the opening.
    pub warnings: Vec<Warning>,
}

impl std::fmt::Debug for OpenedBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedBucket")
            .field("url", &self.url.to_string())
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl OpenedBucket {
    /// The Agora FAQ's advice when the uploader runs far from the bucket.
    pub fn cross_region(&self) -> Option<crate::placement::CrossRegion> {
        self.placement.as_ref()?.cross_region()
    }
}

/// The endpoint a bucket is reached through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its URL; `None` when the adapter builds its default host from the region.
    pub url: Option<String>,
    /// Why this one.
    pub why: EndpointWhy,
}

/// Why an endpoint was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointWhy {
    /// A local directory: no endpoint.
    Local,
    /// Given in the settings or the vendor's endpoint variable (or an S3 preset's).
    Explicit,
    /// The adapter's default host for the region (no selection asked for).
    Default,
    /// The selector's first candidate of this kind.
    Selected(EndpointKind),
    /// The fastest candidate that answered the latency probe.
    Probed(EndpointKind),
}

/// Something the operator should know that did not stop the opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The region is not in Stowage's tables; the host was built from the vendor's pattern
    /// (S3, OSS, COS). A region newer than the tables works; a misspelt one fails on DNS.
    UnknownRegion {
        /// The vendor.
        vendor: Vendor,
        /// The vendor's name (`Amazon S3`).
        vendor_name: String,
        /// The region as given.
        region: String,
        /// The regions the tables know.
        known: Vec<String>,
    },
}

/// The warning as one sentence, naming no command-line flag: a caller that has one for the
/// endpoint adds it after "give the endpoint yourself".
impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Warning::UnknownRegion {
            vendor_name,
            region,
            known,
            ..
        } = self;
        write!(
            f,
            "unknown {vendor_name} region `{region}` (not in Stowage's tables, which know {}); the host is built from the vendor's pattern. If it is misspelt, use one of those, or give the endpoint yourself",
            known.join(", ")
        )
    }
}

/// Why a bucket could not be opened. Messages name no command-line flag: a caller that
/// has flags adds them (see each variant).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A region a vendor without a host pattern (Kodo, the S3 presets) does not have.
    #[error("unknown {vendor_name} region `{region}`; the known regions are {}", known.join(", "))]
    UnknownRegion {
        /// The vendor.
        vendor: Vendor,
        /// The vendor's name.
        vendor_name: String,
        /// The region as given.
        region: String,
        /// The regions the tables know.
        known: Vec<String>,
    },
    /// Choosing the endpoint failed: where the uploader runs is not understood, or the
    /// selector refused.
    #[error("{0}")]
    Endpoint(Error),
    /// The bucket's region is needed to choose its endpoint and asking the bucket failed;
    /// giving the region skips the question.
    #[error(
        "the bucket's region is needed to choose its endpoint and asking {url} failed; give the region to skip the question. {source}"
    )]
    RegionDiscovery {
        /// The bucket asked.
        url: String,
        /// Why asking failed.
        source: Error,
    },
    /// Probing: no candidate endpoint answered.
    #[error("no endpoint answered the probe: {detail}")]
    NoEndpointAnswers {
        /// Which endpoints, and how each failed.
        detail: String,
    },
    /// The selector offered no endpoint at all; one must be given.
    #[error("the selector offered no endpoint; give one")]
    NoCandidate,
    /// The store could not be opened (credentials, CA bundle, a missing directory, …).
    #[error("{0}")]
    Store(Error),
}

impl OpenError {
    /// True when choosing the endpoint failed, before any store was opened: not a
    /// credentials problem.
    pub fn is_endpoint_choice(&self) -> bool {
        !matches!(self, OpenError::Store(_))
    }

    /// The error as the store crates' [`Error`] (kind and fix kept for `Store`).
    pub fn into_error(self) -> Error {
        let text = self.to_string();
        match self {
            OpenError::Store(e) | OpenError::Endpoint(e) => e,
            OpenError::RegionDiscovery { source, .. } => Error::new(source.kind().clone(), text),
            _ => Error::new(ErrorKind::InvalidInput, text),
        }
    }
}

impl From<Error> for OpenError {
    fn from(e: Error) -> Self {
        OpenError::Store(e)
    }
}

/// The one place a URL scheme is mapped to the vendor whose region tables apply. Azure has
/// no region tables (one endpoint per storage account), nor has GCS (one global endpoint),
/// nor a directory.
pub fn vendor_of_scheme(scheme: Scheme) -> Option<Vendor> {
    match scheme {
        Scheme::File | Scheme::Azure | Scheme::Gcs => None,
        Scheme::S3 => Some(Vendor::S3),
        Scheme::Oss => Some(Vendor::Oss),
        Scheme::Cos => Some(Vendor::Cos),
        Scheme::Kodo => Some(Vendor::Kodo),
    }
}

/// Opens the bucket a URL names (`s3://`, `oss://`, `cos://`, `kodo://`, `az://`, `gs://`,
/// `file://` or a plain path), with the endpoint chosen for where the uploader runs.
/// A local directory is the bucket itself and must exist unless
/// [`Settings::create_local`].
pub async fn open(url: &str, settings: &Settings) -> Result<OpenedBucket, OpenError> {
    open_url(&StorageUrl::parse(url)?, settings).await
}

/// [`open`] with a parsed URL.
pub async fn open_url(url: &StorageUrl, settings: &Settings) -> Result<OpenedBucket, OpenError> {
    if let Some(root) = url.local_path() {
        return open_dir(url, root, String::new(), settings).await;
    }
    let mut warnings = Vec::new();
    let placement = match settings.wants_selection() {
        true => region::placement_of(url, settings, &mut warnings).await?,
        false => {
            region::check_region(url, settings, &mut warnings)?;
            None
        }
    };
    let chosen = placement.as_ref().and_then(|p| {
        p.chosen.as_ref().map(|candidate| Chosen {
            candidate,
            region: p.region,
        })
    });
    let endpoint = endpoint_of(url, settings, chosen)?;
    let store = open_remote(url, settings, chosen).await?;
    Ok(OpenedBucket {
        store,
        url: url.clone(),
        prefix: url.key.clone(),
        endpoint,
        placement,
        warnings,
    })
}

/// Opens the bucket a URL lies in and names the key (object or prefix) below its root. A
/// local path is split at its directory bucket's root (see [`split_local`]).
pub async fn locate(url: &StorageUrl, settings: &Settings) -> Result<OpenedBucket, OpenError> {
    match url.local_path() {
        Some(path) => {
            let (root, key) = split_local(&path);
            open_dir(url, root, key, settings).await
        }
        None => open_url(url, settings).await,
    }
}

async fn open_dir(
    url: &StorageUrl,
    root: PathBuf,
    prefix: String,
    settings: &Settings,
) -> Result<OpenedBucket, OpenError> {
    let store = match settings.create_local {
        true => FsStore::create(&root).await?,
        false => FsStore::open(&root).await?,
    };
    Ok(OpenedBucket {
        store: Arc::new(store),
        url: url.clone(),
        prefix,
        endpoint: Endpoint {
            url: None,
            why: EndpointWhy::Local,
        },
        placement: None,
        warnings: Vec::new(),
    })
}

/// Which endpoint the store is configured with, and why.
fn endpoint_of(
    url: &StorageUrl,
    settings: &Settings,
    chosen: Option<Chosen>,
) -> Result<Endpoint, OpenError> {
    if let Some(ep) = region::explicit_endpoint(url, settings)? {
        return Ok(Endpoint {
            url: Some(ep),
            why: EndpointWhy::Explicit,
        });
    }
    Ok(match chosen {
        Some(c) => Endpoint {
            url: Some(c.candidate.url.clone()),
            why: match settings.probe_endpoints {
                true => EndpointWhy::Probed(c.candidate.kind),
                false => EndpointWhy::Selected(c.candidate.kind),
            },
        },
        None => Endpoint {
            url: None,
            why: EndpointWhy::Default,
        },
    })
}

async fn open_remote(
    url: &StorageUrl,
    s: &Settings,
    chosen: Option<Chosen<'_>>,
) -> Result<Arc<dyn ObjectStore>, OpenError> {
    let bucket = &url.bucket;
    // Read once here, not in each config builder (they also serve endpoint look-ups).
    let ca_bundle = s.ca()?;
    Ok(match url.scheme {
        Scheme::File => {
            let e = Error::invalid_input(format!("{url} is a local directory, not a bucket"));
            return Err(e.into());
        }
        Scheme::S3 => {
            let cfg = configs::s3_config(bucket, s, chosen)?;
            Arc::new(S3Store::new(stowage_s3::S3Config { ca_bundle, ..cfg }).await?)
        }
        Scheme::Oss => {
            let cfg = configs::oss_config(bucket, s, chosen);
            Arc::new(OssStore::new(stowage_oss::OssConfig { ca_bundle, ..cfg })?)
        }
        Scheme::Cos => {
            let cfg = configs::cos_config(bucket, s, chosen);
            Arc::new(CosStore::new(stowage_cos::CosConfig { ca_bundle, ..cfg })?)
        }
        Scheme::Kodo => {
            let cfg = configs::kodo_config(bucket, s, chosen);
            Arc::new(KodoStore::new(stowage_kodo::KodoConfig { ca_bundle, ..cfg }).await?)
        }
        Scheme::Azure => {
            let cfg = configs::azure_config(bucket, s)?;
            Arc::new(AzureStore::new(stowage_azure::AzureConfig {
                ca_bundle,
                ..cfg
            })?)
        }
        Scheme::Gcs => {
            let cfg = configs::gcs_config(bucket, s)?;
            Arc::new(GcsStore::new(stowage_gcs::GcsConfig { ca_bundle, ..cfg })?)
        }
    })
}

/// The region ids of `vendor`'s table, in its order: what messages list as known.
///
/// ```
/// let known = stowage::known_regions(stowage::Vendor::S3);
/// assert!(known.iter().any(|r| r == "us-east-1"));
/// ```
pub fn known_regions(vendor: Vendor) -> Vec<String> {
    vendor
        .table()
        .regions
        .iter()
        .map(|r: &Region| r.id.clone())
        .collect()
}

/// The vendor whose tables apply: the URL's, or with an S3 preset the preset's vendor
/// reached through its S3-compatible API.
fn vendor_of(scheme: Scheme, settings: &Settings) -> Option<(Vendor, Protocol)> {
    match (scheme, settings.s3_preset) {
        (Scheme::S3, Some(preset)) => Some((preset, Protocol::S3Compatible)),
        _ => vendor_of_scheme(scheme).map(|v| (v, Protocol::Native)),
    }
}

/// Splits a local path into the directory bucket it lies in and the key below it, so that
/// `file:///srv/bucket/rec/demo/x.ts` names key `rec/demo/x.ts` of bucket `/srv/bucket`, the
/// way `s3://bucket/rec/demo/x.ts` does (and the object's stored checksums are found).
/// The bucket is the nearest directory at or above the path that holds a directory bucket's
/// state (`.stowage/meta/`, made by its first write; a recording spool's `.stowage/` holds
/// only journals and is not mistaken for one). Without one, an existing file's directory
/// is its bucket, and any other path (a directory, or one not made yet) is a bucket itself.
pub fn split_local(path: &Path) -> (PathBuf, String) {
    let marked = path.ancestors().find(|dir| {
        dir.join(stowage_fs::INTERNAL_DIR)
            .join(stowage_fs::META_DIR)
            .is_dir()
    });
    let root = match marked {
        Some(root) => root.to_path_buf(),
        None if path.is_file() => path.parent().unwrap_or(path).to_path_buf(),
        None => path.to_path_buf(),
    };
    let key = path
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    (root, key)
}

/// `key/rest`, leaving out empty parts.
pub fn join_key(key: &str, rest: &str) -> String {
    [key.trim_matches('/'), rest.trim_matches('/')]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}
