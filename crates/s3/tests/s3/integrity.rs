//! `S3Integrity::Auto`: the store asks the server once whether it checks
//! `x-amz-checksum-crc64nvme` (a probe object with a wrong CRC must be refused), and sends
//! Content-MD5 only to servers that do not. s3s checks the CRC; moto checks nothing; a
//! probe refused for another reason (denied) leaves Content-MD5 on.

use std::sync::Arc;

use bytes::Bytes;
use stowage_core::checksum::checksum_bytes;
use stowage_core::{ChecksumAlgo, Credentials, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_s3::{S3Integrity, S3Store};
use stowage_testkit::moto::{self, MotoServer};
use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};
use stowage_testkit::s3s_server::S3sServer;

use super::{store_with, unique_bucket};

const PROBE: &str = "/rec/.stowage-integrity-probe-";

/// An auto-mode store (and a forced-md5 one) on the shared s3s server, through a proxy
/// applying `rules`, then counting the probes that reach it (rule `rules.len()`).
async fn s3s_auto(mut rules: Vec<FaultRule>) -> (FaultProxy, S3Store, S3Store) {
    let server = S3sServer::shared();
    let bucket = unique_bucket("auto");
    server.create_bucket(&bucket).unwrap();
    rules.push(FaultRule::new(
        Match::request("PUT", PROBE),
        Fault::Delay(std::time::Duration::ZERO),
        Times::Always,
    ));
    let proxy = FaultProxy::start(server.endpoint(), rules).unwrap();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let auto = store_with(proxy.endpoint(), &bucket, creds.clone(), S3Integrity::Auto).await;
    let direct = store_with(
        server.endpoint(),
        &bucket,
        creds,
        S3Integrity::Md5AndCrc64Nvme,
    )
    .await;
    (proxy, auto, direct)
}

fn bytes(b: &'static [u8]) -> PutBody {
    PutBody::Bytes(Bytes::from_static(b))
}

/// What was in the bucket, the probe excluded or not.
async fn keys(store: &S3Store) -> Vec<String> {
    let s: &dyn ObjectStore = store;
    s.list_all("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

/// Puts `body` claiming the right CRC64-NVME but the MD5 of other bytes. Whether the server
/// refused the bytes (nothing stored) tells whether Content-MD5 was sent: s3s checks it.
async fn content_md5_was_sent(store: &S3Store, key: &str) -> bool {
    let mut claimed = checksum_bytes(b"segment", &[ChecksumAlgo::Crc64Nvme]);
    claimed.md5 = checksum_bytes(b"another", &[ChecksumAlgo::Md5]).md5;
    let opts = PutOptions {
        checksums: Some(claimed),
        ..Default::default()
    };
    let e = store.put(key, bytes(b"segment"), &opts).await.unwrap_err();
    // Either the server refused the Content-MD5, or the store caught the ETag (the real
    // MD5) differing from the claim: never a landing.
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    let stored = store.head(key).await;
    match stored {
        Err(e) if e.kind() == &ErrorKind::NotFound => true,
        Ok(_) => {
            store.delete(key).await.unwrap();
            false
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_learns_once_that_s3s_checks_the_crc_and_drops_content_md5() {
    let (proxy, auto, direct) = s3s_auto(Vec::new()).await;
    // Until it knows, the store declares the cautious answer (callers hash MD5 too).
    assert_eq!(auto.capabilities().verified_on_upload, [ChecksumAlgo::Md5]);
    let auto = Arc::new(auto);
    let puts: Vec<_> = (0..6)
        .map(|i| {
            let auto = auto.clone();
            tokio::spawn(async move {
                auto.put(
                    &format!("rec/seg{i}.ts"),
                    bytes(b"segment"),
                    &PutOptions::default(),
                )
                .await
            })
        })
        .collect();
    for p in puts {
        p.await.unwrap().unwrap();
    }
    assert_eq!(
        proxy.injected(0),
        1,
        "one probe for the store, not one per put"
    );
    assert_eq!(
        auto.capabilities().verified_on_upload,
        [ChecksumAlgo::Crc64Nvme]
    );
    auto.learn_integrity("rec/later.ts").await;
    assert_eq!(proxy.injected(0), 1, "learned for the store's life");
    // The refused probe left nothing; the segments are there.
    let listed = keys(&direct).await;
    assert_eq!(listed.len(), 6, "{listed:?}");
    assert!(listed.iter().all(|k| !k.contains("probe")), "{listed:?}");

    // CRC alone now: a wrong CRC is refused by the server, and Content-MD5 is not sent.
    let wrong = PutOptions {
        checksums: Some(checksum_bytes(b"segmenT", &[ChecksumAlgo::Crc64Nvme])),
        ..Default::default()
    };
    let e = auto
        .put("rec/bad.ts", bytes(b"segment"), &wrong)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::ChecksumMismatch, "{e}");
    assert_eq!(
        auto.head("rec/bad.ts").await.unwrap_err().kind(),
        &ErrorKind::NotFound
    );
    assert!(!content_md5_was_sent(&auto, "rec/crc-only.ts").await);
    // The same check tells the forced md5 mode apart.
    assert!(content_md5_was_sent(&direct, "rec/md5.ts").await);
}

#[tokio::test]
async fn auto_on_moto_keeps_content_md5_and_deletes_its_probe() {
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = unique_bucket("auto-moto");
    let creds = Credentials::new(moto::ACCESS_KEY, moto::SECRET_KEY);
    let s = store_with(server.endpoint(), &bucket, creds, S3Integrity::Auto).await;
    s.client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    s.learn_integrity("rec/seg1.ts").await;
    // moto stored an object whose CRC64-NVME was wrong: it checks nothing, so MD5 it is.
    assert_eq!(s.capabilities().verified_on_upload, [ChecksumAlgo::Md5]);
    assert!(keys(&s).await.is_empty(), "the probe was deleted");
    let meta = s
        .put("rec/seg1.ts", bytes(b"segment"), &PutOptions::default())
        .await
        .unwrap();
    let md5 = checksum_bytes(b"segment", &[ChecksumAlgo::Md5]);
    assert_eq!(meta.etag, md5.get(ChecksumAlgo::Md5));
    assert_eq!(keys(&s).await, ["rec/seg1.ts"]);
}

#[tokio::test]
async fn a_probe_refused_for_another_reason_keeps_content_md5() {
    let denied = FaultRule::new(
        Match::request("PUT", PROBE),
        Fault::s3_error(403, "AccessDenied", "Access Denied"),
        Times::Always,
    );
    let (proxy, auto, direct) = s3s_auto(vec![denied]).await;
    auto.put("rec/seg.ts", bytes(b"segment"), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(proxy.injected(0), 1, "probed once");
    assert_eq!(auto.capabilities().verified_on_upload, [ChecksumAlgo::Md5]);
    assert!(content_md5_was_sent(&auto, "rec/md5.ts").await);
    assert_eq!(keys(&direct).await, ["rec/seg.ts"]);
}

#[tokio::test]
async fn a_probe_refused_as_invalid_request_naming_the_checksum_counts_as_checked() {
    // What some servers answer instead of BadDigest.
    let refused = FaultRule::new(
        Match::request("PUT", PROBE),
        Fault::s3_error(
            400,
            "InvalidRequest",
            "Value for x-amz-checksum-crc64nvme header is invalid.",
        ),
        Times::Always,
    );
    let (_proxy, auto, _direct) = s3s_auto(vec![refused]).await;
    auto.learn_integrity("rec/seg.ts").await;
    assert_eq!(
        auto.capabilities().verified_on_upload,
        [ChecksumAlgo::Crc64Nvme]
    );

    let other = FaultRule::new(
        Match::request("PUT", PROBE),
        Fault::s3_error(400, "InvalidRequest", "Object lock requires Content-MD5."),
        Times::Always,
    );
    let (_proxy, auto, _direct) = s3s_auto(vec![other]).await;
    auto.learn_integrity("rec/seg.ts").await;
    assert_eq!(auto.capabilities().verified_on_upload, [ChecksumAlgo::Md5]);
}

/// Multipart in auto mode on s3s: the creation learns first, so the upload is a CRC64-NVME
/// one and its parts carry their CRC (the testkit's s3s checks each); the object is proven.
#[tokio::test]
async fn auto_multipart_on_s3s_sends_crc_parts() {
    use stowage_core::upload::{UploadConfig, put_file};
    let server = S3sServer::shared();
    let bucket = unique_bucket("auto-mp");
    server.create_bucket(&bucket).unwrap();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let s = store_with(server.endpoint(), &bucket, creds, S3Integrity::Auto).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.mp4");
    let data = stowage_testkit::conformance::pseudo_random(11 << 20, 9);
    std::fs::write(&path, &data).unwrap();
    let cfg = UploadConfig {
        multipart_threshold: 5 << 20,
        part_size: 5 << 20,
        ..UploadConfig::default()
    };
    let meta = put_file(&s, "rec/big.mp4", &path, &PutOptions::default(), &cfg)
        .await
        .unwrap();
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(
        s.capabilities().verified_on_upload,
        [ChecksumAlgo::Crc64Nvme]
    );
    let got = s
        .get("rec/big.mp4", None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(got[..] == data[..]);
}
