//! The S3 store on real servers: the conformance suite against s3s-fs (in-process, with
//! signature checking) and against moto's server (an independent implementation), plus
//! S3-specific behaviours through the fault-injecting proxy.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use stowage_core::{Credentials, ObjectStore};
use stowage_s3::{S3Config, S3Store};
use stowage_testkit::conformance::Harness;
use stowage_testkit::moto::{self, MotoServer};
use stowage_testkit::s3s_server::S3sServer;

#[path = "s3/bucket_region.rs"]
mod bucket_region;
#[path = "s3/integrity.rs"]
mod integrity;
#[path = "s3/presign.rs"]
mod presign;
#[path = "s3/replies.rs"]
mod replies;

/// A bucket name no other test uses.
fn unique_bucket(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn store(endpoint: &str, bucket: &str, creds: Credentials) -> S3Store {
    store_with(endpoint, bucket, creds, Default::default()).await
}

async fn store_with(
    endpoint: &str,
    bucket: &str,
    creds: Credentials,
    integrity: stowage_s3::S3Integrity,
) -> S3Store {
    let cfg = S3Config {
        bucket: bucket.to_string(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.to_string()),
        force_path_style: true,
        credentials: Some(creds),
        profile: None,
        max_attempts: 3,
        integrity,
        ca_bundle: None,
    };
    S3Store::new(cfg).await.expect("build S3 store")
}

mod s3s {
    use super::*;

    pub async fn harness() -> Harness {
        let server = S3sServer::shared();
        let bucket = unique_bucket("s3s");
        server.create_bucket(&bucket).expect("create bucket");
        let good = Credentials::new(server.access_key(), server.secret_key());
        let s = store(server.endpoint(), &bucket, good.clone()).await;
        let missing = store(server.endpoint(), "no-such-bucket", good).await;
        let mut h = Harness::new(Arc::new(s), Arc::new(missing));
        let wrong_secret = "wrong-secret-0123456789";
        let wrong = store(
            server.endpoint(),
            &bucket,
            Credentials::new(server.access_key(), wrong_secret),
        )
        .await;
        h.wrong_secret = Some((Arc::new(wrong), wrong_secret.to_string()));
        let unknown = store(
            server.endpoint(),
            &bucket,
            Credentials::new("AKIDUNKNOWN", "whatever"),
        )
        .await;
        h.unknown_key = Some(Arc::new(unknown));
        h
    }

    stowage_testkit::conformance_suite!(harness);
    stowage_testkit::credential_suite!(harness);
}

mod moto_server {
    use super::*;

    pub async fn harness() -> Harness {
        moto_harness("moto", Default::default()).await
    }

    stowage_testkit::conformance_suite!(harness);
}

/// A fresh bucket on the shared moto server, with stores in `integrity` mode.
async fn moto_harness(tag: &str, integrity: stowage_s3::S3Integrity) -> Harness {
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = unique_bucket(tag);
    let creds = Credentials::new(moto::ACCESS_KEY, moto::SECRET_KEY);
    let s = store_with(server.endpoint(), &bucket, creds.clone(), integrity).await;
    s.client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket on moto");
    let missing = store_with(server.endpoint(), "no-such-bucket", creds, integrity).await;
    Harness::new(Arc::new(s), Arc::new(missing))
}

/// The whole suite again in CRC64-NVME mode, where multipart parts carry a CRC64-NVME
/// instead of a Content-MD5 (and the upload is created as a full-object CRC64-NVME one).
mod s3s_crc64nvme {
    use super::*;

    pub async fn harness() -> Harness {
        let server = S3sServer::shared();
        let bucket = unique_bucket("s3s-crc");
        server.create_bucket(&bucket).expect("create bucket");
        let creds = Credentials::new(server.access_key(), server.secret_key());
        let crc = stowage_s3::S3Integrity::Crc64Nvme;
        let s = store_with(server.endpoint(), &bucket, creds.clone(), crc).await;
        let missing = store_with(server.endpoint(), "no-such-bucket", creds, crc).await;
        Harness::new(Arc::new(s), Arc::new(missing))
    }

    stowage_testkit::conformance_suite!(harness);
}

mod moto_crc64nvme {
    use super::*;

    pub async fn harness() -> Harness {
        moto_harness("moto-crc", stowage_s3::S3Integrity::Crc64Nvme).await
    }

    stowage_testkit::conformance_suite!(harness);
}

/// In CRC64-NVME mode each part carries its CRC64-NVME, which the server checks: a part whose
/// bytes differ from the claim is refused.
#[tokio::test]
async fn crc64nvme_parts_are_sent_and_checked() {
    use stowage_core::upload::{UploadConfig, multipart_upload_file};
    use stowage_core::{ChecksumAlgo, PutOptions};
    let server = S3sServer::shared();
    let bucket = unique_bucket("crc-parts");
    server.create_bucket(&bucket).unwrap();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let s = store_with(
        server.endpoint(),
        &bucket,
        creds,
        stowage_s3::S3Integrity::Crc64Nvme,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.mp4");
    let data = stowage_testkit::conformance::pseudo_random(11 << 20, 7);
    std::fs::write(&path, &data).unwrap();
    let cfg = UploadConfig {
        part_size: 5 << 20,
        ..UploadConfig::default()
    };
    let opts = PutOptions::default();
    let meta = multipart_upload_file(&s, "big.mp4", &path, &opts, &cfg, None)
        .await
        .unwrap();
    assert_eq!(meta.size, data.len() as u64);

    let upload = s.create_multipart("again.mp4", &opts).await.unwrap();
    let part = s
        .upload_part(
            &upload,
            1,
            stowage_core::PutBody::Bytes(data[..1000].to_vec().into()),
        )
        .await
        .unwrap();
    let sent = stowage_core::checksum::checksum_bytes(&data[..1000], &[ChecksumAlgo::Crc64Nvme]);
    assert_eq!(part.checksums.crc64nvme_base64(), sent.crc64nvme_base64());
    let claimed = stowage_core::checksum::checksum_bytes(b"other", &[ChecksumAlgo::Crc64Nvme]);
    let refused = s
        .client()
        .upload_part()
        .bucket(&bucket)
        .key("again.mp4")
        .upload_id(&upload.upload_id)
        .part_number(2)
        .checksum_crc64_nvme(claimed.crc64nvme_base64().unwrap())
        .body(data[..1000].to_vec().into())
        .send()
        .await
        .unwrap_err();
    let text = format!("{:?}", refused);
    assert!(text.contains("BadDigest"), "{text}");
    s.abort_multipart(&upload).await.unwrap();
}

mod behaviour {
    use super::*;
    use bytes::Bytes;
    use stowage_core::{ErrorKind, PutBody, PutOptions};
    use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};

    async fn through_proxy(
        rules: Vec<FaultRule>,
        max_attempts: u32,
    ) -> (FaultProxy, S3Store, String) {
        let server = S3sServer::shared();
        let bucket = unique_bucket("proxy");
        server.create_bucket(&bucket).expect("create bucket");
        let proxy = FaultProxy::start(server.endpoint(), rules).expect("start proxy");
        let cfg = S3Config {
            bucket: bucket.clone(),
            region: Some("us-east-1".into()),
            endpoint: Some(proxy.endpoint().to_string()),
            force_path_style: true,
            credentials: Some(Credentials::new(server.access_key(), server.secret_key())),
            profile: None,
            max_attempts,
            integrity: Default::default(),
            ca_bundle: None,
        };
        (proxy, S3Store::new(cfg).await.expect("store"), bucket)
    }

    #[tokio::test]
    async fn redirect_becomes_wrong_region_with_the_real_region() {
        let rule = FaultRule::new(
            Match::Any,
            Fault::permanent_redirect("eu-west-1"),
            Times::Always,
        );
        let (_proxy, s, bucket) = through_proxy(vec![rule], 1).await;
        let e = stowage_testkit::conformance::put_one_byte(&s, "a.ts")
            .await
            .unwrap_err();
        assert_eq!(e.bucket_region(), Some("eu-west-1"), "{e}");
        assert_eq!(e.bucket(), Some(bucket.as_str()));
        let text = e.to_string();
        assert!(
            text.contains("region `eu-west-1`") && !text.contains("<Error>"),
            "{text}"
        );
        let e = s.head("a.ts").await.unwrap_err();
        assert_eq!(
            e.bucket_region(),
            Some("eu-west-1"),
            "HEAD has no body, the header must suffice: {e}"
        );
    }

    /// One redirect naming the region: the store follows it once and the request succeeds.
    #[tokio::test]
    async fn a_redirect_is_followed_once_to_the_buckets_region() {
        let rule = FaultRule::new(
            Match::Any,
            Fault::permanent_redirect("eu-west-1"),
            Times::First(1),
        );
        let (proxy, s, _) = through_proxy(vec![rule], 1).await;
        assert_eq!(s.region(), "us-east-1");
        let meta = s
            .put(
                "a.ts",
                PutBody::Bytes(Bytes::from_static(b"abc")),
                &PutOptions::default(),
            )
            .await
            .expect("put after following the region");
        assert_eq!((meta.size, proxy.injected(0)), (3, 1));
        assert_eq!(
            s.region(),
            "eu-west-1",
            "later requests are signed for the bucket's region"
        );
        assert_eq!(s.head("a.ts").await.expect("head").size, 3);
    }

    #[tokio::test]
    async fn throttling_is_retried_by_the_client() {
        let rule = FaultRule::new(
            Match::request("PUT", "/"),
            Fault::s3_error(503, "SlowDown", "Please reduce your request rate."),
            Times::First(2),
        );
        let (proxy, s, _) = through_proxy(vec![rule], 3).await;
        s.put(
            "a.ts",
            PutBody::Bytes(Bytes::from_static(b"abc")),
            &PutOptions::default(),
        )
        .await
        .expect("put after two 503s");
        assert_eq!(proxy.injected(0), 2);
        assert_eq!(s.head("a.ts").await.expect("head").size, 3);
    }

    #[tokio::test]
    async fn throttling_that_persists_is_rate_limited_and_retryable() {
        let rule = FaultRule::new(
            Match::Any,
            Fault::s3_error(503, "SlowDown", "Please reduce your request rate."),
            Times::Always,
        );
        let (_proxy, s, _) = through_proxy(vec![rule], 2).await;
        let e = s
            .put(
                "a.ts",
                PutBody::Bytes(Bytes::from_static(b"abc")),
                &PutOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::RateLimited, "{e}");
        assert!(e.is_retryable());
        assert_eq!(
            (e.vendor_code(), e.http_status(), e.key()),
            (Some("SlowDown"), Some(503), Some("a.ts"))
        );
    }

    #[tokio::test]
    async fn connection_resets_are_network_errors() {
        let rule = FaultRule::new(Match::Any, Fault::Reset, Times::Always);
        let (_proxy, s, _) = through_proxy(vec![rule], 1).await;
        let e = s.head("a.ts").await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Network, "{e}");
        assert!(e.is_retryable());
    }

    #[tokio::test]
    async fn unreachable_endpoint_names_the_endpoint() {
        let cfg = S3Config {
            bucket: "b".into(),
            region: Some("us-east-1".into()),
            endpoint: Some("http://127.0.0.1:9".into()),
            force_path_style: true,
            credentials: Some(Credentials::new("ak", "sk-secret-value")),
            profile: None,
            max_attempts: 1,
            integrity: Default::default(),
            ca_bundle: None,
        };
        let s = S3Store::new(cfg).await.expect("store");
        let e = s.head("x.ts").await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Network, "{e}");
        assert!(e.to_string().contains("127.0.0.1:9"), "{e}");
        assert!(!format!("{e:?}{s:?}").contains("sk-secret-value"));
    }

    #[tokio::test]
    async fn every_put_sends_content_md5_and_crc64nvme_that_the_server_keeps() {
        let server = S3sServer::shared();
        let bucket = unique_bucket("sums");
        server.create_bucket(&bucket).expect("bucket");
        let s = store(
            server.endpoint(),
            &bucket,
            Credentials::new(server.access_key(), server.secret_key()),
        )
        .await;
        let data = b"segment bytes".to_vec();
        let put = s
            .put(
                "s.ts",
                PutBody::Bytes(Bytes::from(data.clone())),
                &PutOptions::default(),
            )
            .await
            .expect("put");
        let local = stowage_core::checksum::checksum_bytes(
            &data,
            &[
                stowage_core::ChecksumAlgo::Md5,
                stowage_core::ChecksumAlgo::Crc64Nvme,
            ],
        );
        assert_eq!(
            put.etag,
            local.get(stowage_core::ChecksumAlgo::Md5),
            "ETag is the MD5 sent"
        );
        assert_eq!(
            s.head("s.ts").await.expect("head").checksums.crc64nvme,
            local.crc64nvme
        );
        // A caller-supplied checksum that does not match the bytes is refused by the server.
        let wrong = PutOptions {
            checksums: Some(stowage_core::checksum::checksum_bytes(
                b"other",
                &[
                    stowage_core::ChecksumAlgo::Md5,
                    stowage_core::ChecksumAlgo::Crc64Nvme,
                ],
            )),
            ..Default::default()
        };
        let e = s
            .put("t.ts", PutBody::Bytes(Bytes::from(data)), &wrong)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
        assert_eq!(
            s.head("t.ts").await.unwrap_err().kind(),
            &ErrorKind::NotFound
        );
    }
}

/// `S3Integrity::Crc64Nvme`: no MD5 is needed, and the server still refuses bytes whose
/// CRC64-NVME differs.
#[tokio::test]
async fn crc64nvme_only_integrity_is_still_checked() {
    use bytes::Bytes;
    use stowage_core::checksum::checksum_bytes;
    use stowage_core::{ChecksumAlgo, ErrorKind, PutBody, PutOptions};
    let server = S3sServer::shared();
    let bucket = unique_bucket("crc");
    server.create_bucket(&bucket).unwrap();
    let s = S3Store::new(S3Config {
        integrity: stowage_s3::S3Integrity::Crc64Nvme,
        ..S3Config {
            bucket: bucket.clone(),
            region: Some("us-east-1".into()),
            endpoint: Some(server.endpoint().into()),
            force_path_style: true,
            credentials: Some(Credentials::new(server.access_key(), server.secret_key())),
            profile: None,
            max_attempts: 1,
            integrity: Default::default(),
            ca_bundle: None,
        }
    })
    .await
    .unwrap();
    assert_eq!(
        s.capabilities().verified_on_upload,
        [ChecksumAlgo::Crc64Nvme]
    );
    let only_crc = PutOptions {
        checksums: Some(checksum_bytes(b"abc", &[ChecksumAlgo::Crc64Nvme])),
        ..Default::default()
    };
    let meta = s
        .put(
            "ok.ts",
            PutBody::Bytes(Bytes::from_static(b"abc")),
            &only_crc,
        )
        .await
        .expect("put with only a CRC");
    assert_eq!(
        meta.checksums.crc64nvme,
        only_crc.checksums.as_ref().unwrap().crc64nvme
    );
    let wrong = PutOptions {
        checksums: Some(checksum_bytes(b"abd", &[ChecksumAlgo::Crc64Nvme])),
        ..Default::default()
    };
    let e = s
        .put("bad.ts", PutBody::Bytes(Bytes::from_static(b"abc")), &wrong)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    assert_eq!(
        s.head("bad.ts").await.unwrap_err().kind(),
        &ErrorKind::NotFound
    );
}

/// A key that is only the prefix of others is no object, on S3 and on the testkit's s3s
/// (where it is a directory): HEAD and GET say NotFound at once.
#[tokio::test]
async fn a_prefix_is_not_an_object() {
    use stowage_core::{ErrorKind, PutBody, PutOptions};
    let server = S3sServer::shared();
    let bucket = unique_bucket("prefix");
    server.create_bucket(&bucket).unwrap();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let s = store(server.endpoint(), &bucket, creds).await;
    s.put(
        "rec/seg.ts",
        PutBody::Bytes(bytes::Bytes::from_static(b"segment")),
        &PutOptions::default(),
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        s.head("rec").await.unwrap_err().kind(),
        &ErrorKind::NotFound
    );
    let e = s.get("rec", None).await.err().expect("a prefix was read");
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
