//! Aliyun OSS store for Stowage on OSS's native API: V4 signing (`OSS4-HMAC-SHA256`) by
//! default, V1 by option, STS tokens; virtual-hosted, path-style and custom-domain
//! addressing; every upload checked against the CRC-64/XZ OSS returns
//! (`x-oss-hash-crc64ecma`): PutObject (also sent with `Content-MD5`), each part, and the
//! completed multipart object (predicted from the parts' CRCs).
//!
//! The store is `stowage-http`'s [`XmlStore`] engine; this crate is OSS's part of it
//! ([`Oss`]): configuration, signing, addressing, the error table and OSS's quirks.
//! Requests go out through reqwest (rustls); bodies are streamed from files; each request
//! is retried on throttling, 5xx and broken connections.

pub mod config;
mod error;
pub mod sign;
mod xml;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use stowage_core::{Credentials, Error, Hasher, ObjectStore, Result};
use stowage_http::engine::body;
use stowage_http::errors::from_transport;
use stowage_http::reply::Vendor;
use stowage_http::{Call, Dialect, Listing, Opened, Quirks, XmlStore, XmlVendor};
use time::OffsetDateTime;

pub use config::{Addressing, OssConfig, SigningVersion};

use crate::config::Place;
use crate::sign::SignInput;

/// Smallest part but the last (OSS: 100 KB).
pub const MIN_PART: u64 = 100 * 1024;

/// An OSS bucket: the shared XML-API engine with OSS's part.
pub type OssStore = XmlStore<Oss>;

/// OSS's part of the engine: how it signs (V4 or V1), where its requests go, its errors.
pub struct Oss {
    /// The configuration, to rebuild the URL for another region.
    cfg: OssConfig,
    signing: SigningVersion,
    credentials: Credentials,
    client: reqwest::Client,
}

impl fmt::Debug for Oss {
    // The credentials' own Debug hides the secret and token; nothing else is sensitive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oss")
            .field("signing", &self.signing)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl XmlVendor for Oss {
    type Config = OssConfig;
    type Place = Place;
    type Location = String;

    const SCHEME: &'static str = "oss";
    /// OSS (its answers carry `x-oss-` headers), its CRC-64 and user-metadata headers.
    const DIALECT: Dialect = Dialect {
        vendor: Vendor {
            name: "OSS",
            article: "an",
            mark: "x-oss-",
        },
        crc64_header: "x-oss-hash-crc64ecma",
        meta_prefix: "x-oss-meta-",
    };
    const QUIRKS: Quirks = Quirks {
        min_part: MIN_PART,
        listing: Listing::ContinuationToken,
        listed_parts_carry_crc: true,
        upper_case_part_etags: true,
        probe_bodiless_head_errors: false,
    };

    /// Fails on a missing region (V4) or missing credentials.
    fn open(cfg: OssConfig) -> Result<Opened<Oss>> {
        let credentials = cfg.resolve_credentials()?;
        // V1 does not sign the region: an explicit endpoint is enough.
        let region = match (cfg.resolve_region(), cfg.signing) {
            (Ok(r), _) => r,
            (Err(_), SigningVersion::V1) if cfg.endpoint.is_some() => String::new(),
            (Err(e), _) => return Err(e),
        };
        // No automatic redirects: OSS's own 3xx are answers to read, and a redirect to
        // anywhere else (a login page) is refused as not OSS's.
        let client = stowage_http::client::build(
            stowage_http::client::client_builder(cfg.ca_bundle.as_ref())?
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(120))
                .redirect(reqwest::redirect::Policy::none()),
        )?;
        Ok(Opened {
            bucket: cfg.bucket.clone(),
            place: Place {
                base: cfg.base(&region),
                region,
            },
            max_attempts: cfg.max_attempts,
            vendor: Oss {
                signing: cfg.signing,
                credentials,
                client,
                cfg,
            },
        })
    }

    fn region_of(place: &Place) -> Option<&str> {
        place.region_id()
    }

    /// On OSS's 403 naming the bucket's `<Endpoint>`: a regional OSS host
    /// (`oss-<region>[-internal]`) becomes the same host of the bucket's region, scheme and
    /// port kept; any other endpoint (a custom domain, a local server) is the user's own and
    /// stays.
    fn place_for_region(&self, region: &str) -> Option<Place> {
        let mut cfg = self.cfg.clone();
        if let Some(ep) = &cfg.endpoint
            && let Some(old) = config::region_of_endpoint(ep)
        {
            cfg.endpoint = Some(ep.replacen(&format!("oss-{old}"), &format!("oss-{region}"), 1));
        }
        Some(Place {
            base: cfg.base(region),
            region: region.to_string(),
        })
    }

    fn base(&self, place: &Place) -> String {
        place.base.prefix.clone()
    }

    async fn send(
        &self,
        store: &OssStore,
        call: &Call<'_>,
        hasher: Option<Arc<Mutex<Hasher>>>,
    ) -> Result<reqwest::Response> {
        let place = store.place();
        let mut req = self.client.request(call.method.clone(), store.url(call));
        for (k, v) in self.signed_headers(store.bucket(), &place.region, call) {
            req = req.header(k, v);
        }
        if call.has_body() {
            req = req
                .header("content-length", call.payload.len())
                .body(body(&call.payload, hasher).await?);
        }
        req.send()
            .await
            .map_err(|e| from_transport(e, &store.base()))
    }

    fn error_from(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        error::from_response(status, headers, body)
    }

    /// V4 URLs live at most 7 days (OSS refuses a longer `x-oss-expires`); V1 has no limit.
    async fn signed_get_url(
        &self,
        store: &OssStore,
        key: &str,
        expires: Duration,
    ) -> Result<String> {
        let max = match self.signing {
            SigningVersion::V4 => Some(stowage_core::MAX_SIGNED_URL_EXPIRY),
            SigningVersion::V1 => None,
        };
        stowage_core::check_signed_url_expiry(&store.name(), expires, max)?;
        Ok(self.presigned_get(store, key, expires, OffsetDateTime::now_utc()))
    }

    /// The bucket's region id (`cn-hangzhou`) from `GET /?location` (bucket owner only).
    async fn bucket_location(store: &OssStore) -> Result<String> {
        let reply = store
            .execute(Call::new(reqwest::Method::GET, None).query("location", ""))
            .await?;
        let loc: xml::LocationConstraint =
            store.parse("GetBucketLocation", "LocationConstraint", &reply, None)?;
        Ok(config::plain_region(loc.region.trim()))
    }
}

impl Oss {
    /// A GET URL for `key` signed in its query (V4 or V1, as the store signs), addressed
    /// like every request of this store (virtual-hosted, path style or custom domain).
    fn presigned_get(
        &self,
        store: &OssStore,
        key: &str,
        expires: Duration,
        now: OffsetDateTime,
    ) -> String {
        let input = SignInput {
            method: "GET",
            bucket: Some(store.bucket()),
            key: Some(key),
            query: &[],
            headers: &[],
        };
        let mut call = Call::new(reqwest::Method::GET, Some(key));
        call.query = match self.signing {
            SigningVersion::V4 => sign::v4_presign_query(
                &self.credentials,
                &store.place().region,
                now,
                expires.as_secs(),
                &input,
            ),
            SigningVersion::V1 => {
                let deadline = now
                    .unix_timestamp()
                    .saturating_add(expires.as_secs() as i64);
                sign::v1_presign_query(&self.credentials, deadline, &input)
            }
        };
        store.url(&call)
    }

    /// The call's headers plus the token, date and `Authorization` headers.
    fn signed_headers(&self, bucket: &str, region: &str, call: &Call<'_>) -> Vec<(String, String)> {
        let now = OffsetDateTime::now_utc();
        let mut headers = call.headers.clone();
        if let Some(token) = self.credentials.session_token() {
            headers.push(("x-oss-security-token".into(), token.to_string()));
        }
        let http_date = httpdate::fmt_http_date(now.into());
        match self.signing {
            SigningVersion::V4 => {
                headers.push(("x-oss-date".into(), sign::v4_timestamp(now)));
                headers.push(("x-oss-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
            }
            SigningVersion::V1 => headers.push(("date".into(), http_date.clone())),
        }
        let input = SignInput {
            method: call.method.as_str(),
            bucket: Some(bucket),
            key: call.key,
            query: &call.query,
            headers: &headers,
        };
        let auth = match self.signing {
            SigningVersion::V4 => {
                sign::v4_authorization(&self.credentials, region, now, &input, &[])
            }
            SigningVersion::V1 => sign::v1_authorization(&self.credentials, &input, &http_date),
        };
        headers.push(("authorization".into(), auth));
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::checksum::checksum_bytes;
    use stowage_core::{ChecksumAlgo, Checksums, ErrorKind};

    #[test]
    fn an_unverifiable_upload_names_osss_crc_header() {
        let sent = checksum_bytes(b"hello", &[ChecksumAlgo::Md5, ChecksumAlgo::Crc64Ecma]);
        let e = Oss::DIALECT
            .check_upload(&sent, &Checksums::default(), None)
            .unwrap_err();
        assert!(e.to_string().contains("x-oss-hash-crc64ecma"), "{e}");
    }

    #[test]
    fn a_wrong_region_is_followed_once_keeping_the_endpoints_form() {
        let mut cfg = OssConfig::new("rec");
        cfg.region = Some("cn-beijing".into());
        cfg.endpoint = Some("http://oss-cn-beijing-internal.aliyuncs.com:8080".into());
        cfg.credentials = Some(Credentials::new("LTAIkey", "secret"));
        let store = OssStore::new(cfg).unwrap();
        let wrong = |region: &str| {
            Error::new(
                ErrorKind::WrongRegion {
                    bucket_region: Some(region.into()),
                },
                "addressed through the wrong endpoint",
            )
        };
        assert!(store.follow_region(&wrong("cn-hangzhou")));
        assert_eq!(store.place().region, "cn-hangzhou");
        assert_eq!(
            store.base(),
            "http://rec.oss-cn-hangzhou-internal.aliyuncs.com:8080/"
        );
        // Requests in flight that got the same answer are simply sent again.
        assert!(store.follow_region(&wrong("cn-hangzhou")));
        // Only once: a second move is not followed (the error is reported instead).
        assert!(!store.follow_region(&wrong("cn-shanghai")));
        assert_eq!(store.place().region, "cn-hangzhou");
        let other = Error::new(ErrorKind::AccessDenied, "no");
        assert!(!store.follow_region(&other));
    }

    #[test]
    fn debug_hides_the_secret() {
        let mut cfg = OssConfig::new("rec");
        cfg.region = Some("cn-hangzhou".into());
        cfg.credentials = Some(
            Credentials::new("LTAIkey", "very-secret-value")
                .with_session_token(Some("tok-1".into())),
        );
        let store = OssStore::new(cfg).unwrap();
        let d = format!("{store:?}");
        assert!(d.contains("LTAIkey") && d.contains("cn-hangzhou"), "{d}");
        assert!(
            !d.contains("very-secret-value") && !d.contains("tok-1"),
            "{d}"
        );
    }
}
