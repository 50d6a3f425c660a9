//! Strict RFC 8216 output: whatever was read, what is written obeys the rules.
//!
//! - `EXT-X-VERSION` from the features used (never below what was read, at least 3);
//! - `EXT-X-TARGETDURATION` ≥ every EXTINF rounded half-up (§4.3.3.1);
//! - `EXT-X-MEDIA-SEQUENCE` before the first segment;
//! - `EXTINF:<d>,` with the comma; durations as written;
//! - `EXT-X-PROGRAM-DATE-TIME` on the first segment and after every discontinuity when the
//!   start time is known (from the tag, an Agora segment name, or an Agora `TIME=`);
//! - `EXT-X-ALLOW-CACHE` dropped when the version is 7 or more (removed there, §7).

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::model::Playlist;
use crate::parse::tag_name;

/// Writes `playlist` as RFC 8216 text.
pub fn write(playlist: &Playlist) -> String {
    let mut out = String::with_capacity(64 + playlist.segments.len() * 96);
    let version = playlist.output_version();
    // Where a tag before the first segment belongs (header or segment) is ambiguous in the
    // text, so tags are filtered the same wherever they are kept.
    let push_tag = |out: &mut String, line: &str| {
        if !(version >= 7 && tag_name(line) == "EXT-X-ALLOW-CACHE") {
            push_line(out, line);
        }
    };
    write_header(playlist, version, &mut out, &push_tag);
    for (i, seg) in playlist.segments.iter().enumerate() {
        for t in &seg.tags_before_discontinuity {
            push_tag(&mut out, t);
        }
        if seg.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let known_time = seg.program_date_time.or_else(|| {
            (i == 0 || seg.discontinuity)
                .then(|| seg.start_time())
                .flatten()
        });
        if let Some(t) = known_time {
            let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", format_date_time(t));
        }
        for t in &seg.tags {
            push_tag(&mut out, t);
        }
        let _ = writeln!(out, "#EXTINF:{},{}", seg.duration, seg.title);
        if let Some(r) = &seg.byte_range {
            let _ = writeln!(out, "#EXT-X-BYTERANGE:{r}");
        }
        push_line(&mut out, &seg.uri);
    }
    for t in &playlist.trailing_tags {
        push_tag(&mut out, t);
    }
    if playlist.end_list {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

fn write_header(
    p: &Playlist,
    version: u32,
    out: &mut String,
    push_tag: &dyn Fn(&mut String, &str),
) {
    let target = p
        .required_target_duration()
        .max(p.target_duration.unwrap_or(0))
        .max(1);
    out.push_str("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{version}");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target}");
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", p.media_sequence);
    if p.discontinuity_sequence > 0 {
        let _ = writeln!(
            out,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            p.discontinuity_sequence
        );
    }
    if let Some(t) = p.playlist_type {
        let _ = writeln!(out, "#EXT-X-PLAYLIST-TYPE:{}", t.as_str());
    }
    if p.independent_segments {
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    for t in &p.header_tags {
        push_tag(out, t);
    }
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

/// `2019-09-20T12:51:42.485Z`: millisecond precision, as RFC 8216 §4.3.2.6 asks.
pub fn format_date_time(t: OffsetDateTime) -> String {
    let t = t
        .replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t);
    let ms = t.millisecond();
    let base = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    // Rfc3339 without fraction ends in `Z`; put the milliseconds before it.
    match base.strip_suffix('Z') {
        Some(head) => format!("{head}.{ms:03}Z"),
        None => base,
    }
}
