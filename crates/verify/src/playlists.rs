//! A playlist in the bucket, read as a player would: the segments it names must be there,
//! and its timeline must not skip media. Departures from RFC 8216 that players tolerate
//! (Agora's EXTINF without a comma, a legacy tag, a byte-order mark, bytes that are not
//! UTF-8) are warnings, said once per playlist and rule with a count and the first line.

use std::collections::BTreeMap;

use stowage_core::{ObjectMeta, ObjectStore};
use stowage_hls::{Playlist, Segment};

use crate::{Problem, Report, Warning};

/// Checks one playlist; returns the keys of the segments it names.
pub(crate) async fn check_playlist(
    store: &dyn ObjectStore,
    key: &str,
    listed: &BTreeMap<String, ObjectMeta>,
    report: &mut Report,
) -> Vec<String> {
    if !listed.contains_key(key) {
        return Vec::new(); // already reported as missing
    }
    report.requests += 1;
    let bytes = match store.get(key, None).await {
        Ok(g) => match g.bytes().await {
            Ok(b) => b,
            Err(e) => return invalid(report, key, e.to_string()),
        },
        Err(e) => return invalid(report, key, e.to_string()),
    };
    let (text, not_utf8) = stowage_hls::decode(&bytes);
    if let Some(bad) = not_utf8 {
        report.warnings.push(Warning {
            playlist: key.into(),
            rule: "utf-8".into(),
            count: bad.lines,
            first_line: Some(bad.line),
            lines: vec![bad.line],
            message: bad.to_string(),
        });
    }
    let playlist = match stowage_hls::parse(&text) {
        Ok(p) => p,
        Err(e) => return invalid(report, key, format!("cannot be parsed: {e}")),
    };
    warn_departures(key, &text, report);
    report.playlists += 1;
    report.duration_secs += playlist.duration().as_secs_f64();
    let lines = uri_lines(&text);
    report.problems.extend(gaps(key, &playlist, &lines));
    let base = key
        .rsplit_once('/')
        .map_or(String::new(), |(d, _)| format!("{d}/"));
    let mut named = Vec::new();
    for seg in playlist.segments.iter().filter(|s| !s.uri.contains("://")) {
        let seg_key = format!("{base}{}", seg.uri);
        if !listed.contains_key(&seg_key) {
            report.problems.push(Problem::PlaylistNamesMissing {
                playlist: key.into(),
                segment: seg_key.clone(),
            });
        }
        named.push(seg_key);
    }
    named
}

fn invalid(report: &mut Report, playlist: &str, detail: String) -> Vec<String> {
    report.problems.push(Problem::PlaylistInvalid {
        playlist: playlist.into(),
        detail,
    });
    Vec::new()
}

/// Every rule of RFC 8216 the playlist breaks, once per rule: players play these.
fn warn_departures(key: &str, text: &str, report: &mut Report) {
    let Ok(violations) = stowage_hls::validate(text) else {
        return;
    };
    for s in stowage_hls::summarize(&violations) {
        if s.rule == "allow-cache" && s.level == stowage_hls::Level::Warning {
            continue; // legal before version 7: legacy, not a departure
        }
        report.warnings.push(Warning {
            playlist: key.into(),
            rule: s.rule.into(),
            count: s.count,
            first_line: s.first_line,
            lines: s.lines,
            message: s.message,
        });
    }
}

/// 1-based line numbers of the segment URIs, in order.
fn uri_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// When a segment starts by the clock: its program date time, else the `<utc>` in an Agora
/// segment name.
fn wall_clock_start(s: &Segment) -> Option<time::OffsetDateTime> {
    s.program_date_time
        .or_else(|| stowage_hls::agora::time_in_segment_name(&s.uri))
}

/// A recorder that (re)started the stream says so: a discontinuity, or Agora's track event.
fn restarts(s: &Segment) -> bool {
    s.discontinuity
        || s.tag_lines()
            .any(|t| stowage_hls::parse::tag_name(t) == "EXT-X-AGORA-TRACK-EVENT")
}

/// Durations that do not add up: a segment that starts later by the clock than the one
/// before it ends, with nothing saying the stream restarted, is media the playlist lost.
/// Clocks and durations drift a little, so gaps up to half the target duration (at least a
/// second) are not counted.
fn gaps(key: &str, p: &Playlist, lines: &[usize]) -> Vec<Problem> {
    let slack = (p.target_duration.unwrap_or(0) as f64 / 2.0).max(1.0);
    let base = key
        .rsplit_once('/')
        .map_or(String::new(), |(d, _)| format!("{d}/"));
    let mut out = Vec::new();
    for (i, pair) in p.segments.windows(2).enumerate() {
        let (prev, seg) = (&pair[0], &pair[1]);
        if restarts(seg) {
            continue;
        }
        let (Some(a), Some(b)) = (wall_clock_start(prev), wall_clock_start(seg)) else {
            continue;
        };
        let gap = (b - a).as_seconds_f64() - prev.duration.as_secs_f64();
        if gap > slack {
            out.push(Problem::Gap {
                playlist: key.into(),
                segment: format!("{base}{}", seg.uri),
                line: lines.get(i + 1).copied(),
                missing_ms: (gap * 1000.0).round() as u64,
            });
        }
    }
    out
}
