//! Proof without download for the multipart objects Stowage uploaded, on the stores that keep
//! no whole-object checksum of them: Kodo (qetag v2) and S3 servers without a full-object
//! CRC (s3s in MD5 mode). The manifest records the part layout; the verifier compares the
//! ETag that layout gave, or computes it from the local file (`--dir`). A COS upload resumed
//! by another process is proven by the completed object's CRC-64.

use std::sync::Arc;
use std::time::Duration;

use stowage_core::retry::RetryPolicy;
use stowage_core::upload::UploadConfig;
use stowage_core::{Credentials, ObjectStore, PutOptions};
use stowage_pipeline::{Options, Targets, upload_recording};
use stowage_verify::{Expected, PartLayout, Problem, expected_from_dir, verify};

use super::{MANIFEST, PREFIX, manifest, s3_bucket, s3_store};

const MP4: &str = "sid_c_0.mp4";

/// A recording with one MP4 big enough to go multipart with `upload`, uploaded by the
/// pipeline into `store`. Returns the spool.
async fn upload_with_mp4(
    store: Arc<dyn ObjectStore>,
    mp4_size: usize,
    upload: UploadConfig,
) -> tempfile::TempDir {
    let spool = tempfile::tempdir().unwrap();
    let data = stowage_testkit::conformance::pseudo_random(mp4_size, 7);
    std::fs::write(spool.path().join(MP4), data).unwrap();
    std::fs::write(spool.path().join("sid_c_20261124100000000.ts"), [0x47; 376]).unwrap();
    std::fs::write(
        spool.path().join("sid_c.m3u8"),
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nsid_c_20261124100000000.ts\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    let opts = Options {
        prefix: PREFIX.into(),
        upload,
        ..Options::default()
    };
    let targets = Targets {
        primary: store,
        backup: None,
    };
    upload_recording(spool.path(), &targets, &opts)
        .await
        .unwrap();
    spool
}

fn mp4_key() -> String {
    format!("{PREFIX}/{MP4}")
}

fn the_mp4(expected: &[Expected]) -> &Expected {
    expected.iter().find(|e| e.key == mp4_key()).unwrap()
}

async fn kodo_store(
    emu: &stowage_testkit::kodo::KodoEmulator,
    bucket: &str,
) -> Arc<dyn ObjectStore> {
    emu.create_bucket(bucket, "z0");
    let mut cfg = stowage_kodo::KodoConfig::new(bucket);
    cfg.endpoint = Some(emu.endpoint().to_string());
    cfg.credentials = Some(Credentials::new(emu.access_key(), emu.secret_key()));
    cfg.https = false;
    Arc::new(stowage_kodo::KodoStore::new(cfg).await.unwrap())
}

#[tokio::test]
async fn kodo_multipart_objects_are_proven_by_their_qetag_v2() {
    let emu = stowage_testkit::kodo::KodoEmulator::start().unwrap();
    let store = kodo_store(&emu, &s3_bucket("kv2")).await;
    // 1.5 MiB parts: not 4 MiB, so Kodo's hash is a qetag v2 (0x9e), no file's qetag.
    let upload = UploadConfig {
        multipart_threshold: 2 << 20,
        part_size: 3 << 19,
        ..UploadConfig::default()
    };
    let spool = upload_with_mp4(store.clone(), (5 << 20) + 123, upload.clone()).await;
    let expected = manifest(store.as_ref()).await;
    let mp4 = the_mp4(&expected);
    assert_eq!(
        mp4.parts,
        Some(PartLayout {
            size: 3 << 19,
            count: 4
        })
    );
    let recorded = mp4
        .etag
        .clone()
        .expect("the manifest keeps the multipart ETag");
    assert!(recorded.starts_with('n'), "a qetag v2: {recorded}");

    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    assert_eq!((report.intact, report.checked), (3, 3), "{report:?}");
    assert!(report.unproven.is_empty(), "{:?}", report.unproven);
    assert!(report.requests <= 2, "no HEAD and no download: {report:?}");

    // From the spool: the qetag v2 is computed from the local bytes with the layout.
    let from_dir = expected_from_dir(spool.path(), PREFIX).await.unwrap();
    assert_eq!(
        the_mp4(&from_dir).checksums.qetag.as_deref(),
        Some(recorded.as_str())
    );
    let report = verify(store.as_ref(), None, PREFIX, &from_dir, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!((report.intact, report.unproven.len()), (3, 0), "{report:?}");

    // Same size, other bytes, sent the same way: both ways of proving see it.
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        other.path(),
        stowage_testkit::conformance::pseudo_random((5 << 20) + 123, 8),
    )
    .unwrap();
    stowage_core::upload::put_file(
        store.as_ref(),
        &mp4_key(),
        other.path(),
        &PutOptions::default(),
        &upload,
    )
    .await
    .unwrap();
    for expected in [&expected, &from_dir] {
        let report = verify(store.as_ref(), None, PREFIX, expected, Some(MANIFEST))
            .await
            .unwrap();
        assert!(
            matches!(report.problems.as_slice(), [Problem::ContentMismatch { key, .. }] if *key == mp4_key()),
            "{:?}",
            report.problems
        );
    }
}

#[tokio::test]
async fn s3_multipart_objects_without_a_whole_object_checksum_are_proven_by_their_etag() {
    let server = stowage_testkit::s3s_server::S3sServer::shared();
    let bucket = s3_bucket("s3mp");
    server.create_bucket(&bucket).unwrap();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let store = s3_store(server.endpoint(), &bucket, &creds).await;
    let upload = UploadConfig {
        multipart_threshold: 6 << 20,
        part_size: 5 << 20,
        ..UploadConfig::default()
    };
    let spool = upload_with_mp4(store.clone(), (11 << 20) + 5, upload).await;
    let expected = manifest(store.as_ref()).await;
    let mp4 = the_mp4(&expected);
    assert_eq!(
        mp4.parts,
        Some(PartLayout {
            size: 5 << 20,
            count: 3
        })
    );
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    assert_eq!((report.intact, report.unproven.len()), (3, 0), "{report:?}");

    // Without the layout (a manifest from before it was recorded) the same object is
    // unproven, and the report says why.
    let mut old = expected.clone();
    old.iter_mut()
        .filter(|e| e.key == mp4_key())
        .for_each(|e| (e.etag, e.parts) = (None, None));
    let report = verify(store.as_ref(), None, PREFIX, &old, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!(report.unproven.len(), 1, "{report:?}");
    assert!(
        report.unproven[0]
            .why
            .contains("multipart object whose part layout is not recorded"),
        "{:?}",
        report.unproven
    );

    // The spool's copy of the manifest gives the layout, and the ETag is computed locally.
    let from_dir = expected_from_dir(spool.path(), PREFIX).await.unwrap();
    assert_eq!(the_mp4(&from_dir).etag, mp4.etag);
    let report = verify(store.as_ref(), None, PREFIX, &from_dir, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!((report.intact, report.unproven.len()), (3, 0), "{report:?}");
}

/// A COS multipart upload interrupted after some parts and finished by another process
/// (whose ListParts carries no CRC-64): the completed object's CRC-64 proves it.
#[tokio::test]
async fn a_resumed_cos_upload_is_proven_by_the_completed_objects_crc64() {
    let server = stowage_testkit::cos::CosEmulator::shared();
    let name = format!("{}-1250000000", s3_bucket("cres"));
    server.create_bucket(&name);
    let open = || {
        let mut cfg = stowage_cos::CosConfig::new(&name);
        cfg.endpoint = Some(server.endpoint().to_string());
        cfg.region = Some(stowage_testkit::cos::DEFAULT_REGION.to_string());
        cfg.addressing = stowage_cos::Addressing::PathStyle;
        cfg.credentials = Some(Credentials::new(server.access_key(), server.secret_key()));
        Arc::new(stowage_cos::CosStore::new(cfg).unwrap()) as Arc<dyn ObjectStore>
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(MP4);
    std::fs::write(
        &path,
        stowage_testkit::conformance::pseudo_random((3 << 20) + 9, 3),
    )
    .unwrap();
    let cfg = UploadConfig {
        multipart_threshold: 1 << 20,
        part_size: 1 << 20,
        concurrency: 1,
        part_retry: RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        },
    };
    let first = stowage_testkit::faulty::FaultyStore::new(open());
    first.fail_part(3, 100);
    let key = mp4_key();
    let opts = PutOptions::default();
    let interrupted = stowage_core::upload::put_file(&first, &key, &path, &opts, &cfg).await;
    assert!(interrupted.is_err(), "part 3 never arrives");
    let second = open();
    let upload = second
        .list_multipart_uploads(PREFIX)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.key == key)
        .expect("the interrupted upload is still open");
    assert!(
        second
            .list_parts(&upload)
            .await
            .unwrap()
            .iter()
            .all(|p| p.checksums.crc64ecma.is_none()),
        "COS lists parts without their CRC-64"
    );
    stowage_core::upload::multipart_upload_file(
        second.as_ref(),
        &key,
        &path,
        &opts,
        &cfg,
        Some(upload),
    )
    .await
    .unwrap();

    let expected = expected_from_dir(dir.path(), PREFIX).await.unwrap();
    let report = verify(second.as_ref(), None, PREFIX, &expected, None)
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    assert_eq!((report.intact, report.unproven.len()), (1, 0), "{report:?}");
    assert_eq!(
        report.requests, 2,
        "one listing and one HEAD for the CRC-64: {report:?}"
    );
}
