//! The verifier against injected faults, on a recording the pipeline uploaded.

use std::sync::Arc;

use bytes::Bytes;
use stowage_core::Credentials;
use stowage_core::{ObjectStore, PutBody, PutOptions};
use stowage_fs::FsStore;
use stowage_pipeline::{Options, Targets, upload_recording};
use stowage_testkit::http_static::{StaticOptions, StaticServer};
use stowage_testkit::moto::{self, MotoServer};
use stowage_testkit::s3s_server::S3sServer;
use stowage_verify::playback::PlaybackCheck;
use stowage_verify::{
    Problem, VerifyOptions, expected_from_agora, expected_from_manifest, verify, verify_with,
};

#[path = "verify/layouts.rs"]
mod layouts;
#[path = "verify/verdicts.rs"]
mod verdicts;

const PREFIX: &str = "rec";
const MANIFEST: &str = "rec/stowage-manifest.json";

fn seg(i: usize) -> String {
    format!("sid_c_2026112410000{i}000.ts")
}

/// Uploads a 5-segment recording into a fresh local bucket; returns (spool, bucket dir, store).
async fn uploaded() -> (tempfile::TempDir, tempfile::TempDir, Arc<dyn ObjectStore>) {
    let bucket = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let spool = upload_to(store.clone()).await;
    (spool, bucket, store)
}

/// Uploads a 5-segment recording into `store` with the pipeline; returns the spool.
async fn upload_to(store: Arc<dyn ObjectStore>) -> tempfile::TempDir {
    let spool = tempfile::tempdir().unwrap();
    let mut playlist = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
    for i in 0..5 {
        std::fs::write(spool.path().join(seg(i)), vec![i as u8; 1000 + i]).unwrap();
        playlist.push_str(&format!("#EXTINF:2.000,\n{}\n", seg(i)));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(spool.path().join("sid_c.m3u8"), playlist).unwrap();
    let opts = Options {
        prefix: PREFIX.into(),
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

async fn manifest(store: &dyn ObjectStore) -> Vec<stowage_verify::Expected> {
    let bytes = store
        .get(MANIFEST, None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    expected_from_manifest(&bytes).unwrap()
}

async fn put(store: &dyn ObjectStore, key: &str, body: &[u8]) {
    store
        .put(
            key,
            PutBody::Bytes(Bytes::copy_from_slice(body)),
            &PutOptions::default(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_intact_recording_is_complete_with_few_requests() {
    let (_spool, _bucket, store) = uploaded().await;
    let expected = manifest(store.as_ref()).await;
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    assert_eq!((report.checked, report.intact), (6, 6));
    assert!(report.unproven.is_empty());
    assert!((report.duration_secs - 10.0).abs() < 1e-9);
    assert!(
        report.requests <= 3,
        "{} requests: ETags prove the content without a HEAD each",
        report.requests
    );
}

/// Uploaded with the CRC-64 alone (no MD5, so single-part ETags prove nothing by
/// themselves): the manifest's ETags, given by the store when each upload was proven, still
/// prove the recording from the listing alone; an object replaced behind our back has
/// another ETag, is asked for with a HEAD and named.
#[tokio::test]
async fn etags_of_proven_uploads_prove_a_crc_only_recording_from_the_listing() {
    let server = S3sServer::shared();
    let bucket = s3_bucket("vcrc");
    server.create_bucket(&bucket).unwrap();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let config = stowage_s3::S3Config {
        integrity: stowage_s3::S3Integrity::Crc64Nvme,
        ..s3_config(server.endpoint(), &bucket, &creds)
    };
    let store: Arc<dyn ObjectStore> = Arc::new(stowage_s3::S3Store::new(config).await.unwrap());
    let _spool = upload_to(store.clone()).await;
    let expected = manifest(store.as_ref()).await;
    assert!(
        expected
            .iter()
            .all(|e| e.checksums.md5.is_none() && e.etag.is_some()),
        "{expected:?}"
    );
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    assert_eq!(
        (report.checked, report.intact),
        (6, 6),
        "{:?}",
        report.unproven
    );
    assert_eq!(
        report.requests, 2,
        "one LIST and the playlist's GET, no HEAD per object"
    );

    let key = format!("{PREFIX}/{}", seg(3));
    put(store.as_ref(), &key, &vec![9u8; 1003]).await;
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(!report.is_complete());
    let named: Vec<String> = report.problems.iter().map(|p| format!("{p:?}")).collect();
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(named[0].contains(&key), "{named:?}");
    assert_eq!(report.requests, 3, "one HEAD more, for the replaced object");
}

#[tokio::test]
async fn every_injected_fault_is_named_with_its_key() {
    let (_spool, _bucket, store) = uploaded().await;
    let backup_dir = tempfile::tempdir().unwrap();
    let backup: Arc<dyn ObjectStore> = Arc::new(FsStore::create(backup_dir.path()).await.unwrap());
    fault_matrix(store, backup).await;
}

#[tokio::test]
async fn every_injected_fault_is_named_on_the_in_process_s3_server() {
    let server = S3sServer::shared();
    let (primary, backup) = (s3_bucket("vp"), s3_bucket("vb"));
    server.create_bucket(&primary).unwrap();
    server.create_bucket(&backup).unwrap();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let primary = s3_store(server.endpoint(), &primary, &creds).await;
    let backup = s3_store(server.endpoint(), &backup, &creds).await;
    let _spool = upload_to(primary.clone()).await;
    fault_matrix(primary, backup).await;
}

#[tokio::test]
async fn every_injected_fault_is_named_on_moto() {
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let creds = Credentials::new(moto::ACCESS_KEY, moto::SECRET_KEY);
    let creds = &creds;
    let (primary, backup) = two_buckets("m", |name| async move {
        let s = stowage_s3::S3Store::new(s3_config(server.endpoint(), &name, creds))
            .await
            .unwrap();
        s.client()
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .unwrap();
        Arc::new(s) as Arc<dyn ObjectStore>
    })
    .await;
    upload_then_break(primary, backup).await;
}

#[tokio::test]
async fn every_injected_fault_is_named_on_the_oss_emulator() {
    let server = stowage_testkit::oss::OssEmulator::shared();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let creds = &creds;
    let (primary, backup) = two_buckets("o", |name| async move {
        server.create_bucket(&name);
        let mut cfg = stowage_oss::OssConfig::new(&name);
        cfg.endpoint = Some(server.endpoint().to_string());
        cfg.region = Some(stowage_testkit::oss::DEFAULT_REGION.to_string());
        cfg.addressing = stowage_oss::Addressing::PathStyle;
        cfg.credentials = Some(creds.clone());
        Arc::new(stowage_oss::OssStore::new(cfg).unwrap()) as Arc<dyn ObjectStore>
    })
    .await;
    upload_then_break(primary, backup).await;
}

#[tokio::test]
async fn every_injected_fault_is_named_on_the_cos_emulator() {
    let server = stowage_testkit::cos::CosEmulator::shared();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let creds = &creds;
    let (primary, backup) = two_buckets("c", |name| async move {
        let name = format!("{name}-1250000000");
        server.create_bucket(&name);
        let mut cfg = stowage_cos::CosConfig::new(&name);
        cfg.endpoint = Some(server.endpoint().to_string());
        cfg.region = Some(stowage_testkit::cos::DEFAULT_REGION.to_string());
        cfg.addressing = stowage_cos::Addressing::PathStyle;
        cfg.credentials = Some(creds.clone());
        Arc::new(stowage_cos::CosStore::new(cfg).unwrap()) as Arc<dyn ObjectStore>
    })
    .await;
    upload_then_break(primary, backup).await;
}

#[tokio::test]
async fn every_injected_fault_is_named_on_the_kodo_emulator() {
    static EMU: std::sync::OnceLock<stowage_testkit::kodo::KodoEmulator> =
        std::sync::OnceLock::new();
    let emu = EMU.get_or_init(|| stowage_testkit::kodo::KodoEmulator::start().unwrap());
    let creds = Credentials::new(emu.access_key(), emu.secret_key());
    let creds = &creds;
    let (primary, backup) = two_buckets("k", |name| async move {
        emu.create_bucket(&name, "z0");
        let mut cfg = stowage_kodo::KodoConfig::new(&name);
        cfg.endpoint = Some(emu.endpoint().to_string());
        cfg.credentials = Some(creds.clone());
        cfg.https = false;
        Arc::new(stowage_kodo::KodoStore::new(cfg).await.unwrap()) as Arc<dyn ObjectStore>
    })
    .await;
    let _spool = upload_to(primary.clone()).await;
    let expected = manifest(primary.as_ref()).await;
    assert!(
        expected.iter().all(|e| !e
            .checksums
            .get(stowage_core::ChecksumAlgo::Qetag)
            .unwrap_or_default()
            .is_empty()),
        "the manifest carries the qetag Kodo lists: {expected:?}"
    );
    let clean = verify(primary.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!((clean.intact, clean.unproven.len()), (6, 0), "{clean:?}");
    assert!(
        clean.requests <= 2,
        "the listing's qetags prove the content: {clean:?}"
    );
    fault_matrix(primary, backup).await;
}

#[tokio::test]
async fn every_injected_fault_is_named_on_fake_gcs_server() {
    let server = stowage_testkit::fake_gcs::FakeGcs::shared().unwrap_or_else(|e| panic!("{e}"));
    let (primary, backup) = two_buckets("g", |name| async move {
        let mut cfg = stowage_gcs::GcsConfig::new(&name, stowage_gcs::GcsAuth::Anonymous);
        cfg.endpoint = Some(server.endpoint().to_string());
        let s = stowage_gcs::GcsStore::new(cfg).unwrap();
        s.create_bucket("stowage-test").await.unwrap();
        Arc::new(s) as Arc<dyn ObjectStore>
    })
    .await;
    let _spool = upload_to(primary.clone()).await;
    let expected = manifest(primary.as_ref()).await;
    assert!(
        expected.iter().all(|e| e
            .checksums
            .get(stowage_core::ChecksumAlgo::Crc32c)
            .is_some()),
        "the manifest carries the CRC-32C GCS keeps: {expected:?}"
    );
    let clean = verify(primary.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!((clean.intact, clean.unproven.len()), (6, 0), "{clean:?}");
    assert!(
        clean.requests <= 2,
        "the listing's md5Hash and crc32c prove the content: {clean:?}"
    );
    fault_matrix(primary, backup).await;
}

#[tokio::test]
async fn every_injected_fault_is_named_on_azurite() {
    use stowage_testkit::azurite::{ACCOUNT, ACCOUNT_KEY, Azurite};
    let server = Azurite::shared().unwrap_or_else(|e| panic!("{e}"));
    let (primary, backup) = two_buckets("az", |name| async move {
        let auth = stowage_azure::AzureAuth::Key(ACCOUNT_KEY.to_string());
        let mut cfg = stowage_azure::AzureConfig::new(ACCOUNT, &name, auth);
        cfg.endpoint = Some(server.endpoint().to_string());
        let s = stowage_azure::AzureStore::new(cfg).unwrap();
        s.create_container().await.unwrap();
        Arc::new(s) as Arc<dyn ObjectStore>
    })
    .await;
    let _spool = upload_to(primary.clone()).await;
    let expected = manifest(primary.as_ref()).await;
    let clean = verify(primary.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!((clean.intact, clean.unproven.len()), (6, 0), "{clean:?}");
    fault_matrix(primary, backup).await;
}

/// A primary and a backup bucket, each opened by `open` from a fresh bucket name.
async fn two_buckets<F, Fut>(tag: &str, open: F) -> (Arc<dyn ObjectStore>, Arc<dyn ObjectStore>)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Arc<dyn ObjectStore>>,
{
    let primary = open(s3_bucket(&format!("{tag}p"))).await;
    let backup = open(s3_bucket(&format!("{tag}b"))).await;
    (primary, backup)
}

/// Uploads the test recording into `primary` with the pipeline, then runs the fault matrix.
async fn upload_then_break(primary: Arc<dyn ObjectStore>, backup: Arc<dyn ObjectStore>) {
    let _spool = upload_to(primary.clone()).await;
    fault_matrix(primary, backup).await;
}

fn s3_bucket(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{tag}-{}-{n}", std::process::id())
}

fn s3_config(endpoint: &str, bucket: &str, creds: &Credentials) -> stowage_s3::S3Config {
    stowage_s3::S3Config {
        bucket: bucket.into(),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.into()),
        force_path_style: true,
        credentials: Some(creds.clone()),
        profile: None,
        max_attempts: 2,
        integrity: Default::default(),
        ca_bundle: None,
    }
}

async fn s3_store(endpoint: &str, bucket: &str, creds: &Credentials) -> Arc<dyn ObjectStore> {
    let s = stowage_s3::S3Store::new(s3_config(endpoint, bucket, creds));
    Arc::new(s.await.unwrap())
}

/// Breaks an uploaded recording six ways and checks each is reported with its key.
async fn fault_matrix(store: Arc<dyn ObjectStore>, backup: Arc<dyn ObjectStore>) {
    let expected = manifest(store.as_ref()).await;
    let key = |i| format!("{PREFIX}/{}", seg(i));
    store.delete(&key(0)).await.unwrap(); // missing
    put(store.as_ref(), &key(1), &[1u8; 10]).await; // truncated
    put(store.as_ref(), &key(2), &[9u8; 1002]).await; // same size, other bytes
    let moved = store
        .get(&key(3), None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    put(backup.as_ref(), &key(3), &moved).await; // only in the backup
    store.delete(&key(3)).await.unwrap();
    put(store.as_ref(), "rec/stray.ts", b"nobody names me").await; // orphan
    let playlist = store
        .get("rec/sid_c.m3u8", None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let with_ghost = String::from_utf8_lossy(&playlist)
        .replace("#EXT-X-ENDLIST", "#EXTINF:2.000,\nghost.ts\n#EXT-X-ENDLIST");
    put(store.as_ref(), "rec/sid_c.m3u8", with_ghost.as_bytes()).await; // names a segment never uploaded

    let report = verify(
        store.as_ref(),
        Some(backup.as_ref()),
        PREFIX,
        &expected,
        Some(MANIFEST),
    )
    .await
    .unwrap();
    assert!(!report.is_complete());
    let p = &report.problems;
    assert!(p.contains(&Problem::Missing { key: key(0) }), "{p:?}");
    assert!(
        p.contains(&Problem::SizeMismatch {
            key: key(1),
            expected: 1001,
            found: 10
        }),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|x| matches!(x, Problem::ContentMismatch { key: k, .. } if *k == key(2))),
        "{p:?}"
    );
    assert!(p.contains(&Problem::OnlyInBackup { key: key(3) }), "{p:?}");
    assert!(
        p.contains(&Problem::Orphan {
            key: "rec/stray.ts".into()
        }),
        "{p:?}"
    );
    assert!(
        p.contains(&Problem::PlaylistNamesMissing {
            playlist: "rec/sid_c.m3u8".into(),
            segment: "rec/ghost.ts".into()
        }),
        "{p:?}"
    );
    // The edited playlist no longer matches the manifest either, and seg 0 is named but gone.
    assert!(
        p.iter().any(
            |x| matches!(x, Problem::PlaylistNamesMissing { segment, .. } if *segment == key(0))
        ),
        "{p:?}"
    );
    assert_eq!(
        report.intact, 1,
        "only segment 4 is untouched (the playlist changed): {report:?}"
    );
}

#[test]
fn manifests_that_are_not_ours_are_refused_clearly() {
    let e = expected_from_manifest(b"{\"hello\": 1}").unwrap_err();
    assert!(e.to_string().contains("not a Stowage manifest"), "{e}");
}

#[test]
fn agora_file_lists_in_every_documented_shape() {
    let string_mode = br#"{"resourceId":"r","sid":"s","serverResponse":{"fileListMode":"string","fileList":"rec/sid_c.m3u8","uploadingStatus":"uploaded"}}"#;
    let json_mode = br#"{"serverResponse":{"fileListMode":"json","fileList":[{"fileName":"rec/sid_c.m3u8","trackType":"audio_and_video","uid":"0","mixedAllUser":true,"isPlayable":true,"sliceStartTime":1619172871089},{"fileName":"rec/sid_c_0.mp4","trackType":"audio_and_video","uid":"0","mixedAllUser":true,"isPlayable":true,"sliceStartTime":1619172871089}]}}"#;
    let web_mode = br#"{"serverResponse":{"extensionServiceState":[{"serviceName":"web_recorder_service","payload":{"fileList":[{"filename":"rec/sid_c.m3u8","sliceStartTime":1619172871}],"onhold":false,"state":"inProgress"}}]}}"#;
    let webhook_31 = br#"{"noticeId":"n","productId":3,"eventType":31,"notifyMs":1,"payload":{"cname":"c","uid":"1","sid":"s","sequence":2,"sendts":1,"serviceType":2,"details":{"msgName":"uploaded","status":0,"fileList":[{"fileName":"rec/sid_c.m3u8","trackType":"audio_and_video","uid":"0","mixedAllUser":true,"isPlayable":true,"sliceStartTime":1619172871089}]}}}"#;
    let keys = |j: &[u8]| {
        expected_from_agora(j)
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(string_mode), ["rec/sid_c.m3u8"]);
    assert_eq!(keys(json_mode), ["rec/sid_c.m3u8", "rec/sid_c_0.mp4"]);
    assert_eq!(keys(web_mode), ["rec/sid_c.m3u8"]);
    assert_eq!(keys(webhook_31), ["rec/sid_c.m3u8"]);
    let e = expected_from_agora(br#"{"code": 2}"#).unwrap_err();
    assert!(e.to_string().contains("no fileList"), "{e}");
}

/// From only Agora's answer (the playlist name), the verifier finds a missing segment
/// through the playlist, and counts the named segments as expected, not orphans.
#[tokio::test]
async fn agora_response_alone_is_enough_to_find_a_missing_segment() {
    let (_spool, _bucket, store) = uploaded().await;
    let answer = br#"{"serverResponse":{"fileListMode":"string","fileList":"rec/sid_c.m3u8"}}"#;
    let expected = expected_from_agora(answer).unwrap();
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    store.delete(&format!("{PREFIX}/{}", seg(4))).await.unwrap();
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!(
        report.problems,
        vec![Problem::PlaylistNamesMissing {
            playlist: "rec/sid_c.m3u8".into(),
            segment: format!("{PREFIX}/{}", seg(4))
        }]
    );
}

/// Repair from the spool fixes what is missing, truncated or altered; repair from the
/// backup fixes what only the backup has; a second verification is clean.
#[tokio::test]
async fn repair_then_verify_again_is_clean() {
    use stowage_verify::{RepairSource, repair};
    let (spool, _bucket, store) = uploaded().await;
    let expected = manifest(store.as_ref()).await;
    let backup_dir = tempfile::tempdir().unwrap();
    let backup: Arc<dyn ObjectStore> = Arc::new(FsStore::create(backup_dir.path()).await.unwrap());
    let key = |i| format!("{PREFIX}/{}", seg(i));
    store.delete(&key(0)).await.unwrap();
    put(store.as_ref(), &key(1), &[1u8; 10]).await;
    put(store.as_ref(), &key(2), &[9u8; 1002]).await;
    let moved = store
        .get(&key(3), None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    put(backup.as_ref(), &key(3), &moved).await;
    store.delete(&key(3)).await.unwrap();
    std::fs::remove_file(spool.path().join(seg(3))).unwrap(); // the spool no longer has it

    let report = verify(
        store.as_ref(),
        Some(backup.as_ref()),
        PREFIX,
        &expected,
        Some(MANIFEST),
    )
    .await
    .unwrap();
    let from_spool = repair(
        store.as_ref(),
        &report,
        RepairSource::Dir {
            dir: spool.path(),
            prefix: PREFIX,
        },
    )
    .await;
    assert_eq!(from_spool.repaired, vec![key(0), key(1), key(2)]);
    assert_eq!(
        from_spool.not_repaired.len(),
        1,
        "segment 3 is only in the backup: {from_spool:?}"
    );
    let from_backup = repair(
        store.as_ref(),
        &report,
        RepairSource::Store(backup.as_ref()),
    )
    .await;
    assert!(from_backup.repaired.contains(&key(3)), "{from_backup:?}");

    let again = verify(
        store.as_ref(),
        Some(backup.as_ref()),
        PREFIX,
        &expected,
        Some(MANIFEST),
    )
    .await
    .unwrap();
    assert!(again.is_complete(), "{:?}", again.problems);
    assert_eq!(again.intact, 6);
}

/// Repair keeps the playlist rule: a lost playlist is re-published after its segments, and
/// not at all while a segment it names cannot be repaired.
#[tokio::test]
async fn repair_publishes_a_playlist_only_after_its_segments() {
    use stowage_verify::{RepairSource, repair};
    let (spool, _bucket, store) = uploaded().await;
    let expected = manifest(store.as_ref()).await;
    let playlist = format!("{PREFIX}/sid_c.m3u8");
    let key = |i| format!("{PREFIX}/{}", seg(i));
    store.delete(&playlist).await.unwrap();
    store.delete(&key(0)).await.unwrap();
    store.delete(&key(4)).await.unwrap();
    std::fs::remove_file(spool.path().join(seg(4))).unwrap();
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    let source = || RepairSource::Dir {
        dir: spool.path(),
        prefix: PREFIX,
    };
    let first = repair(store.as_ref(), &report, source()).await;
    assert_eq!(first.repaired, vec![key(0)], "{first:?}");
    let held: Vec<&str> = first.not_repaired.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(held, [key(4).as_str(), playlist.as_str()], "{first:?}");
    assert!(
        first.not_repaired[1].1.contains("still missing"),
        "{first:?}"
    );
    assert!(
        store.head(&playlist).await.is_err(),
        "no playlist before its segments"
    );

    std::fs::write(spool.path().join(seg(4)), vec![4u8; 1004]).unwrap();
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    let second = repair(store.as_ref(), &report, source()).await;
    assert_eq!(
        second.repaired,
        vec![key(4), playlist.clone()],
        "{second:?}"
    );
    let again = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(again.is_complete(), "{:?}", again.problems);
}

/// A local recording directory is an input too: its files' sizes and checksums.
#[tokio::test]
async fn a_local_directory_is_compared_byte_for_byte_by_checksum() {
    let (spool, _bucket, store) = uploaded().await;
    let expected = stowage_verify::expected_from_dir(spool.path(), PREFIX)
        .await
        .unwrap();
    assert_eq!(
        expected.len(),
        6,
        "the spool's .stowage state is not part of the recording"
    );
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    std::fs::write(spool.path().join(seg(4)), vec![7u8; 1004]).unwrap(); // the spool differs now
    let expected = stowage_verify::expected_from_dir(spool.path(), PREFIX)
        .await
        .unwrap();
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(report.problems.iter().any(|p| matches!(p, Problem::ContentMismatch { key, .. } if *key == format!("{PREFIX}/{}", seg(4)))), "{:?}", report.problems);
}

/// A playlist URL alone: its backup re-send and failover copies are found and checked too.
#[tokio::test]
async fn a_playlist_and_its_agora_siblings_are_found_and_checked() {
    let (_spool, _bucket, store) = uploaded().await;
    put(
        store.as_ref(),
        "rec/sid_c_22194679897_0.m3u8",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nlost.ts\n",
    )
    .await;
    put(
        store.as_ref(),
        "rec/bak0_sid_c.m3u8",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsid_c_20261124100004000.ts\n",
    )
    .await;
    put(store.as_ref(), "rec/other_recording.m3u8", b"#EXTM3U\n").await; // not a sibling
    let expected = stowage_verify::expected_from_playlist(store.as_ref(), "rec/sid_c.m3u8")
        .await
        .unwrap();
    let mut keys: Vec<&str> = expected.iter().map(|e| e.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "rec/bak0_sid_c.m3u8",
            "rec/sid_c.m3u8",
            "rec/sid_c_22194679897_0.m3u8"
        ]
    );
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    let missing: Vec<&Problem> = report
        .problems
        .iter()
        .filter(|p| matches!(p, Problem::PlaylistNamesMissing { .. }))
        .collect();
    assert_eq!(
        missing,
        [&Problem::PlaylistNamesMissing {
            playlist: "rec/sid_c_22194679897_0.m3u8".into(),
            segment: "rec/lost.ts".into()
        }]
    );
}

#[tokio::test]
async fn download_catches_bytes_changed_behind_the_stores_back() {
    let (_spool, bucket, store) = uploaded().await;
    let expected = manifest(store.as_ref()).await;
    // Same size, same mtime, other bytes: the local store's recorded checksums still claim
    // the old content (a bucket reporting a stale checksum), so only a download can tell.
    let path = bucket.path().join(PREFIX).join(seg(2));
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, vec![7u8; 1002]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let trusting = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(trusting.is_complete(), "{:?}", trusting.problems);

    let opts = VerifyOptions {
        manifest_key: Some(MANIFEST),
        download: true,
        ..VerifyOptions::default()
    };
    let downloaded = verify_with(store.as_ref(), PREFIX, &expected, &opts)
        .await
        .unwrap();
    let key = format!("{PREFIX}/{}", seg(2));
    assert!(
        matches!(
            downloaded.problems.as_slice(),
            [Problem::ContentMismatch { key: k, detail }] if *k == key && detail.contains("downloaded bytes")
        ),
        "{:?}",
        downloaded.problems
    );
    assert_eq!(downloaded.intact, 5);
}

#[tokio::test]
async fn an_object_the_listing_lacks_is_asked_for_before_it_is_called_missing() {
    let (_spool, _bucket, store) = uploaded().await;
    let expected = manifest(store.as_ref()).await;
    let lagging = Arc::new(stowage_testkit::faulty::FaultyStore::new(store.clone()));
    let late = format!("{PREFIX}/{}", seg(4));
    lagging.hide_from_listings(&late);
    let report = verify(lagging.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    assert_eq!(report.intact, 6);

    store.delete(&late).await.unwrap(); // now really gone: the HEAD says so
    let report = verify(lagging.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!(
        report.problems,
        [
            Problem::Missing { key: late.clone() },
            Problem::PlaylistNamesMissing {
                playlist: format!("{PREFIX}/sid_c.m3u8"),
                segment: late
            }
        ]
    );
}

/// A recording of 2 500 segments is listed in ranges of a page, at once: every object is
/// found, and an orphan before the first range, inside one and after the last is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_recording_is_listed_in_ranges_and_orphans_anywhere_are_found() {
    let server = S3sServer::shared();
    let bucket = s3_bucket("vranges");
    server.create_bucket(&bucket).unwrap();
    let creds = Credentials::new(server.access_key(), server.secret_key());
    let store = s3_store(server.endpoint(), &bucket, &creds).await;
    let spool = tempfile::tempdir().unwrap();
    let mut playlist = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    for i in 0..2500 {
        let name = format!("seg_{i:05}.ts");
        std::fs::write(spool.path().join(&name), format!("segment {i}")).unwrap();
        playlist.push_str(&format!("#EXTINF:2.0,\n{name}\n"));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(spool.path().join("rec.m3u8"), playlist).unwrap();
    let targets = Targets {
        primary: store.clone(),
        backup: None,
    };
    let opts = Options {
        prefix: PREFIX.into(),
        ..Options::default()
    };
    upload_recording(spool.path(), &targets, &opts)
        .await
        .unwrap();
    let orphans = [
        "rec/0-before.ts",
        "rec/seg_01500.ts.orphan",
        "rec/zz-after.ts",
    ];
    for key in orphans {
        put(store.as_ref(), key, b"stray").await;
    }
    let expected = manifest(store.as_ref()).await;
    let report = verify(store.as_ref(), None, PREFIX, &expected, Some(MANIFEST))
        .await
        .unwrap();
    assert_eq!(report.intact, 2501, "{:?}", report.problems);
    let named: Vec<&str> = report
        .problems
        .iter()
        .map(|p| match p {
            Problem::Orphan { key } => key.as_str(),
            other => panic!("only orphans expected, got {other:?}"),
        })
        .collect();
    assert_eq!(named, orphans);
    // 2 505 keys in three ranges: two of 1 001 keys (a page and one key more each) and one
    // of 503, then the playlist's GET: never a page per 1 000 keys more than one listing.
    assert!(report.requests <= 6, "{} requests", report.requests);
}

/// A recording whose segments are real MPEG-TS packets, uploaded into a local bucket, and the
/// bucket directory served over HTTP with `opts`.
async fn served(opts: StaticOptions) -> (tempfile::TempDir, Arc<dyn ObjectStore>, StaticServer) {
    let bucket = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let mut ts = vec![0xffu8; 188 * 4];
    ts.iter_mut().step_by(188).for_each(|b| *b = 0x47);
    put(store.as_ref(), "rec/sid_c_20261124100000000.ts", &ts).await;
    let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nsid_c_20261124100000000.ts\n#EXT-X-ENDLIST\n";
    put(store.as_ref(), "rec/sid_c.m3u8", playlist.as_bytes()).await;
    let server = StaticServer::start(bucket.path(), opts).unwrap();
    (bucket, store, server)
}

fn playback(server: &StaticServer, query: &str) -> PlaybackCheck {
    PlaybackCheck {
        base: format!("{}/{query}", server.url()),
        origin: "https://player.example".into(),
        signer: None,
    }
}

#[tokio::test]
async fn a_well_served_recording_passes_the_playback_check() {
    let (_bucket, _store, server) = served(StaticOptions::default()).await;
    let seen = playback(&server, "").check("rec/sid_c.m3u8").await;
    assert!(seen.problems.is_empty(), "{:?}", seen.problems);
    assert_eq!(seen.requests, 2);
}

#[tokio::test]
async fn playback_names_a_wrong_content_type_and_missing_cors() {
    let opts = StaticOptions {
        content_types: false,
        cors: false,
        ..StaticOptions::default()
    };
    let (_bucket, _store, server) = served(opts).await;
    let seen = playback(&server, "").check("rec/sid_c.m3u8").await;
    let details: Vec<String> = seen
        .problems
        .iter()
        .map(|p| match p {
            Problem::Playback { key, detail } => format!("{key}: {detail}"),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(details.len(), 4, "{details:#?}"); // type + CORS, for the playlist and the segment
    assert!(details[0].starts_with("rec/sid_c.m3u8: Content-Type is application/octet-stream"));
    assert!(details[0].contains("application/vnd.apple.mpegurl"));
    assert!(details[1].contains("Access-Control-Allow-Origin is absent"));
    assert!(details[2].contains("sid_c_20261124100000000.ts: Content-Type"));
    assert!(details[2].contains("video/mp2t"));
}

#[tokio::test]
async fn playback_with_a_cdn_token_keeps_it_on_every_request_and_out_of_reports() {
    let opts = StaticOptions {
        token: Some("s3cr3t-token".into()),
        ..StaticOptions::default()
    };
    let (bucket, _store, server) = served(opts).await;
    let seen = playback(&server, "?token=s3cr3t-token")
        .check("rec/sid_c.m3u8")
        .await;
    assert!(seen.problems.is_empty(), "{:?}", seen.problems);

    let refused = playback(&server, "?token=wrong")
        .check("rec/sid_c.m3u8")
        .await;
    assert!(
        matches!(refused.problems.as_slice(), [Problem::Playback { detail, .. }] if detail.starts_with("HTTP 403")),
        "{:?}",
        refused.problems
    );

    // A segment that is an error page, not MPEG-TS.
    std::fs::write(
        bucket.path().join("rec/sid_c_20261124100000000.ts"),
        b"<html>gone</html>",
    )
    .unwrap();
    let seen = playback(&server, "?token=s3cr3t-token")
        .check("rec/sid_c.m3u8")
        .await;
    let text = format!("{:?}", seen.problems);
    assert!(text.contains("not MPEG-TS"), "{text}");
    assert!(!text.contains("s3cr3t-token"), "{text}");
}
