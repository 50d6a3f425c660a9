//! Tencent COS store for Stowage on COS's XML API: `q-sign-algorithm=sha1` signing (through
//! reqsign-tencent-cos), STS tokens; `<bucket>-<appid>.cos.<region>.myqcloud.com` hosts, the
//! accelerate host, custom domains, path style for local servers, and the `.tencentcos.cn`
//! fallback on redirects the official SDK makes; every upload checked against the CRC-64/XZ
//! COS returns (`x-cos-hash-crc64ecma`): PUT Object (also sent with `Content-MD5`), each
//! part, and the completed multipart object (predicted from the parts' CRCs).
//!
//! COS's GET Bucket listing is eventually consistent (a just-written object may be missing
//! from it); HEAD and GET are not. Callers that confirm uploads (the verifier) HEAD any
//! expected key a listing lacks before calling it missing.
//!
//! The store is `stowage-http`'s [`XmlStore`] engine; this crate is COS's part of it
//! ([`Cos`]): configuration, signing, addressing and its fallback host, the error table and
//! COS's quirks. Requests go out through reqwest (rustls); bodies are streamed from files;
//! each request is retried on throttling, 5xx and broken connections.

pub mod config;
mod error;
mod sign;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use stowage_core::{Credentials, Error, Hasher, ObjectStore, Result};
use stowage_http::engine::body;
use stowage_http::errors::from_transport;
use stowage_http::reply::Vendor;
use stowage_http::{Call, Dialect, Listing, Opened, Quirks, XmlStore, XmlVendor};

pub use config::{Addressing, CosConfig, validate_bucket};

use crate::sign::Signer;

/// Smallest part but the last (COS: 1 MB).
pub const MIN_PART: u64 = 1024 * 1024;

/// A COS bucket: the shared XML-API engine with COS's part.
pub type CosStore = XmlStore<Cos>;

/// COS's part of the engine: how it signs, where its requests go (and the `.tencentcos.cn`
/// fallback), its errors.
pub struct Cos {
    /// The configuration, to build the hosts of another region.
    cfg: CosConfig,
    credentials: Credentials,
    signer: Signer,
    /// Set once a redirect without `x-cos-request-id` moved requests to the fallback host.
    use_fallback: AtomicBool,
}

impl fmt::Debug for Cos {
    // The credentials' own Debug hides the secret and token; nothing else is sensitive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cos")
            .field("credentials", &self.credentials)
            .field("use_fallback", &self.use_fallback)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl XmlVendor for Cos {
    type Config = CosConfig;
    type Place = Place;
    type Location = Option<String>;

    const SCHEME: &'static str = "cos";
    /// COS (its answers carry `x-cos-` headers), its CRC-64 and user-metadata headers.
    const DIALECT: Dialect = Dialect {
        vendor: Vendor {
            name: "COS",
            article: "a",
            mark: "x-cos-",
        },
        crc64_header: "x-cos-hash-crc64ecma",
        meta_prefix: "x-cos-meta-",
    };
    const QUIRKS: Quirks = Quirks {
        min_part: MIN_PART,
        listing: Listing::Marker,
        listed_parts_carry_crc: false,
        upper_case_part_etags: false,
        probe_bodiless_head_errors: true,
    };

    /// Fails on a bucket name without `-<APPID>`, a missing region (when the host needs
    /// it) or missing credentials, before any request.
    fn open(cfg: CosConfig) -> Result<Opened<Cos>> {
        validate_bucket(&cfg.bucket)?;
        cfg.check_endpoint()?;
        let credentials = cfg.resolve_credentials()?;
        Ok(Opened {
            bucket: cfg.bucket.clone(),
            place: Place::for_config(&cfg)?,
            max_attempts: cfg.max_attempts,
            vendor: Cos {
                signer: Signer::new(&credentials),
                credentials,
                use_fallback: AtomicBool::new(false),
                cfg,
            },
        })
    }

    fn region_of(place: &Place) -> Option<&str> {
        place.region.as_deref()
    }

    /// On `x-cos-bucket-region` (a redirect or a NoSuchBucket): a regional COS host becomes
    /// the same host of the bucket's region (scheme, port and domain kept); any other
    /// endpoint is the user's own and stays.
    fn place_for_region(&self, region: &str) -> Option<Place> {
        let mut cfg = self.cfg.clone();
        cfg.region = Some(region.to_string());
        if let Some(ep) = &cfg.endpoint
            && let Some(old) = config::region_of_endpoint(ep)
        {
            cfg.endpoint = Some(ep.replacen(&format!(".{old}."), &format!(".{region}."), 1));
        }
        Place::for_config(&cfg).ok()
    }

    /// The new region's hosts are tried before any fallback.
    fn followed(&self) {
        self.use_fallback.store(false, Ordering::Relaxed);
    }

    /// The configured URL prefix, or its `.tencentcos.cn` twin after a redirect without
    /// `x-cos-request-id`.
    fn base(&self, place: &Place) -> String {
        match (&place.fallback, self.use_fallback.load(Ordering::Relaxed)) {
            (Some(f), true) => f.clone(),
            _ => place.base.clone(),
        }
    }

    /// A redirect without `x-cos-request-id` on a `myqcloud.com` host (not COS answering)
    /// moves this and later requests to the `.tencentcos.cn` host, as the official SDK does.
    async fn send(
        &self,
        store: &CosStore,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Response> {
        let resp = self.send_signed(store, call, hasher.clone()).await?;
        let status = resp.status().as_u16();
        let place = store.place();
        if matches!(status, 301 | 302 | 307)
            && !resp.headers().contains_key("x-cos-request-id")
            && place.fallback.is_some()
            && !self.use_fallback.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                from = %place.base,
                to = store.base(),
                "redirect without x-cos-request-id: switching to the tencentcos.cn host"
            );
            return self.send_signed(store, call, hasher).await;
        }
        Ok(resp)
    }

    fn error_from(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        error::from_response(status, headers, body)
    }

    /// A GET URL signed in its query (COS documents no upper limit on its lifetime),
    /// addressed like every request of this store (its host, accelerate host, custom
    /// domain or path style, and the `.tencentcos.cn` twin once switched to it).
    async fn signed_get_url(
        &self,
        store: &CosStore,
        key: &str,
        expires: Duration,
    ) -> Result<String> {
        stowage_core::check_signed_url_expiry(&store.name(), expires, None)?;
        let url = store.url(&Call::new(reqwest::Method::GET, Some(key)));
        self.signer
            .presign_get(&url, expires)
            .await
            .map_err(|e| e.with_key(key))
    }

    /// The bucket's region (`ap-guangzhou`) from `HEAD /`'s `x-cos-bucket-region`.
    async fn bucket_location(store: &CosStore) -> Result<Option<String>> {
        let reply = store
            .execute(Call::new(reqwest::Method::HEAD, None))
            .await?;
        Ok(reply.header("x-cos-bucket-region").map(str::to_string))
    }
}

impl Cos {
    async fn send_signed(
        &self,
        store: &CosStore,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Response> {
        let url = store.url(call);
        let mut headers = call.headers.clone();
        if call.has_body() {
            headers.push(("content-length".into(), call.payload.len().to_string()));
        }
        let signed = self.signer.sign(&call.method, &url, &headers).await?;
        let mut req = store.place().client.request(call.method.clone(), &url);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        if call.has_body() {
            req = req.body(body(&call.payload, hasher).await?);
        }
        req.send()
            .await
            .map_err(|e| from_transport(e, &store.base()))
    }
}

/// A region's hosts, and the client that reaches them.
#[derive(Debug)]
pub struct Place {
    pub region: Option<String>,
    pub base: String,
    /// The `.tencentcos.cn` twin of `base`, for `myqcloud.com` hosts.
    pub fallback: Option<String>,
    client: reqwest::Client,
}

impl Place {
    fn for_config(cfg: &CosConfig) -> Result<Place> {
        let region = cfg.resolve_region()?;
        let base = cfg.base(region.as_deref());
        let fallback = match cfg.addressing {
            Addressing::VirtualHosted => config::tencentcos_fallback(&base),
            _ => None,
        };
        let client = build_client(cfg, &[Some(&base), fallback.as_ref()])?;
        Ok(Place {
            region,
            base,
            fallback,
            client,
        })
    }
}

/// The HTTP client: no automatic redirects (a COS redirect is an answer to read), and the
/// bucket's hosts pinned to `resolve_to` when set.
fn build_client(cfg: &CosConfig, bases: &[Option<&String>]) -> Result<reqwest::Client> {
    let mut builder = stowage_http::client::client_builder(cfg.ca_bundle.as_ref())?
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(addr) = cfg.resolve_to {
        for base in bases.iter().flatten() {
            if let Some(host) = host_of(base) {
                builder = builder.resolve(host, addr);
            }
        }
    }
    stowage_http::client::build(builder)
}

/// `http://h.example:8080/x/` → `h.example`.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    rest.split(['/', ':']).next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::checksum::checksum_bytes;
    use stowage_core::{ChecksumAlgo, Checksums, ErrorKind};

    #[test]
    fn an_unverifiable_upload_names_coss_crc_header() {
        let sent = checksum_bytes(b"hello", &[ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma]);
        let e = Cos::DIALECT
            .check_upload(&sent, &Checksums::default(), None)
            .unwrap_err();
        assert!(e.to_string().contains("x-cos-hash-crc64ecma"), "{e}");
    }

    #[test]
    fn a_wrong_region_is_followed_once_keeping_the_endpoints_form() {
        let mut cfg = CosConfig::new("rec-1250000000");
        cfg.region = Some("ap-beijing".into());
        cfg.endpoint = Some("http://cos.ap-beijing.myqcloud.com:8080".into());
        cfg.credentials = Some(Credentials::new("AKIDkey", "secret"));
        let store = CosStore::new(cfg).unwrap();
        let wrong = |region: &str| {
            Error::new(
                ErrorKind::WrongRegion {
                    bucket_region: Some(region.into()),
                },
                "moved",
            )
        };
        assert!(store.follow_region(&wrong("ap-guangzhou")));
        assert_eq!(
            store.base(),
            "http://rec-1250000000.cos.ap-guangzhou.myqcloud.com:8080/"
        );
        assert!(store.follow_region(&wrong("ap-guangzhou")));
        assert!(!store.follow_region(&wrong("ap-shanghai")));
        assert_eq!(store.place().region.as_deref(), Some("ap-guangzhou"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let mut cfg = CosConfig::new("rec-1250000000");
        cfg.region = Some("ap-guangzhou".into());
        cfg.credentials = Some(
            Credentials::new("AKIDkey", "very-secret-value")
                .with_session_token(Some("tok-1".into())),
        );
        let store = CosStore::new(cfg).unwrap();
        let d = format!("{store:?}");
        assert!(d.contains("AKIDkey"), "{d}");
        assert!(
            !d.contains("very-secret-value") && !d.contains("tok-1"),
            "{d}"
        );
    }
}
