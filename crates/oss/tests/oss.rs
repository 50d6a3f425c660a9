//! The OSS store on the OSS emulator (a real HTTP server on 127.0.0.1): the conformance and
//! credential suites, V1 signing, STS tokens, each named error with its fix, region
//! discovery, and retries through the fault-injecting proxy.

use std::sync::Arc;

use stowage_core::{Credentials, ErrorKind, ObjectStore};
use stowage_oss::{Addressing, OssConfig, OssStore, SigningVersion};
use stowage_testkit::adapter_tests::unique_name;
use stowage_testkit::conformance::{Harness, put_one_byte};
use stowage_testkit::oss::OssEmulator;

#[path = "oss/presign.rs"]
mod presign;
#[path = "oss/sdk_crosscheck.rs"]
mod sdk_crosscheck;

fn unique_bucket(tag: &str) -> String {
    unique_name(tag)
}

fn config(endpoint: &str, bucket: &str, creds: Credentials) -> OssConfig {
    let mut cfg = OssConfig::new(bucket);
    cfg.endpoint = Some(endpoint.to_string());
    cfg.region = Some(stowage_testkit::oss::DEFAULT_REGION.to_string());
    cfg.addressing = Addressing::PathStyle;
    cfg.credentials = Some(creds);
    cfg
}

fn store(endpoint: &str, bucket: &str, creds: Credentials) -> OssStore {
    OssStore::new(config(endpoint, bucket, creds)).expect("build OSS store")
}

fn good(server: &OssEmulator) -> Credentials {
    Credentials::new(server.access_key(), server.secret_key())
}

fn harness_with(signing: SigningVersion) -> Harness {
    let server = OssEmulator::shared();
    let bucket = unique_bucket("oss");
    server.create_bucket(&bucket);
    let build = |bucket: &str, creds: Credentials| {
        let mut cfg = config(server.endpoint(), bucket, creds);
        cfg.signing = signing;
        Arc::new(OssStore::new(cfg).expect("store"))
    };
    let mut h = Harness::new(
        build(&bucket, good(server)),
        build("no-such-bucket", good(server)),
    );
    let wrong_secret = "wrong-secret-0123456789";
    h.wrong_secret = Some((
        build(&bucket, Credentials::new(server.access_key(), wrong_secret)),
        wrong_secret.to_string(),
    ));
    h.unknown_key = Some(build(&bucket, Credentials::new("LTAIunknown", "whatever")));
    h
}

mod v4 {
    use super::*;

    pub async fn harness() -> Harness {
        harness_with(SigningVersion::V4)
    }

    stowage_testkit::conformance_suite!(harness);
    stowage_testkit::credential_suite!(harness);
}

mod v1 {
    use super::*;

    pub async fn harness() -> Harness {
        harness_with(SigningVersion::V1)
    }

    stowage_testkit::credential_suite!(harness);

    #[tokio::test]
    async fn put_get_list_multipart_with_v1() {
        // Each behaviour on its own bucket: some of them list the whole bucket.
        stowage_testkit::conformance::put_get_head_delete(&harness().await).await;
        stowage_testkit::conformance::multipart_resume_from_listed_parts(&harness().await).await;
        stowage_testkit::conformance::awkward_keys(&harness().await).await;
    }
}

mod errors {
    use super::*;
    use stowage_testkit::adapter_tests::assert_clean;

    /// A wrong `--region` (the FAQ's most common cause of lost uploads): OSS names the
    /// bucket's region in its 403, and the store follows it once, so the object lands and
    /// later requests go straight there. (The error itself, when it cannot be followed, is
    /// tested on OSS's XML in `error.rs`: WrongRegion naming the region, with the fix.)
    #[tokio::test]
    async fn a_wrong_region_is_followed_to_the_bucket_region() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("region");
        server.create_bucket(&bucket);
        let mut cfg = config(server.endpoint(), &bucket, good(server));
        cfg.region = Some("cn-beijing".into());
        let s = OssStore::new(cfg).expect("store");
        let meta = put_one_byte(&s, "a.ts")
            .await
            .expect("followed to the region");
        assert_eq!(meta.size, 1);
        assert_eq!(
            server.object_bytes(&bucket, "a.ts").as_deref(),
            Some(&b"1"[..])
        );
        assert!(
            format!("{s:?}").contains(&format!("\"{}\"", server.region())),
            "the store now signs for the bucket's region: {s:?}"
        );
        let as_trait: &dyn ObjectStore = &s;
        let listed = as_trait
            .list_all("")
            .await
            .expect("list in the followed region");
        assert_eq!(listed.len(), 1);
    }

    #[tokio::test]
    async fn skewed_clock_is_named() {
        let server = OssEmulator::start().expect("emulator");
        let bucket = unique_bucket("skew");
        server.create_bucket(&bucket);
        let s = store(server.endpoint(), &bucket, good(&server));
        server.set_clock_offset(3600);
        let e = put_one_byte(&s, "a.ts")
            .await
            .expect_err("skewed clock accepted");
        assert_eq!(e.kind(), &ErrorKind::ClockSkew, "{e}");
        assert_clean(&e, server.secret_key(), "sync it");
        server.set_clock_check(false);
        put_one_byte(&s, "a.ts")
            .await
            .expect("the clock check is off");
    }

    #[tokio::test]
    async fn missing_credentials_name_the_variables() {
        let mut cfg = OssConfig::new("rec");
        cfg.region = Some("cn-hangzhou".into());
        // Only when the environment has none (CI does not set them).
        if OssConfig::credentials_from_env().is_none() {
            let e = OssStore::new(cfg).expect_err("no credentials accepted");
            assert_eq!(e.kind(), &ErrorKind::InvalidCredentials);
            assert!(e.to_string().contains("OSS_ACCESS_KEY_ID"), "{e}");
        }
    }
}

mod behaviour {
    use super::*;

    #[tokio::test]
    async fn bucket_location_is_the_region_id() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("loc");
        server.create_bucket(&bucket);
        let s = store(server.endpoint(), &bucket, good(server));
        assert_eq!(s.bucket_location().await.expect("location"), "cn-hangzhou");
        let as_trait: &dyn stowage_core::ObjectStore = &s;
        assert_eq!(
            as_trait.bucket_region().await.expect("region").as_deref(),
            Some("cn-hangzhou")
        );
    }
}

/// The tests the OSS and COS stores share (stowage_testkit::xml_suite), on this vendor's
/// emulator: answers that are not Oss's, returned CRC-64s, stream bodies, part faults, a
/// missing bucket.
mod shared {
    use super::*;
    use stowage_testkit::adapter_tests::CrcAnswers;
    use stowage_testkit::xml_suite::XmlVendorTests;

    /// A store through `endpoint` (the fault proxy) that tries each request once.
    fn once(endpoint: &str, bucket: &str, creds: Credentials) -> OssStore {
        let mut cfg = config(endpoint, bucket, creds);
        cfg.max_attempts = 1;
        OssStore::new(cfg).expect("store")
    }

    /// The same, addressed as a bound custom domain.
    fn custom_domain(endpoint: &str, bucket: &str, creds: Credentials) -> OssStore {
        let mut cfg = config(endpoint, bucket, creds);
        cfg.addressing = Addressing::CustomDomain;
        OssStore::new(cfg).expect("store")
    }

    fn vendor() -> XmlVendorTests<stowage_testkit::oss::Oss, OssStore> {
        XmlVendorTests {
            server: OssEmulator::shared(),
            not_a: "an OSS server",
            crc_answers: CrcAnswers {
                crc_header: "x-oss-hash-crc64ecma",
                multipart_etag: "\"0123456789ABCDEF0123456789ABCDEF-2\"",
                part_size: 200 * 1024,
            },
            bucket: unique_bucket,
            store,
            once,
            custom_domain,
            expired_token: ("SecurityTokenExpired", "AssumeRole"),
        }
    }

    stowage_testkit::xml_store_suite!(vendor);
}
