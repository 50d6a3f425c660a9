//! Live uploads a player can follow: a recorder simulator rewrites its playlist (by rename,
//! and in place: truncate, then write) while `watch` follows it and every publication of the
//! bucket's playlist is recorded. The playlist only grows; a primary outage does not keep
//! segments from a bucket; an idle end closes the playlist and says so.

use std::time::Instant;

use stowage_testkit::hooked::{Hooked, PutLog};

use super::*;

type PlaylistLog = Hooked<PutLog>;

fn logged(inner: Arc<dyn ObjectStore>) -> Arc<PlaylistLog> {
    Hooked::new(inner, PutLog::default())
}

fn segment_name(i: usize) -> String {
    format!("sid_chan_2026112410{:02}{:02}000.ts", i / 30, (i % 30) * 2)
}

/// Agora's form: no comma after the duration.
fn playlist_text(count: usize, ended: bool) -> String {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:3\n",
    );
    for i in 0..count {
        text.push_str(&format!("#EXTINF:2.000\n{}\n", segment_name(i)));
    }
    if ended {
        text.push_str("#EXT-X-ENDLIST\n");
    }
    text
}

/// Writes the playlist the way many recorders do: in place (truncate, then write in two
/// pieces with a pause between), or by rename.
async fn rewrite_playlist(dir: &Path, text: &str, in_place: bool, pause: Duration) {
    let path = dir.join("sid_chan.m3u8");
    if in_place {
        use tokio::io::AsyncWriteExt;
        let mut f = tokio::fs::File::create(&path).await.unwrap();
        let cut = text.len() / 2;
        f.write_all(&text.as_bytes()[..cut]).await.unwrap();
        f.flush().await.unwrap();
        tokio::time::sleep(pause).await;
        f.write_all(&text.as_bytes()[cut..]).await.unwrap();
        f.flush().await.unwrap();
    } else {
        let tmp = dir.join(".sid_chan.m3u8.tmp");
        tokio::fs::write(&tmp, text).await.unwrap();
        tokio::fs::rename(&tmp, &path).await.unwrap();
    }
}

/// A recorder: `count` segments, one every `every`, the playlist rewritten after each;
/// ENDLIST at the end when `end`. Returns when each segment was finished.
async fn record(
    dir: PathBuf,
    count: usize,
    every: Duration,
    seed: u64,
    end: bool,
) -> Vec<(String, Instant)> {
    let mut finished = Vec::new();
    for i in 0..count {
        let name = segment_name(i);
        tokio::fs::write(dir.join(&name), pseudo_random(8_000, seed + i as u64))
            .await
            .unwrap();
        finished.push((name, Instant::now()));
        let in_place = !(seed + i as u64).is_multiple_of(3);
        let pause = Duration::from_millis((seed * 7 + i as u64 * 13) % 30);
        rewrite_playlist(&dir, &playlist_text(i + 1, false), in_place, pause).await;
        tokio::time::sleep(every).await;
    }
    if end {
        rewrite_playlist(&dir, &playlist_text(count, true), false, Duration::ZERO).await;
    }
    finished
}

fn live_watch(idle: Duration) -> stowage_pipeline::WatchOptions {
    stowage_pipeline::WatchOptions {
        poll: Duration::from_millis(20),
        stable_for: Duration::from_millis(150),
        idle_timeout: idle,
        playlist_every: Duration::from_millis(25),
        stop: Arc::default(),
        restore_every: None,
        close_on_idle: true,
    }
}

/// Over 60-segment recordings with several seeds, rewritten in place and by rename, every
/// publication of the bucket's playlist extends the one before it (same lines, more at the
/// end), and the last is the recorder's own file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_growing_playlist_never_shrinks() {
    for seed in [1u64, 2, 3] {
        let spool = tempfile::tempdir().unwrap();
        let bucket = tempfile::tempdir().unwrap();
        let fs: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
        let log = logged(fs.clone());
        let targets = Targets {
            primary: log.clone(),
            backup: None,
        };
        let dir = spool.path().to_path_buf();
        let recorder = tokio::spawn(record(dir, 60, Duration::from_millis(15), seed, true));
        let summary = stowage_pipeline::watch(
            spool.path(),
            &targets,
            &fast_options(""),
            &live_watch(Duration::from_secs(10)),
        )
        .await
        .unwrap();
        let finished = recorder.await.unwrap();
        assert_eq!(summary.status, Status::Uploaded, "seed {seed}: {summary:?}");
        assert_eq!(summary.ended, Some(stowage_pipeline::Ended::EndList));
        let landed: Vec<Duration> = finished
            .iter()
            .map(|(n, done)| {
                log.hooks.landed_at.lock().unwrap()[n].saturating_duration_since(*done)
            })
            .collect();
        let (m, _, x) = spread(landed);
        let (pm, _, px) = spread(to_playlist(&log, &finished));
        eprintln!(
            "seed {seed}: finished → in the bucket: median {m:?}, max {x:?}; → in the playlist: median {pm:?}, max {px:?}"
        );
        let texts = log.hooks.texts();
        assert!(
            texts.len() >= 3,
            "seed {seed}: {} publications",
            texts.len()
        );
        for pair in texts.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            assert!(
                after.starts_with(before.trim_end_matches("#EXT-X-ENDLIST\n")),
                "seed {seed}: the playlist shrank or changed:\n{before}\n---\n{after}"
            );
        }
        assert_eq!(
            texts.last().unwrap(),
            &playlist_text(60, true),
            "seed {seed}"
        );
        for text in &texts {
            assert!(!text.contains(".000,"), "one form, the recorder's: {text}");
        }
    }
}

/// Median and max of `waits`, for the figures the tests print.
fn spread(mut waits: Vec<Duration>) -> (Duration, Duration, Duration) {
    waits.sort();
    let at = |q: usize| waits[(waits.len() * q / 100).min(waits.len() - 1)];
    (at(50), at(95), *waits.last().unwrap())
}

/// Finished → named by a playlist publication of `log`.
fn to_playlist(log: &PlaylistLog, finished: &[(String, Instant)]) -> Vec<Duration> {
    let published = log.hooks.playlists.lock().unwrap();
    finished
        .iter()
        .filter_map(|(name, done)| {
            let at = published.iter().find(|(_, t)| t.contains(name.as_str()))?.0;
            Some(at.saturating_duration_since(*done))
        })
        .collect()
}

/// A 10 s outage of the primary in the middle of a recording, with a backup: a segment
/// finished during it is in some bucket within seconds (p95 under 3 s), and the
/// recording ends with every segment somewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_reach_the_backup_in_seconds_during_an_outage() {
    let server = S3sServer::shared();
    let bucket = unique("outage");
    server.create_bucket(&bucket).unwrap();
    let proxy = FaultProxy::start(server.endpoint(), vec![]).unwrap();
    let primary = logged(Arc::new(s3s_store(proxy.endpoint(), &bucket, 1).await));
    let backup_dir = tempfile::tempdir().unwrap();
    let backup = logged(Arc::new(FsStore::create(backup_dir.path()).await.unwrap()));
    let targets = Targets {
        primary: primary.clone(),
        backup: Some(backup.clone()),
    };
    let spool = tempfile::tempdir().unwrap();
    let dir = spool.path().to_path_buf();
    let recorder = tokio::spawn(record(dir, 50, Duration::from_millis(400), 5, true));
    let outage = async {
        tokio::time::sleep(Duration::from_secs(4)).await;
        proxy.set_rules(vec![FaultRule::new(
            Match::Any,
            Fault::s3_error(503, "ServiceUnavailable", "Please try again."),
            Times::Always,
        )]);
        tokio::time::sleep(Duration::from_secs(10)).await;
        proxy.set_rules(vec![]);
    };
    let opts = Options {
        retry: RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        },
        ..fast_options("")
    };
    let w = stowage_pipeline::WatchOptions {
        restore_every: Some(Duration::from_secs(1)),
        ..live_watch(Duration::from_secs(10))
    };
    let watching = stowage_pipeline::watch(spool.path(), &targets, &opts, &w);
    let (summary, ()) = tokio::join!(watching, outage);
    let summary = summary.unwrap();
    let finished = recorder.await.unwrap();
    assert_eq!(
        summary.status,
        Status::Uploaded,
        "moved back once the primary answered: {summary:?}"
    );
    let waits: Vec<Duration> = finished
        .iter()
        .map(|(name, done)| {
            let first = [&primary, &backup]
                .iter()
                .filter_map(|b| b.hooks.landed_at.lock().unwrap().get(name).copied())
                .min()
                .unwrap_or_else(|| panic!("{name} is in no bucket"));
            first.saturating_duration_since(*done)
        })
        .collect();
    let (median, p95, max) = spread(waits.clone());
    let (pl_median, _, pl_max) = spread(to_playlist(&primary, &finished));
    eprintln!(
        "outage: finished → in a bucket: median {median:?}, p95 {p95:?}, max {max:?}; finished → in the primary's playlist: median {pl_median:?}, max {pl_max:?}"
    );
    let in_backup = backup.hooks.landed_at.lock().unwrap().len();
    assert!(in_backup > 0, "the outage sent nothing to the backup");
    assert!(
        p95 < Duration::from_secs(3),
        "finished → in a bucket: p95 {p95:?}, max {max:?}"
    );
}

/// A recorder that stops without ENDLIST: `watch` ends on the idle timeout, says so in the
/// summary and the manifest, and closes the bucket's playlist as a VOD in the recorder's
/// form; with `close_on_idle` off it stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_end_closes_the_playlist_and_says_so() {
    for close in [true, false] {
        let spool = tempfile::tempdir().unwrap();
        let bucket = tempfile::tempdir().unwrap();
        let fs: Arc<dyn ObjectStore> = Arc::new(FsStore::create(bucket.path()).await.unwrap());
        let targets = Targets {
            primary: fs.clone(),
            backup: None,
        };
        let dir = spool.path().to_path_buf();
        let recorder = tokio::spawn(record(dir, 8, Duration::from_millis(30), 9, false));
        let w = stowage_pipeline::WatchOptions {
            close_on_idle: close,
            ..live_watch(Duration::from_millis(700))
        };
        let summary = stowage_pipeline::watch(spool.path(), &targets, &fast_options("r"), &w)
            .await
            .unwrap();
        recorder.await.unwrap();
        assert_eq!(
            summary.ended,
            Some(stowage_pipeline::Ended::Idle),
            "{summary:?}"
        );
        assert_eq!(summary.status, Status::Uploaded, "{summary:?}");
        let published = fs
            .get("r/sid_chan.m3u8", None)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let published = String::from_utf8(published.to_vec()).unwrap();
        let want = playlist_text(8, close);
        assert_eq!(published, want, "close_on_idle {close}");
        let manifest = fs
            .get("r/stowage-manifest.json", None)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(manifest["ended"], "idle");
        let entry = manifest["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["key"] == "r/sid_chan.m3u8")
            .unwrap()
            .clone();
        assert_eq!(
            entry["size"],
            want.len(),
            "the manifest describes what was published"
        );
        // The verifier agrees with the bucket (the manifest's checksums are the published
        // bytes').
        let crc = stowage_core::checksum::checksum_bytes(
            want.as_bytes(),
            &[stowage_core::ChecksumAlgo::Crc64Ecma],
        );
        assert_eq!(
            entry["checksums"]["crc64ecma"],
            crc.get(stowage_core::ChecksumAlgo::Crc64Ecma).unwrap()
        );
    }
}
