//! The COS store on the COS emulator (a real HTTP server on 127.0.0.1): the conformance and
//! credential suites (path style and real `<bucket>.cos.<region>.myqcloud.com` hosts pinned
//! to 127.0.0.1), STS tokens, each named error with its fix, region discovery, the
//! `.tencentcos.cn` fallback, eventual consistency of listings, and faults through the
//! fault-injecting proxy.

use std::sync::Arc;

use stowage_core::{Credentials, ErrorKind, ObjectStore};
use stowage_cos::{Addressing, CosConfig, CosStore};
use stowage_testkit::adapter_tests::unique_name;
use stowage_testkit::conformance::{Harness, put_one_byte};
use stowage_testkit::cos::{CosEmulator, DEFAULT_APPID, DEFAULT_REGION};

#[path = "cos/presign.rs"]
mod presign;
#[path = "cos/sdk_crosscheck.rs"]
mod sdk_crosscheck;

fn unique_bucket(tag: &str) -> String {
    format!("{}-{DEFAULT_APPID}", unique_name(tag))
}

fn config(endpoint: &str, bucket: &str, creds: Credentials) -> CosConfig {
    let mut cfg = CosConfig::new(bucket);
    cfg.endpoint = Some(endpoint.to_string());
    cfg.region = Some(DEFAULT_REGION.to_string());
    cfg.addressing = Addressing::PathStyle;
    cfg.credentials = Some(creds);
    cfg
}

fn store(endpoint: &str, bucket: &str, creds: Credentials) -> CosStore {
    CosStore::new(config(endpoint, bucket, creds)).expect("build COS store")
}

/// Real COS host names (`<bucket>.cos.<region>.myqcloud.com:<port>`) sent to `addr`.
fn hosted_config(
    addr: std::net::SocketAddr,
    region: &str,
    bucket: &str,
    creds: Credentials,
) -> CosConfig {
    let mut cfg = CosConfig::new(bucket);
    cfg.endpoint = Some(format!("http://cos.{region}.myqcloud.com:{}", addr.port()));
    cfg.region = Some(region.to_string());
    cfg.addressing = Addressing::VirtualHosted;
    cfg.resolve_to = Some(addr);
    cfg.credentials = Some(creds);
    cfg
}

fn good(server: &CosEmulator) -> Credentials {
    Credentials::new(server.access_key(), server.secret_key())
}

/// `build` makes a store for a bucket and credentials on the shared emulator.
fn harness_with(build: impl Fn(&str, Credentials) -> CosConfig) -> Harness {
    let server = CosEmulator::shared();
    let bucket = unique_bucket("cos");
    server.create_bucket(&bucket);
    let make = |bucket: &str, creds: Credentials| -> Arc<dyn ObjectStore> {
        Arc::new(CosStore::new(build(bucket, creds)).expect("store"))
    };
    let mut h = Harness::new(
        make(&bucket, good(server)),
        make(&unique_bucket("missing"), good(server)),
    );
    let wrong_secret = "wrong-secret-0123456789";
    h.wrong_secret = Some((
        make(&bucket, Credentials::new(server.access_key(), wrong_secret)),
        wrong_secret.to_string(),
    ));
    h.unknown_key = Some(make(&bucket, Credentials::new("AKIDunknown", "whatever")));
    h
}

mod path_style {
    use super::*;

    pub async fn harness() -> Harness {
        harness_with(|bucket, creds| config(CosEmulator::shared().endpoint(), bucket, creds))
    }

    stowage_testkit::conformance_suite!(harness);
    stowage_testkit::credential_suite!(harness);
}

mod virtual_hosted {
    use super::*;

    pub async fn harness() -> Harness {
        harness_with(|bucket, creds| {
            hosted_config(CosEmulator::shared().addr(), DEFAULT_REGION, bucket, creds)
        })
    }

    stowage_testkit::credential_suite!(harness);

    #[tokio::test]
    async fn put_get_list_multipart_on_cos_hosts() {
        // Each behaviour on its own bucket: some of them list the whole bucket.
        stowage_testkit::conformance::put_get_head_delete(&harness().await).await;
        stowage_testkit::conformance::multipart_resume_from_listed_parts(&harness().await).await;
        stowage_testkit::conformance::awkward_keys(&harness().await).await;
        let hosts = CosEmulator::shared().hosts_seen();
        assert!(
            hosts
                .iter()
                .any(|h| h.contains(".cos.ap-guangzhou.myqcloud.com:")),
            "{hosts:?}"
        );
    }
}

mod errors {
    use super::*;
    use stowage_testkit::adapter_tests::assert_clean;
    use stowage_testkit::proxy::FaultProxy;

    /// The bucket addressed through another region's host: COS names the bucket's region
    /// in `x-cos-bucket-region`, and the store follows it once to that region's host (the
    /// FAQ's most common cause of lost uploads is a wrong region). The error itself, when
    /// it cannot be followed, is tested on COS's answers in `error.rs`.
    #[tokio::test]
    async fn a_wrong_region_is_followed_to_the_bucket_region() {
        let server = CosEmulator::shared();
        let bucket = unique_bucket("region");
        server.create_bucket(&bucket);
        let cfg = hosted_config(server.addr(), "ap-beijing", &bucket, good(server));
        let s = CosStore::new(cfg).expect("store");
        let meta = put_one_byte(&s, "a.ts")
            .await
            .expect("followed to the region");
        assert_eq!(meta.size, 1);
        let debug = format!("{s:?}");
        assert!(
            debug.contains(&format!("{bucket}.cos.{}.myqcloud.com", server.region())),
            "requests now go to the bucket's region: {debug}"
        );
        let as_trait: &dyn ObjectStore = &s;
        let listed = as_trait.list_all("").await.expect("list there");
        assert_eq!(listed.len(), 1);
    }

    /// A bucket name without `-<APPID>` is refused before any request is made.
    #[tokio::test]
    async fn bucket_without_appid_is_invalid_input_before_any_request() {
        let server = CosEmulator::shared();
        let proxy = FaultProxy::start(server.endpoint(), vec![]).expect("proxy");
        let e = CosStore::new(config(proxy.endpoint(), "examplebucket", good(server)))
            .expect_err("bucket without APPID accepted");
        assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("examplebucket-1250000000"), "{e}");
        assert_clean(&e, server.secret_key(), "correct the input");
        assert_eq!(proxy.requests_seen(), 0);
    }

    /// COS checks the signature's `q-sign-time` window against its clock: a window that
    /// has ended ("Request has expired") and one that starts too far ahead
    /// (RequestTimeTooSkewed) are both a skewed clock.
    #[tokio::test]
    async fn skewed_clock_is_named() {
        let server = CosEmulator::start().expect("emulator");
        let bucket = unique_bucket("skew");
        server.create_bucket(&bucket);
        let s = store(server.endpoint(), &bucket, good(&server));
        for (offset, code) in [(7200, "AccessDenied"), (-7200, "RequestTimeTooSkewed")] {
            server.set_clock_offset(offset);
            let e = put_one_byte(&s, "a.ts")
                .await
                .expect_err("skewed clock accepted");
            assert_eq!(e.kind(), &ErrorKind::ClockSkew, "{offset}: {e}");
            assert_eq!(e.vendor_code(), Some(code), "{e}");
            assert_clean(&e, server.secret_key(), "sync it");
        }
        server.set_clock_check(false);
        put_one_byte(&s, "a.ts")
            .await
            .expect("the clock check is off");
    }

    #[tokio::test]
    async fn missing_credentials_name_the_variables() {
        let mut cfg = CosConfig::new("rec-1250000000");
        cfg.region = Some("ap-guangzhou".into());
        // Only when the environment has none (CI does not set them).
        if CosConfig::credentials_from_env().is_none() {
            let e = CosStore::new(cfg).expect_err("no credentials accepted");
            assert_eq!(e.kind(), &ErrorKind::InvalidCredentials);
            assert!(e.to_string().contains("TENCENTCLOUD_SECRET_ID"), "{e}");
        }
    }
}

mod behaviour {
    use super::*;
    use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};

    #[tokio::test]
    async fn bucket_region_comes_from_head_bucket() {
        let server = CosEmulator::shared();
        let bucket = unique_bucket("loc");
        server.create_bucket(&bucket);
        let s = store(server.endpoint(), &bucket, good(server));
        let as_trait: &dyn stowage_core::ObjectStore = &s;
        assert_eq!(
            as_trait.bucket_region().await.expect("region").as_deref(),
            Some(DEFAULT_REGION)
        );
    }

    /// A redirect without `x-cos-request-id` (not COS answering, e.g. a blocked
    /// `myqcloud.com` domain) moves requests to `<bucket>.cos.<region>.tencentcos.cn`.
    #[tokio::test]
    async fn redirect_without_request_id_switches_to_tencentcos_cn() {
        let server = CosEmulator::start().expect("emulator");
        let bucket = unique_bucket("fallback");
        server.create_bucket(&bucket);
        let redirect = Fault::Status {
            status: 302,
            body: String::new(),
            headers: vec![("location".into(), "https://example.invalid/blocked".into())],
        };
        let rules = vec![FaultRule::new(Match::Any, redirect, Times::First(1))];
        let proxy = FaultProxy::start(server.endpoint(), rules).expect("proxy");
        let cfg = hosted_config(proxy.addr(), DEFAULT_REGION, &bucket, good(&server));
        let s = CosStore::new(cfg).expect("store");
        put_one_byte(&s, "a.ts")
            .await
            .expect("put after the switch");
        assert_eq!(proxy.injected(0), 1);
        assert_eq!(
            server.object_bytes(&bucket, "a.ts").as_deref(),
            Some(&b"1"[..])
        );
        let port = proxy.addr().port();
        assert_eq!(
            server.hosts_seen(),
            [format!(
                "{bucket}.cos.{DEFAULT_REGION}.tencentcos.cn:{port}"
            )],
            "only the fallback host reached the server"
        );
        s.head("a.ts")
            .await
            .expect("later requests stay on the fallback host");
        assert_eq!(server.hosts_seen().len(), 1);
    }

    /// A redirect COS itself sends (with `x-cos-request-id`) is not a reason to switch.
    #[tokio::test]
    async fn redirect_from_cos_is_an_error_not_a_switch() {
        let server = CosEmulator::start().expect("emulator");
        let bucket = unique_bucket("nofallback");
        server.create_bucket(&bucket);
        let redirect = Fault::Status {
            status: 307,
            body: String::new(),
            headers: vec![("x-cos-request-id".into(), "NjVmTest".into())],
        };
        let rules = vec![FaultRule::new(Match::Any, redirect, Times::First(1))];
        let proxy = FaultProxy::start(server.endpoint(), rules).expect("proxy");
        let mut cfg = hosted_config(proxy.addr(), DEFAULT_REGION, &bucket, good(&server));
        cfg.max_attempts = 1;
        let s = CosStore::new(cfg).expect("store");
        let e = put_one_byte(&s, "a.ts")
            .await
            .expect_err("redirect accepted");
        assert_eq!(e.http_status(), Some(307), "{e}");
        assert_eq!(e.request_id(), Some("NjVmTest"));
        assert!(server.hosts_seen().is_empty(), "{:?}", server.hosts_seen());
    }

    /// COS's GET Bucket is eventually consistent: a new object may be missing from a
    /// listing while HEAD already finds it (what the verifier relies on).
    #[tokio::test]
    async fn listing_may_lag_but_head_finds_new_objects() {
        let server = CosEmulator::start().expect("emulator");
        let bucket = unique_bucket("lag");
        server.create_bucket(&bucket);
        let s = store(server.endpoint(), &bucket, good(&server));
        put_one_byte(&s, "rec/old.ts").await.expect("put");
        server.hide_new_objects_from_listings(1);
        put_one_byte(&s, "rec/new.ts").await.expect("put");
        let keys = |page: Vec<stowage_core::ObjectMeta>| -> Vec<String> {
            page.into_iter().map(|o| o.key).collect()
        };
        let first = (&s as &dyn ObjectStore)
            .list_all("rec/")
            .await
            .expect("list");
        assert_eq!(
            keys(first),
            ["rec/old.ts"],
            "the new object is not listed yet"
        );
        let meta = s
            .head("rec/new.ts")
            .await
            .expect("HEAD finds the new object");
        assert_eq!(meta.size, 1);
        let second = (&s as &dyn ObjectStore)
            .list_all("rec/")
            .await
            .expect("list");
        assert_eq!(keys(second), ["rec/new.ts", "rec/old.ts"]);
    }

    /// Marker paging: small pages walk the whole prefix, each key once.
    #[tokio::test]
    async fn marker_paging_walks_every_key_once() {
        let server = CosEmulator::shared();
        let bucket = unique_bucket("paging");
        server.create_bucket(&bucket);
        let s = store(server.endpoint(), &bucket, good(server));
        for i in 0..7 {
            put_one_byte(&s, &format!("p/{i}.ts")).await.expect("put");
        }
        let mut req = stowage_core::ListRequest {
            prefix: "p/".into(),
            max_keys: Some(3),
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = s.list(&req).await.expect("list");
            pages += 1;
            seen.extend(page.objects.into_iter().map(|o| o.key));
            match page.next {
                Some(next) => req.continuation = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let want: Vec<String> = (0..7).map(|i| format!("p/{i}.ts")).collect();
        assert_eq!(seen, want);
    }
}

/// The tests the OSS and COS stores share (stowage_testkit::xml_suite), on this vendor's
/// emulator: answers that are not Cos's, returned CRC-64s, stream bodies, part faults, a
/// missing bucket.
mod shared {
    use super::*;
    use stowage_testkit::adapter_tests::CrcAnswers;
    use stowage_testkit::xml_suite::XmlVendorTests;

    /// A store through `endpoint` (the fault proxy) that tries each request once.
    fn once(endpoint: &str, bucket: &str, creds: Credentials) -> CosStore {
        let mut cfg = config(endpoint, bucket, creds);
        cfg.max_attempts = 1;
        CosStore::new(cfg).expect("store")
    }

    /// The same, addressed as a bound custom domain.
    fn custom_domain(endpoint: &str, bucket: &str, creds: Credentials) -> CosStore {
        let mut cfg = config(endpoint, bucket, creds);
        cfg.addressing = Addressing::CustomDomain;
        CosStore::new(cfg).expect("store")
    }

    fn vendor() -> XmlVendorTests<stowage_testkit::cos::Cos, CosStore> {
        XmlVendorTests {
            server: CosEmulator::shared(),
            not_a: "a COS server",
            crc_answers: CrcAnswers {
                crc_header: "x-cos-hash-crc64ecma",
                multipart_etag: "\"0123456789abcdef0123456789abcdef-2\"",
                part_size: 1 << 20,
            },
            bucket: unique_bucket,
            store,
            once,
            custom_domain,
            expired_token: ("ExpiredToken", "TENCENTCLOUD_SESSION_TOKEN"),
        }
    }

    stowage_testkit::xml_store_suite!(vendor);
}
