//! stowage-hls: parsing real recorder output, strict writing, validation, incremental
//! EVENT playlists, merging, and round trips.

use stowage_hls::merge::{Input, Overlap};
use stowage_hls::parse::NoteKind;
use stowage_hls::{
    EventPlaylist, Level, SegDuration, Segment, merge, parse, parse_with_notes, validate, write,
};
use time::macros::datetime;

/// Agora's documented playlist (domain.md §A9), filled in.
const AGORA: &str = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-ALLOW-CACHE:YES
#EXT-X-TARGETDURATION:34
#EXT-X-DISCONTINUITY
#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=480,ROTATE=0,TIME=20190920125142485
#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20190920125142485
#EXTINF:6.332000
sid713476478245_cnameagora_20190920125142485.ts
#EXT-X-AGORA-ROTATE:WIDTH=480,HEIGHT=640,ROTATE=90,TIME=1568984108817
#EXT-X-DISCONTINUITY
#EXTINF:17.442000
sid713476478245_cnameagora_20190920125148817.ts
#EXT-X-ENDLIST
";

#[test]
fn agora_playlist_loads_with_its_quirks() {
    let parsed = parse_with_notes(AGORA).expect("Agora's own playlist must load");
    let p = &parsed.playlist;
    assert_eq!(p.segments.len(), 2);
    assert_eq!(p.segments[0].duration.as_str(), "6.332000");
    assert_eq!(p.segments[1].duration.micros(), 17_442_000);
    assert!(p.segments[0].discontinuity && p.segments[1].discontinuity);
    assert_eq!(
        p.segments[0].tags.len(),
        2,
        "ROTATE and TRACK-EVENT follow the leading discontinuity"
    );
    assert_eq!(
        p.segments[1].tags_before_discontinuity.len(),
        1,
        "the second ROTATE stood before its discontinuity"
    );
    assert_eq!(p.header_tags, vec!["#EXT-X-ALLOW-CACHE:YES".to_string()]);
    assert!(p.end_list);
    let missing_commas = parsed
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::ExtinfWithoutComma)
        .count();
    assert_eq!(missing_commas, 2);
    assert_eq!(
        p.segments[0].start_time(),
        Some(datetime!(2019-09-20 12:51:42.485 UTC))
    );
    // The unix-ms TIME form is understood too.
    assert_eq!(
        stowage_hls::agora::time_in_agora_tag(&p.segments[1].tags_before_discontinuity[0]),
        Some(datetime!(2019-09-20 12:55:08.817 UTC))
    );
}

#[test]
fn agora_playlist_is_written_strictly_with_tags_where_they_stood() {
    let out = write(&parse(AGORA).unwrap());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..4],
        [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            "#EXT-X-TARGETDURATION:34",
            "#EXT-X-MEDIA-SEQUENCE:0"
        ]
    );
    assert!(out.contains("#EXTINF:6.332000,\n"), "{out}");
    let rotate = lines
        .iter()
        .position(|l| l.starts_with("#EXT-X-AGORA-ROTATE:WIDTH=480"))
        .unwrap();
    assert_eq!(lines[rotate + 1], "#EXT-X-DISCONTINUITY", "{out}");
    assert!(
        lines[rotate + 2].starts_with("#EXT-X-PROGRAM-DATE-TIME:2019-09-20T12:51:48.817Z"),
        "{out}"
    );
    assert!(out.starts_with("#EXTM3U") && out.ends_with("#EXT-X-ENDLIST\n"));
    let violations = validate(&out).unwrap();
    assert!(
        stowage_hls::validate::is_valid(&violations),
        "{violations:?}"
    );
}

#[test]
fn crlf_bom_and_ffmpeg_output_load() {
    let text = "\u{feff}#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:2\r\n#EXT-X-MEDIA-SEQUENCE:0\r\n#EXTINF:2.000000,\r\nseg0.ts\r\n#EXTINF:1.960000,\r\nseg1.ts\r\n#EXT-X-ENDLIST\r\n";
    let parsed = parse_with_notes(text).unwrap();
    assert_eq!(
        parsed
            .playlist
            .segments
            .iter()
            .map(|s| s.uri.as_str())
            .collect::<Vec<_>>(),
        ["seg0.ts", "seg1.ts"]
    );
    assert!(
        parsed
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::ByteOrderMark)
    );
    let v = validate(text).unwrap();
    assert!(
        v.iter()
            .any(|x| x.rule == "byte-order-mark" && x.level == Level::Error)
    );
    assert!(!write(&parsed.playlist).contains('\r'));
}

#[test]
fn livekit_event_playlist_loads() {
    let text = "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-ALLOW-CACHE:NO\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PROGRAM-DATE-TIME:2024-03-01T10:00:00.000Z\n#EXTINF:6.000,\nroom_00000.ts\n#EXT-X-PROGRAM-DATE-TIME:2024-03-01T10:00:06.000+0800\n#EXTINF:6.000,\nroom_00001.ts\n";
    let p = parse(text).unwrap();
    assert_eq!(p.playlist_type, Some(stowage_hls::PlaylistType::Event));
    assert_eq!(
        p.segments[0].program_date_time,
        Some(datetime!(2024-03-01 10:00:00 UTC))
    );
    assert_eq!(
        p.segments[1].program_date_time,
        Some(datetime!(2024-03-01 02:00:06 UTC)),
        "a +0800 offset without a colon"
    );
    assert!(!p.end_list);
}

#[test]
fn malformed_input_names_the_line() {
    let cases = [
        ("", 1, "#EXTM3U"),
        ("hello\n", 1, "#EXTM3U"),
        ("#EXTM3U\n#EXTINF:abc,\nx.ts\n", 2, "decimal duration"),
        ("#EXTM3U\nx.ts\n", 2, "#EXTINF"),
        ("#EXTM3U\n#EXTINF:2,\n", 2, "segment URI"),
        (
            "#EXTM3U\n#EXTINF:2,\n#EXTINF:3,\nx.ts\n",
            3,
            "segment URI after the #EXTINF on line 2",
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
            2,
            "media playlist",
        ),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:ten\n", 2, "integer"),
        (
            "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:1,\nx.ts\n",
            2,
            "ISO 8601",
        ),
    ];
    for (text, line, expected) in cases {
        let e = parse(text).expect_err(text);
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.to_string().contains(expected), "{text:?}: {e}");
    }
}

#[test]
fn no_input_panics() {
    // Cheap fuzzing in the test suite; `fuzz/` has the real target.
    let pieces = [
        "#EXTM3U\n",
        "#EXTINF:",
        "1.5",
        ",",
        "\n",
        "a.ts",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-TARGETDURATION:",
        "\r\n",
        "#EXT-X-AGORA-ROTATE:TIME=",
        "99999999999999999999",
        ".",
        "#EXT-X-BYTERANGE:",
        "\u{feff}",
        "é",
        "#EXT-X-ENDLIST",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..(x % 12) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(pieces[(x % pieces.len() as u64) as usize]);
        }
        x = x.wrapping_add(1);
        if let Ok(p) = parse(&text) {
            let again = parse(&write(&p)).expect("what we write must parse");
            assert_eq!(again.segments.len(), p.segments.len());
        }
        let _ = validate(&text);
    }
}

#[test]
fn target_duration_is_the_max_rounded_half_up() {
    let mut p = stowage_hls::Playlist::default();
    p.segments
        .push(Segment::new("a.ts", SegDuration::parse("6.4").unwrap()));
    assert!(write(&p).contains("#EXT-X-TARGETDURATION:6\n"));
    p.segments
        .push(Segment::new("b.ts", SegDuration::parse("6.5").unwrap()));
    assert!(write(&p).contains("#EXT-X-TARGETDURATION:7\n"));
    // A declared target below what a segment needs is corrected, and flagged when read.
    let low =
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:5\n#EXTINF:5.6,\na.ts\n#EXT-X-ENDLIST\n";
    let v = validate(low).unwrap();
    let bad = v
        .iter()
        .find(|x| x.rule == "target-duration")
        .expect("flagged");
    assert_eq!((bad.level, bad.line), (Level::Error, Some(5)));
    assert!(write(&parse(low).unwrap()).contains("#EXT-X-TARGETDURATION:6\n"));
}

#[test]
fn durations_are_exact() {
    let mut p = stowage_hls::Playlist::default();
    for i in 0..10_000 {
        p.segments.push(Segment::new(
            format!("{i}.ts"),
            SegDuration::parse("6.006").unwrap(),
        ));
    }
    assert_eq!(
        p.duration().micros(),
        60_060_000_000,
        "f32 would give 60067.6 s"
    );
    assert_eq!(
        SegDuration::parse("0.0000005").unwrap().micros(),
        1,
        "7th digit rounds half up"
    );
    assert_eq!(SegDuration::from_micros(2_000_000).as_str(), "2.000");
    assert!(
        SegDuration::parse("-1").is_none()
            && SegDuration::parse("1e3").is_none()
            && SegDuration::parse(".").is_none()
    );
}

#[test]
fn version_follows_features() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\n#EXT-X-BYTERANGE:100@0\nseg.m4s\n";
    let p = parse(text).unwrap();
    assert_eq!(p.required_version(), 6);
    assert!(write(&p).contains("#EXT-X-VERSION:6\n"));
    let v = validate(text).unwrap();
    assert!(
        v.iter()
            .any(|x| x.rule == "version" && x.level == Level::Error),
        "{v:?}"
    );
}

#[test]
fn validator_reports_every_rule_broken() {
    let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-ALLOW-CACHE:YES\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.5\na.ts\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:2,\na.ts\n";
    let rules: Vec<&str> = validate(text).unwrap().iter().map(|v| v.rule).collect();
    for r in [
        "target-duration",
        "allow-cache",
        "endlist",
        "extinf-comma",
        "media-sequence-position",
        "duplicate-segment",
    ] {
        assert!(rules.contains(&r), "{r} missing from {rules:?}");
    }
}

fn seg(uri: &str, secs: &str) -> Segment {
    Segment::new(uri, SegDuration::parse(secs).unwrap())
}

#[test]
fn event_playlist_grows_only_with_confirmed_segments() {
    let mut ev = EventPlaylist::new(6);
    assert!(ev.render().contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
    assert!(!ev.render().contains("#EXTINF"));
    ev.append_confirmed(seg("s0.ts", "6.0"));
    ev.append_confirmed(seg("s1.ts", "6.0"));
    let mut s2 = seg("s2.ts", "5.5");
    s2.discontinuity = true;
    ev.append_confirmed(s2);
    ev.append_confirmed(seg("s3.ts", "6.0"));
    let mid = ev.render();
    assert!(!mid.contains("ENDLIST") && mid.matches("#EXTINF").count() == 4);
    let live = ev.render_live(2);
    assert!(
        live.contains("#EXT-X-MEDIA-SEQUENCE:2\n") && !live.contains("PLAYLIST-TYPE"),
        "{live}"
    );
    assert!(!live.contains("s1.ts") && live.contains("s2.ts"));
    let live1 = ev.render_live(1);
    assert!(
        live1.contains("#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"),
        "{live1}"
    );
    let done = ev.finish();
    assert!(done.ends_with("#EXT-X-ENDLIST\n") && ev.is_finished());
    assert!(stowage_hls::validate::is_valid(&validate(&done).unwrap()));
}

fn agora_playlist(sid: &str, start: &str, count: usize) -> stowage_hls::Playlist {
    let base = stowage_hls::agora::parse_compact_utc(start).unwrap();
    let mut p = stowage_hls::Playlist::default();
    for i in 0..count {
        let t = base + time::Duration::seconds(2 * i as i64);
        let name = format!("{sid}_chan_{}.ts", compact(t));
        p.segments.push(seg(&name, "2.000"));
    }
    p
}

fn compact(t: time::OffsetDateTime) -> String {
    stowage_hls::agora::format_compact_utc(t)
}

fn input(name: &str, size: u64, p: stowage_hls::Playlist) -> Input {
    Input {
        name: name.into(),
        size,
        playlist: p,
    }
}

#[test]
fn merge_picks_the_larger_backup_copy_and_orders_by_time() {
    let later = agora_playlist("sidB", "20261124100100000", 3);
    let main = agora_playlist("sidA", "20261124100000000", 3);
    let short_copy = agora_playlist("sidA", "20261124100000000", 2);
    let m = merge(
        vec![
            input("sidB_chan.m3u8", 300, later),
            input("sidA_chan_22194679897_0.m3u8", 200, short_copy),
            input("sidA_chan.m3u8", 300, main),
        ],
        Overlap::Trim,
    );
    assert_eq!(m.report.order, ["sidA_chan.m3u8", "sidB_chan.m3u8"]);
    let copy = m
        .report
        .inputs
        .iter()
        .find(|i| i.name.contains("_0.m3u8"))
        .unwrap();
    assert!(!copy.used && copy.reason.contains("original"), "{copy:?}");
    assert_eq!(m.report.junctions, 1);
    assert_eq!(m.playlist.segments.len(), 6);
    let junction = &m.playlist.segments[3];
    assert!(junction.discontinuity);
    assert_eq!(
        junction.program_date_time,
        Some(datetime!(2026-11-24 10:01:00 UTC))
    );
    let text = write(&m.playlist);
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD\n") && text.ends_with("#EXT-X-ENDLIST\n"));
    assert!(stowage_hls::validate::is_valid(&validate(&text).unwrap()));
}

#[test]
fn merge_prefers_a_larger_resend_and_handles_failover_overlap() {
    let original = agora_playlist("sidA", "20261124100000000", 2);
    let resent = agora_playlist("sidA", "20261124100000000", 4);
    // The failover copy restarts 2 s before the original ended: one segment overlaps.
    let mut bak = agora_playlist("sidA", "20261124100006000", 3);
    bak.segments[0].uri = format!("bak0_{}", bak.segments[0].uri);
    let m = merge(
        vec![
            input("sidA_chan.m3u8", 100, original),
            input("sidA_chan_22194679897_1.m3u8", 200, resent),
            input("bak0_sidA_chan.m3u8", 150, bak.clone()),
        ],
        Overlap::Trim,
    );
    let chosen = m
        .report
        .inputs
        .iter()
        .find(|i| i.used && i.name.contains("_1.m3u8"))
        .expect("the larger resend is used");
    assert!(chosen.reason.contains("larger"), "{chosen:?}");
    assert_eq!(m.report.overlap_trimmed.len(), 1, "{:?}", m.report);
    assert_eq!(m.playlist.segments.len(), 6);
    let kept = merge(
        vec![
            input(
                "sidA_chan.m3u8",
                100,
                agora_playlist("sidA", "20261124100000000", 4),
            ),
            input("bak0_sidA_chan.m3u8", 150, bak),
        ],
        Overlap::Keep,
    );
    assert_eq!(
        (
            kept.playlist.segments.len(),
            kept.report.overlap_trimmed.len()
        ),
        (7, 0)
    );
}

#[test]
fn merge_drops_duplicate_segments() {
    let a = agora_playlist("sidA", "20261124100000000", 3);
    let b = agora_playlist("sidA", "20261124100000000", 5);
    let m = merge(
        vec![input("x/one.m3u8", 1, a), input("y/two.m3u8", 1, b)],
        Overlap::Keep,
    );
    assert_eq!(m.report.duplicates_dropped.len(), 3);
    assert_eq!(m.playlist.segments.len(), 5);
}

/// Random playlists survive write → parse → write unchanged (seeded, so failures reproduce).
#[test]
fn round_trip_property() {
    let mut x: u64 = 42;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for case in 0..500 {
        let mut p = stowage_hls::Playlist {
            media_sequence: next(5),
            target_duration: Some(next(12)),
            ..Default::default()
        };
        if next(2) == 0 {
            p.header_tags.push("#EXT-X-START:TIME-OFFSET=0".into());
        }
        for i in 0..next(30) {
            let mut s = seg(
                &format!("dir/seg {case}-{i}.ts"),
                &format!("{}.{:03}", next(11), next(1000)),
            );
            s.discontinuity = next(4) == 0;
            if next(5) == 0 {
                s.tags.push(format!(
                    "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TIME={}",
                    1_700_000_000_000 + next(1_000_000)
                ));
            }
            if next(6) == 0 {
                s.title = "title".into();
            }
            p.segments.push(s);
        }
        p.end_list = next(2) == 0;
        let once = write(&p);
        let reparsed = parse(&once).unwrap_or_else(|e| panic!("case {case}: {e}\n{once}"));
        assert_eq!(write(&reparsed), once, "case {case}");
        let key = |s: &Segment| {
            (
                s.uri.clone(),
                s.duration.clone(),
                s.title.clone(),
                s.discontinuity,
                s.tags.clone(),
            )
        };
        assert_eq!(
            reparsed.segments.iter().map(key).collect::<Vec<_>>(),
            p.segments.iter().map(key).collect::<Vec<_>>(),
            "case {case}"
        );
        assert_eq!(
            (
                reparsed.media_sequence,
                reparsed.end_list,
                &reparsed.header_tags
            ),
            (p.media_sequence, p.end_list, &p.header_tags)
        );
    }
}

/// Real HLS from ffmpeg, merged, played back by ffprobe and ffmpeg.
mod players {
    use std::path::Path;
    use std::process::Command;

    use stowage_hls::merge::{Input, Overlap};
    use stowage_hls::{merge, parse, validate, write};

    fn run(cmd: &mut Command) -> std::process::Output {
        let name = format!("{:?}", cmd.get_program());
        cmd.output().unwrap_or_else(|e| {
            panic!("{name} must be installed (scripts/test installs ffmpeg): {e}")
        })
    }

    /// `seconds` of test pattern in 2 s segments, renamed the Agora way (`<sid>_chan_<utc>.ts`)
    /// from `start`, with its playlist `<sid>_chan.m3u8`; returns the playlist's path.
    fn record(dir: &Path, sid: &str, start: &str, seconds: u32) -> std::path::PathBuf {
        let tmp = dir.join(format!("{sid}-raw"));
        std::fs::create_dir_all(&tmp).unwrap();
        let o = run(Command::new("ffmpeg").current_dir(&tmp).args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc=size=160x90:rate=15:duration={seconds}"),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_list_size",
            "0",
            "-hls_segment_filename",
            "raw%d.ts",
            "raw.m3u8",
        ]));
        assert!(
            o.status.success(),
            "ffmpeg: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut p = parse(&std::fs::read_to_string(tmp.join("raw.m3u8")).unwrap()).unwrap();
        let mut t = stowage_hls::agora::parse_compact_utc(start).unwrap();
        for seg in &mut p.segments {
            let name = format!("{sid}_chan_{}.ts", super::compact(t));
            std::fs::rename(tmp.join(&seg.uri), dir.join(&name)).unwrap();
            seg.uri = name;
            t += time::Duration::microseconds(seg.duration.micros() as i64);
        }
        let out = dir.join(format!("{sid}_chan.m3u8"));
        std::fs::write(&out, write(&p)).unwrap();
        out
    }

    #[test]
    fn merged_recordings_play_through_with_the_expected_duration() {
        let dir = tempfile::tempdir().unwrap();
        // Two recordings of one channel with a 6 s gap between them, given out of order.
        let b = record(dir.path(), "sidB", "20261124100010000", 4);
        let a = record(dir.path(), "sidA", "20261124100000000", 4);
        let inputs = [b, a]
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                Input {
                    name: p.file_name().unwrap().to_string_lossy().into(),
                    size: text.len() as u64,
                    playlist: parse(&text).unwrap(),
                }
            })
            .collect();
        let merged = merge(inputs, Overlap::Trim);
        assert_eq!(merged.report.order, ["sidA_chan.m3u8", "sidB_chan.m3u8"]);
        let text = write(&merged.playlist);
        assert!(
            stowage_hls::validate::is_valid(&validate(&text).unwrap()),
            "{text}"
        );
        let out = dir.path().join("merged.m3u8");
        std::fs::write(&out, &text).unwrap();

        let probe = run(Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
            ])
            .arg(&out));
        assert!(
            probe.status.success(),
            "ffprobe: {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let secs: f64 = String::from_utf8_lossy(&probe.stdout)
            .trim()
            .parse()
            .expect("a duration");
        assert!(
            (secs - 8.0).abs() <= 0.1,
            "ffprobe says {secs} s, expected 8 ± 0.1\n{text}"
        );

        let play = run(Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&out)
            .args(["-f", "null", "-"]));
        let errors = String::from_utf8_lossy(&play.stderr);
        assert!(
            play.status.success() && errors.trim().is_empty(),
            "ffmpeg could not play the merged playlist: {errors}"
        );
    }
}

/// Found by `cargo fuzz`: tags after a dangling segment tag, with no segment, must be
/// written back verbatim so writing stays idempotent.
#[test]
fn dangling_tags_are_kept_verbatim() {
    let text = "#EXTM3U\n#EXT-XA-EQUENCE:0\n#EXT-X-BYTERANGE:2\n#EXTIN]:2.000000,V\n#EXT-X-VERSION:8\n#EXT-X-ALLOW-CACHE:YES\n#EXT-X-TARGETDURATION:33\n#EXT-X-DISCON23\n";
    let p = parse(text).unwrap();
    assert_eq!(
        p.trailing_tags,
        [
            "#EXT-X-BYTERANGE:2",
            "#EXTIN]:2.000000,V",
            "#EXT-X-ALLOW-CACHE:YES",
            "#EXT-X-DISCON23"
        ]
    );
    let once = write(&p);
    assert_eq!(write(&parse(&once).unwrap()), once);
}

/// Found by `cargo fuzz`: a multi-byte character near the end of a date-time.
#[test]
fn odd_date_times_are_errors_not_panics() {
    let e = parse("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:\u{3ad}INX4\n#EXTINF:1,\na.ts\n").unwrap_err();
    assert_eq!(e.line, 2);
}

/// An Agora playlist breaks one rule on every segment; the summary says it once, with the
/// count, the first line and what players make of it.
#[test]
fn a_rule_broken_on_every_segment_is_summarized_once() {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:16\n#EXT-X-DISCONTINUITY\n",
    );
    for i in 0..58 {
        text.push_str(&format!(
            "#EXTINF:15.000000\nsid_c_2026112410{i:02}00000.ts\n"
        ));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    let violations = validate(&text).unwrap();
    assert_eq!(violations.len(), 58, "{violations:?}");
    let summaries = stowage_hls::summarize(&violations);
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let s = &summaries[0];
    assert_eq!(
        (s.rule, s.count, s.first_line),
        ("extinf-comma", 58, Some(6))
    );
    assert_eq!(
        s.message,
        "58 EXTINF lines without the comma (first at line 6); ffmpeg and hls.js accept it; `stowage playlist merge` writes a strict copy"
    );
}

#[test]
fn summaries_keep_the_first_line_and_the_count_of_other_rules() {
    let text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXTINF:4.0,\nb.ts\n#EXTINF:5.0,\nc.ts\n#EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n";
    let summaries = stowage_hls::summarize(&validate(text).unwrap());
    let target = summaries
        .iter()
        .find(|s| s.rule == "target-duration")
        .unwrap();
    assert_eq!((target.count, target.first_line), (2, Some(7)));
    assert!(
        target.message.contains("(first at line 7; 1 more like it)")
            && target.message.contains("hls.js play it"),
        "{}",
        target.message
    );
    let dup = summaries
        .iter()
        .find(|s| s.rule == "duplicate-segment")
        .unwrap();
    assert_eq!((dup.count, dup.first_line), (1, Some(11)));
    assert!(dup.message.ends_with("(line 11)"), "{}", dup.message);
}

/// Bytes that are not UTF-8 are named by line and byte offset, and the rest is still
/// checked.
#[test]
fn a_playlist_that_is_not_utf8_is_named_by_line_and_offset() {
    let bytes = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,caf\xe9\na.ts\n#EXT-X-ENDLIST\n";
    let violations = stowage_hls::validate_bytes(bytes).unwrap();
    let first = &violations[0];
    assert_eq!(
        (first.rule, first.line, first.level),
        ("utf-8", Some(4), Level::Error)
    );
    assert!(
        first.message.contains("byte offset 64 (byte 0xE9)")
            && first
                .message
                .contains("RFC 8216 §4.1 requires playlists to be UTF-8"),
        "{}",
        first.message
    );
    assert_eq!(violations.len(), 1, "the rest is valid: {violations:?}");
    assert_eq!(
        stowage_hls::validate_bytes(b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n").unwrap(),
        vec![]
    );
}
