//! The verdict is about what a viewer would miss: RFC 8216 departures players tolerate are
//! warnings said once per playlist; a prefix is a directory; a timeline with a hole is a
//! problem; bytes that are not UTF-8 are named by line and offset; what cannot be proven
//! says why.

use std::sync::Arc;

use stowage_core::ObjectStore;
use stowage_fs::FsStore;
use stowage_verify::{Expected, Problem, expected_from_playlist, verify};

use super::put;

/// Agora's default output (domain.md §A4): EXTINF without a comma, `EXT-X-AGORA-*` tags, a
/// leading discontinuity; segment names carry their start time, 15 s apart.
fn agora_playlist(segments: usize, skip: Option<usize>) -> (String, Vec<String>) {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-ALLOW-CACHE:YES\n#EXT-X-TARGETDURATION:16\n#EXT-X-DISCONTINUITY\n#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=1764000000000\n",
    );
    let mut names = Vec::new();
    for i in (0..segments).filter(|i| Some(*i) != skip) {
        let (m, s) = (i * 15 / 60, i * 15 % 60);
        let name = format!("sid_c_2026112410{m:02}{s:02}000.ts");
        text.push_str(&format!("#EXTINF:15.000000\n{name}\n"));
        names.push(name);
    }
    text.push_str("#EXT-X-ENDLIST\n");
    (text, names)
}

async fn bucket_with(
    dir: &str,
    playlist: &str,
    segments: &[String],
) -> (tempfile::TempDir, Arc<dyn ObjectStore>) {
    let bucket = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    for name in segments {
        put(store.as_ref(), &format!("{dir}/{name}"), &[0x47; 188]).await;
    }
    put(
        store.as_ref(),
        &format!("{dir}/sid_c.m3u8"),
        playlist.as_bytes(),
    )
    .await;
    (bucket, store)
}

fn playlist_only(key: &str) -> Vec<Expected> {
    vec![Expected {
        key: key.into(),
        ..Expected::default()
    }]
}

#[tokio::test]
async fn agoras_missing_comma_is_one_warning_not_a_problem() {
    let (text, names) = agora_playlist(58, None);
    let (_bucket, store) = bucket_with("rec", &text, &names).await;
    let expected = expected_from_playlist(store.as_ref(), "rec/sid_c.m3u8")
        .await
        .unwrap();
    let report = verify(store.as_ref(), None, "rec", &expected, None)
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    assert!(report.passes(false));
    assert!(!report.passes(true), "--strict makes warnings fail");
    let comma: Vec<_> = report
        .warnings
        .iter()
        .filter(|w| w.rule == "extinf-comma")
        .collect();
    assert_eq!(comma.len(), 1, "{:?}", report.warnings);
    assert_eq!((comma[0].count, comma[0].first_line), (58, Some(8)));
    assert_eq!(
        comma[0].lines.len(),
        58,
        "every line stays in the JSON report"
    );
    assert_eq!(comma[0].lines[57], 8 + 2 * 57);
    assert_eq!(
        comma[0].message,
        "58 EXTINF lines without the comma (first at line 8); ffmpeg and hls.js accept it; `stowage playlist merge` writes a strict copy"
    );
    assert_eq!(report.playlists, 1);
    assert!((report.duration_secs - 870.0).abs() < 1e-9);
    // Only the names are known: every object is present but unproven, and says why.
    assert_eq!((report.checked, report.intact), (59, 0));
    assert_eq!(report.unproven.len(), 59);
    assert!(
        report.unproven.iter().all(|u| u.why.contains("--dir DIR")),
        "{:?}",
        report.unproven
    );
}

#[tokio::test]
async fn a_prefix_is_a_directory_not_a_string_prefix() {
    let (text, names) = agora_playlist(3, None);
    let (_bucket, store) = bucket_with("rec/room1", &text, &names).await;
    for name in &names {
        put(
            store.as_ref(),
            &format!("rec/room10/{name}"),
            b"another recording",
        )
        .await;
    }
    put(store.as_ref(), "rec/room1-notes.txt", b"beside, not inside").await;
    let expected = playlist_only("rec/room1/sid_c.m3u8");
    let report = verify(store.as_ref(), None, "rec/room1", &expected, None)
        .await
        .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    assert_eq!(report.checked, 4);
    // A stray file inside the directory is still an orphan.
    put(store.as_ref(), "rec/room1/stray.ts", b"x").await;
    let report = verify(store.as_ref(), None, "rec/room1/", &expected, None)
        .await
        .unwrap();
    assert_eq!(
        report.problems,
        [Problem::Orphan {
            key: "rec/room1/stray.ts".into()
        }]
    );
}

#[tokio::test]
async fn a_hole_in_the_timeline_is_a_problem_with_its_line() {
    // Segment 3 (45 s in) is neither in the playlist nor in the bucket: the durations before
    // it do not reach the next segment's start.
    let (text, names) = agora_playlist(6, Some(3));
    let (_bucket, store) = bucket_with("rec", &text, &names).await;
    let report = verify(
        store.as_ref(),
        None,
        "rec",
        &playlist_only("rec/sid_c.m3u8"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        report.problems,
        [Problem::Gap {
            playlist: "rec/sid_c.m3u8".into(),
            segment: "rec/sid_c_20261124100100000.ts".into(),
            line: Some(15),
            missing_ms: 15_000,
        }]
    );
    // A restart the recorder announced is no hole.
    let restarted = text.replace(
        "#EXTINF:15.000000\nsid_c_20261124100100000.ts",
        "#EXT-X-DISCONTINUITY\n#EXTINF:15.000000\nsid_c_20261124100100000.ts",
    );
    put(store.as_ref(), "rec/sid_c.m3u8", restarted.as_bytes()).await;
    let report = verify(
        store.as_ref(),
        None,
        "rec",
        &playlist_only("rec/sid_c.m3u8"),
        None,
    )
    .await
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
}

#[tokio::test]
async fn a_playlist_that_is_not_utf8_is_a_warning_with_line_and_offset() {
    let text = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,caf\xe9\na.ts\n#EXT-X-ENDLIST\n";
    let bucket = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    put(store.as_ref(), "rec/a.ts", &[0x47; 188]).await;
    put(store.as_ref(), "rec/p.m3u8", text).await;
    let report = verify(
        store.as_ref(),
        None,
        "rec",
        &playlist_only("rec/p.m3u8"),
        None,
    )
    .await
    .unwrap();
    assert!(report.is_complete(), "{:?}", report.problems);
    let w = &report.warnings[0];
    assert_eq!((w.rule.as_str(), w.first_line), ("utf-8", Some(4)));
    assert!(
        w.message.contains("line 4, byte offset 66")
            && w.message
                .contains("RFC 8216 §4.1 requires playlists to be UTF-8"),
        "{}",
        w.message
    );
}

#[tokio::test]
async fn a_playlist_that_cannot_be_parsed_is_a_problem() {
    let bucket = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
    put(store.as_ref(), "rec/p.m3u8", b"<html>404</html>").await;
    let report = verify(
        store.as_ref(),
        None,
        "rec",
        &playlist_only("rec/p.m3u8"),
        None,
    )
    .await
    .unwrap();
    assert!(
        matches!(report.problems.as_slice(), [Problem::PlaylistInvalid { playlist, detail }]
            if playlist == "rec/p.m3u8" && detail.contains("cannot be parsed: line 1")),
        "{:?}",
        report.problems
    );
}
