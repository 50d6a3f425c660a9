//! The verifier against injected faults, on a recording the pipeline uploaded.

use std::sync::Arc;

use bytes::Bytes;
use stowage_core::{ObjectStore, PutBody, PutOptions};
use stowage_fs::FsStore;
use stowage_pipeline::{Options, Targets, upload_recording};
use stowage_verify::{Problem, expected_from_agora, expected_from_manifest, verify};

const PREFIX: &str = "rec";
const MANIFEST: &str = "rec/stowage-manifest.json";

fn seg(i: usize) -> String {
    format!("sid_c_2026112410000{i}000.ts")
}

/// Uploads a 5-segment recording into a fresh local bucket; returns (spool, bucket dir, store).
async fn uploaded() -> (tempfile::TempDir, tempfile::TempDir, Arc<dyn ObjectStore>) {
    let spool = tempfile::tempdir().unwrap();
    let mut playlist = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
    for i in 0..5 {
        std::fs::write(spool.path().join(seg(i)), vec![i as u8; 1000 + i]).unwrap();
        playlist.push_str(&format!("#EXTINF:2.000,\n{}\n", seg(i)));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(spool.path().join("sid_c.m3u8"), playlist).unwrap();
    let bucket = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    let opts = Options {
        prefix: PREFIX.into(),
        ..Options::default()
    };
    upload_recording(
        spool.path(),
        &Targets {
            primary: store.clone(),
            backup: None,
        },
        &opts,
    )
    .await
    .unwrap();
    (spool, bucket, store)
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

#[tokio::test]
async fn every_injected_fault_is_named_with_its_key() {
    let (_spool, _bucket, store) = uploaded().await;
    let expected = manifest(store.as_ref()).await;
    let backup_dir = tempfile::tempdir().unwrap();
    let backup: Arc<dyn ObjectStore> = Arc::new(FsStore::create(backup_dir.path()).await.unwrap());
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
