//! A recorder pushes each finished segment as it is written; the bucket's playlist grows only
//! with segments the bucket confirmed, so a player never asks for one that is not there.
//!
//! ```text
//! cargo run -p stowage --example live_session -- ./spool s3://my-bucket/live/room-1
//! ```

use std::path::Path;

use stowage::{Session, Settings, Targets, UploadOptions, open};

/// Simulates a recorder writing `segments` segments into `spool`, each pushed to the bucket
/// at `url` once written; returns how many segments the bucket's playlist names.
pub async fn run(
    spool: &Path,
    url: &str,
    settings: &Settings,
    segments: usize,
) -> Result<usize, Box<dyn std::error::Error>> {
    let bucket = open(url, settings).await?;
    let targets = Targets {
        primary: bucket.store.clone(),
        backup: None,
    };
    let opts = UploadOptions {
        prefix: bucket.prefix.clone(),
        ..UploadOptions::default()
    };
    std::fs::create_dir_all(spool)?;
    let session = Session::open(spool, &targets, &opts).await?;
    let playlist = spool.join("live.m3u8");
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:EVENT\n",
    );
    let mut named = 0;
    for i in 0..segments {
        // The recorder finishes a segment, then names it in its playlist.
        let segment = spool.join(format!("seg{i}.ts"));
        std::fs::write(&segment, vec![0x47u8; 188 * 16])?;
        text.push_str(&format!("#EXTINF:2.0,\nseg{i}.ts\n"));
        std::fs::write(&playlist, &text)?;
        // The backend pushes the segment, then publishes what the bucket holds of the playlist.
        session.submit(&segment).await?;
        named = session.publish_partial(&playlist).await?;
        println!("segment {i} landed; the bucket's playlist names {named}");
    }
    text.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(&playlist, &text)?;
    session.submit(&playlist).await?;
    let summary = session.finish().await?;
    println!("{:?}: {} objects", summary.status, summary.objects);
    Ok(named)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(spool), Some(url)) = (args.next(), args.next()) else {
        return Err("usage: live_session SPOOL_DIR BUCKET_URL".into());
    };
    run(Path::new(&spool), &url, &Settings::from_env()?, 5).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_playlist_grows_with_confirmed_segments() {
        let tmp = tempfile::tempdir().unwrap();
        let bucket = tmp.path().join("bucket");
        let settings = Settings::builder().create_local(true).build();
        let url = format!("{}", bucket.display());
        let named = run(&tmp.path().join("spool"), &url, &settings, 4)
            .await
            .unwrap();
        assert_eq!(named, 4);
        let published = std::fs::read_to_string(bucket.join("live.m3u8")).unwrap();
        assert!(
            published.contains("seg3.ts") && published.contains("#EXT-X-ENDLIST"),
            "{published}"
        );
    }
}
