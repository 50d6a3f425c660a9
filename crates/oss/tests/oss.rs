//! The OSS store on the OSS emulator (a real HTTP server on 127.0.0.1): the conformance and
//! credential suites, V1 signing, STS tokens, each named error with its fix, region
//! discovery, and retries through the fault-injecting proxy.

use std::sync::Arc;

use bytes::Bytes;
use stowage_core::{Credentials, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_oss::{Addressing, OssConfig, OssStore, SigningVersion};
use stowage_testkit::adapter_tests::unique_name;
use stowage_testkit::conformance::{Harness, pseudo_random, put_one_byte};
use stowage_testkit::oss::OssEmulator;

#[path = "oss/presign.rs"]
mod presign;
#[path = "oss/replies.rs"]
mod replies;
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
    async fn missing_bucket_is_named() {
        let server = OssEmulator::shared();
        let s = store(server.endpoint(), "no-such-bucket-here", good(server));
        let e = put_one_byte(&s, "a.ts")
            .await
            .expect_err("missing bucket accepted");
        assert_eq!(e.kind(), &ErrorKind::BucketNotFound, "{e}");
        assert!(
            e.vendor_code()
                .is_some_and(|c| c.starts_with("NoSuchBucket")),
            "{e}"
        );
        assert_clean(&e, server.secret_key(), "check the bucket name");
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
    async fn sts_token_works_and_its_expiry_is_named() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("sts");
        server.create_bucket(&bucket);
        let sts = server.add_sts_credentials(false);
        let creds = Credentials::new(&sts.access_key, &sts.secret_key)
            .with_session_token(Some(sts.security_token.clone()));
        let s = store(server.endpoint(), &bucket, creds);
        put_one_byte(&s, "a.ts")
            .await
            .expect("valid STS token refused");

        let no_token = store(
            server.endpoint(),
            &bucket,
            Credentials::new(&sts.access_key, &sts.secret_key),
        );
        let e = put_one_byte(&no_token, "a.ts")
            .await
            .expect_err("missing token accepted");
        assert_eq!(e.kind(), &ErrorKind::InvalidCredentials, "{e}");

        let expired = server.add_sts_credentials(true);
        let creds = Credentials::new(&expired.access_key, &expired.secret_key)
            .with_session_token(Some(expired.security_token.clone()));
        let s = store(server.endpoint(), &bucket, creds);
        let e = s.head("a.ts").await.expect_err("expired token accepted");
        assert_eq!(e.kind(), &ErrorKind::InvalidCredentials, "{e}");
        assert!(
            e.vendor_code()
                .is_some_and(|c| c.starts_with("SecurityTokenExpired")),
            "{e}"
        );
        assert_clean(&e, &expired.secret_key, "AssumeRole");
        assert!(!e.to_string().contains(&expired.security_token));
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
    use stowage_testkit::adapter_tests::{self, CrcAnswers};

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

    #[tokio::test]
    async fn put_crc_is_the_emulators_and_the_bytes_arrive() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("crc");
        server.create_bucket(&bucket);
        let s = store(server.endpoint(), &bucket, good(server));
        let data = pseudo_random(300_000, 2);
        let meta = s
            .put(
                "a.ts",
                PutBody::Bytes(Bytes::from(data.clone())),
                &PutOptions::default(),
            )
            .await
            .expect("put");
        let local =
            stowage_core::checksum::checksum_bytes(&data, &[stowage_core::ChecksumAlgo::Crc64Ecma]);
        assert_eq!(meta.checksums.crc64ecma, local.crc64ecma);
        assert_eq!(
            server.object_bytes(&bucket, "a.ts").as_deref(),
            Some(&data[..])
        );
    }

    /// A custom domain: the host names no bucket, the signature still covers `/bucket/key`.
    #[tokio::test]
    async fn custom_domain_addressing() {
        let server = OssEmulator::start().expect("emulator");
        let host = server.addr().to_string();
        server.add_custom_domain(&host, "media");
        let mut cfg = config(server.endpoint(), "media", good(&server));
        cfg.addressing = Addressing::CustomDomain;
        let s = OssStore::new(cfg).expect("store");
        put_one_byte(&s, "live/a.ts")
            .await
            .expect("put via custom domain");
        assert_eq!(
            server.object_bytes("media", "live/a.ts").as_deref(),
            Some(&b"1"[..])
        );
        let listed = (&s as &dyn ObjectStore)
            .list_all("live/")
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
    }

    /// Stream bodies (collected first: Content-MD5 goes before the body) for put and parts.
    #[tokio::test]
    async fn stream_bodies() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("stream");
        server.create_bucket(&bucket);
        let s = store(server.endpoint(), &bucket, good(server));
        // One part only, so its size is free.
        stowage_testkit::adapter_tests::stream_bodies(&s, |key| server.object_bytes(&bucket, key))
            .await;
    }

    /// A 503 and a reset on UploadPart are retried; the object arrives intact.
    #[tokio::test]
    async fn faults_on_upload_part_are_retried() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("faults");
        server.create_bucket(&bucket);
        stowage_testkit::adapter_tests::part_faults_are_retried(
            server.endpoint(),
            |endpoint| store(endpoint, &bucket, good(server)),
            |key| server.object_bytes(&bucket, key),
        )
        .await;
    }

    const CRC_ANSWERS: CrcAnswers = CrcAnswers {
        crc_header: "x-oss-hash-crc64ecma",
        multipart_etag: "\"0123456789ABCDEF0123456789ABCDEF-2\"",
        part_size: 200 * 1024,
    };

    /// A store through `endpoint` (the fault proxy) that tries each request once.
    fn once(endpoint: &str, bucket: &str, server: &OssEmulator) -> OssStore {
        let mut cfg = config(endpoint, bucket, good(server));
        cfg.max_attempts = 1;
        OssStore::new(cfg).expect("store")
    }

    /// A server that stores other bytes than were sent is caught by the CRC check.
    #[tokio::test]
    async fn a_wrong_crc_from_the_server_is_a_checksum_mismatch() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("badcrc");
        server.create_bucket(&bucket);
        adapter_tests::wrong_crc_is_a_checksum_mismatch(server.endpoint(), CRC_ANSWERS, |e| {
            once(e, &bucket, server)
        })
        .await;
    }

    /// A part whose returned CRC differs from the bytes sent is refused.
    #[tokio::test]
    async fn a_wrong_part_crc_is_a_checksum_mismatch() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("partcrc");
        server.create_bucket(&bucket);
        adapter_tests::wrong_part_crc_is_a_checksum_mismatch(server.endpoint(), CRC_ANSWERS, |e| {
            once(e, &bucket, server)
        })
        .await;
    }

    /// The completed object's CRC must be the parts' CRCs combined.
    #[tokio::test]
    async fn a_completed_object_with_another_crc_is_a_checksum_mismatch() {
        let server = OssEmulator::shared();
        let bucket = unique_bucket("completecrc");
        server.create_bucket(&bucket);
        adapter_tests::wrong_completed_crc_is_a_checksum_mismatch(
            server.endpoint(),
            CRC_ANSWERS,
            |e| once(e, &bucket, server),
        )
        .await;
    }
}
