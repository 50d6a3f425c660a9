//! Parse + merge + write of a 100 000-segment recording (two playlists of 50 000 segments,
//! Agora-style names and quirks), beside plain m3u8-rs parsing of the same text.
//! Goal: the whole path under 50 ms.
//!
//! `cargo bench -p stowage-benches --bench playlist`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stowage_hls::merge::{Input, Overlap};

/// An Agora-style playlist of `n` segments of 6.006 s starting at `start_ms` (Unix ms).
fn agora_text(sid: &str, n: usize, start_ms: i64) -> String {
    let mut s = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-ALLOW-CACHE:YES\n#EXT-X-TARGETDURATION:7\n",
    );
    for i in 0..n {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(start_ms + 6006 * i as i64) * 1_000_000,
        )
        .expect("time");
        if i % 1000 == 0 {
            s.push_str("#EXT-X-DISCONTINUITY\n");
            s.push_str(&format!(
                "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME={}\n",
                start_ms + 6006 * i as i64
            ));
        }
        let utc = stowage_hls::agora::format_compact_utc(t);
        s.push_str(&format!("#EXTINF:6.006000\n{sid}_channel_{utc}.ts\n"));
    }
    s.push_str("#EXT-X-ENDLIST\n");
    s
}

fn bench(c: &mut Criterion) {
    let a = agora_text("sidA", 50_000, 1_764_000_000_000);
    let b = agora_text("sidB", 50_000, 1_764_000_000_000 + 50_000 * 6006 + 60_000);
    let both = [("sidA_channel.m3u8", &a), ("sidB_channel.m3u8", &b)];

    let mut g = c.benchmark_group("playlist 100k segments");
    g.sample_size(20);
    g.bench_function("stowage: parse + merge + write", |bench| {
        bench.iter(|| {
            let inputs = both
                .iter()
                .map(|(name, text)| Input {
                    name: name.to_string(),
                    size: text.len() as u64,
                    playlist: stowage_hls::parse(text).expect("parse"),
                })
                .collect();
            let merged = stowage_hls::merge(inputs, Overlap::Trim);
            black_box(stowage_hls::write(&merged.playlist))
        })
    });
    g.bench_function("stowage: parse only", |bench| {
        bench.iter(|| {
            both.iter()
                .map(|(_, t)| stowage_hls::parse(t).expect("parse").segments.len())
                .sum::<usize>()
        })
    });
    g.bench_function("m3u8-rs: parse only", |bench| {
        bench.iter(|| {
            both.iter()
                .map(
                    |(_, t)| match m3u8_rs::parse_media_playlist_res(t.as_bytes()) {
                        Ok(p) => p.segments.len(),
                        Err(_) => 0,
                    },
                )
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
