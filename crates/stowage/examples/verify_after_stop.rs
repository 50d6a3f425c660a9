//! After Agora's `stop` call: its response names the recording's playlist; verify that the
//! playlist and every segment it names are in the bucket, intact, and print a report.
//!
//! ```text
//! cargo run -p stowage --example verify_after_stop -- stop-response.json oss://my-bucket/
//! ```

use std::path::Path;

use stowage::verify::Report;
use stowage::{Settings, open};

/// Verifies the recording an Agora `stop` (or `query`) response names, in the bucket at
/// `url` (its root, or the directory the response's names are relative to).
pub async fn run(
    stop_response: &[u8],
    url: &str,
    settings: &Settings,
) -> Result<Report, Box<dyn std::error::Error>> {
    let bucket = open(url, settings).await?;
    let mut expected = stowage::verify::expected_from_agora(stop_response)?;
    for e in &mut expected {
        e.key = stowage::verify::key_under(&bucket.prefix, &e.key);
    }
    let store = bucket.store.as_ref();
    let mut report = stowage::verify::verify(store, None, &bucket.prefix, &expected, None).await?;
    // Only the playlist is named; other objects under the prefix are not orphans of it.
    report
        .problems
        .retain(|p| !matches!(p, stowage::verify::Problem::Orphan { .. }));
    Ok(report)
}

fn print(report: &Report) {
    println!(
        "{} objects checked, {} intact, {} unproven, {} problems, {:.1} s of media",
        report.checked,
        report.intact,
        report.unproven.len(),
        report.problems.len(),
        report.duration_secs
    );
    for p in &report.problems {
        println!("problem: {p:?}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(response), Some(url)) = (args.next(), args.next()) else {
        return Err("usage: verify_after_stop STOP_RESPONSE.json BUCKET_URL".into());
    };
    let report = run(
        &std::fs::read(Path::new(&response))?,
        &url,
        &Settings::from_env()?,
    )
    .await?;
    print(&report);
    if !report.is_complete() {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOP: &str = r#"{"resourceId":"r","sid":"sid1","serverResponse":{"fileListMode":"json","fileList":[{"fileName":"rec/sid1_room.m3u8","trackType":"audio_and_video","uid":"0","mixedAllUser":true,"isPlayable":true,"sliceStartTime":1700000000000}],"uploadingStatus":"uploaded"}}"#;

    #[tokio::test]
    async fn a_complete_recording_and_a_missing_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = tmp.path().join("bucket/rec");
        std::fs::create_dir_all(&rec).unwrap();
        let mut playlist = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
        for i in 0..3 {
            std::fs::write(rec.join(format!("sid1_room_{i}.ts")), vec![0x47; 188]).unwrap();
            playlist.push_str(&format!("#EXTINF:2.0,\nsid1_room_{i}.ts\n"));
        }
        playlist.push_str("#EXT-X-ENDLIST\n");
        std::fs::write(rec.join("sid1_room.m3u8"), playlist).unwrap();
        let url = tmp.path().join("bucket");
        let url = url.to_str().unwrap();
        let report = run(STOP.as_bytes(), url, &Settings::default())
            .await
            .unwrap();
        print(&report);
        assert!(report.is_complete(), "{:?}", report.problems);
        assert_eq!(report.playlists, 1);

        std::fs::remove_file(rec.join("sid1_room_1.ts")).unwrap();
        let report = run(STOP.as_bytes(), url, &Settings::default())
            .await
            .unwrap();
        assert!(!report.is_complete());
    }
}
