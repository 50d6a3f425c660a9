//! Tolerant media-playlist parsing. Loads what recorders really write — Agora's EXTINF
//! without a comma, its `EXT-X-AGORA-*` tags, a leading discontinuity, `EXT-X-ALLOW-CACHE`,
//! CRLF line ends, a byte-order mark — and notes each departure from RFC 8216 so the
//! validator can report it. Input that cannot be understood is an error naming the line
//! and what was expected.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::model::{Playlist, PlaylistType, SegDuration, Segment};

/// Why a playlist could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: expected {}, found `{}`",
            self.line, self.expected, self.found
        )
    }
}

impl std::error::Error for ParseError {}

/// A departure from RFC 8216 that the parser accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub line: usize,
    pub kind: NoteKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteKind {
    ByteOrderMark,
    CrlfLineEnds,
    /// `#EXTINF:6.332000` (RFC 8216 §4.3.2.1: the comma is part of the grammar).
    ExtinfWithoutComma,
    /// `EXT-X-TARGETDURATION` with a fraction (it is a decimal-integer).
    FractionalTargetDuration(String),
    /// `EXT-X-MEDIA-SEQUENCE` after the first segment (§4.3.3.2).
    MediaSequenceAfterSegments,
    /// A tag that may appear once appeared again.
    RepeatedTag(String),
    /// Tags after the last segment that belong to no segment.
    DanglingTags,
    /// Lines after `EXT-X-ENDLIST`.
    ContentAfterEndList,
}

/// A playlist and what the parser had to forgive.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub playlist: Playlist,
    pub notes: Vec<Note>,
}

/// Parses a media playlist.
pub fn parse(text: &str) -> Result<Playlist, ParseError> {
    parse_with_notes(text).map(|p| p.playlist)
}

/// The tag name of a tag line: `#EXT-X-FOO:bar` → `EXT-X-FOO`.
pub fn tag_name(line: &str) -> &str {
    let body = line.strip_prefix('#').unwrap_or(line);
    body.split_once(':').map_or(body, |(n, _)| n)
}

fn err(line: usize, expected: &str, found: &str) -> ParseError {
    let found: String = found.chars().take(80).collect();
    ParseError {
        line,
        expected: expected.to_string(),
        found,
    }
}

/// Tags that describe the next segment, and so start one.
const SEGMENT_TAGS: [&str; 6] = [
    "EXTINF",
    "EXT-X-DISCONTINUITY",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-BYTERANGE",
    "EXT-X-KEY",
    "EXT-X-MAP",
];

/// What has been read for the segment whose URI has not come yet.
#[derive(Default)]
struct Pending {
    extinf: Option<(SegDuration, String, usize)>,
    discontinuity: bool,
    program_date_time: Option<OffsetDateTime>,
    byte_range: Option<String>,
    tags_before_discontinuity: Vec<String>,
    tags: Vec<String>,
    /// Every line taken, verbatim: what is kept if no URI ever comes.
    raw: Vec<String>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.extinf.is_none()
            && !self.discontinuity
            && self.program_date_time.is_none()
            && self.byte_range.is_none()
            && self.tags.is_empty()
            && self.tags_before_discontinuity.is_empty()
    }

    fn into_segment(mut self, uri: &str) -> Option<Segment> {
        let (duration, title, _) = self.extinf?;
        if !self.discontinuity {
            // Without a discontinuity "before it" means nothing: all are plain tags.
            let mut tags = std::mem::take(&mut self.tags_before_discontinuity);
            tags.append(&mut self.tags);
            self.tags = tags;
        }
        Some(Segment {
            uri: uri.to_string(),
            duration,
            title,
            discontinuity: self.discontinuity,
            program_date_time: self.program_date_time,
            byte_range: self.byte_range,
            tags_before_discontinuity: self.tags_before_discontinuity,
            tags: self.tags,
        })
    }
}

struct Parser {
    playlist: Playlist,
    notes: Vec<Note>,
    pending: Pending,
    seen: Vec<&'static str>,
}

/// Parses a media playlist, returning what it forgave as notes.
pub fn parse_with_notes(text: &str) -> Result<Parsed, ParseError> {
    let mut p = Parser {
        playlist: Playlist::default(),
        notes: Vec::new(),
        pending: Pending::default(),
        seen: Vec::new(),
    };
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            p.note(1, NoteKind::ByteOrderMark);
            rest
        }
        None => text,
    };
    if text.contains("\r\n") {
        p.note(1, NoteKind::CrlfLineEnds);
    }
    // One fast scan saves re-growing (and copying) a 100 000-segment vector.
    p.playlist.segments.reserve(text.matches("#EXTINF").count());
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end()));
    let first = lines.by_ref().find(|(_, l)| !l.is_empty());
    match first {
        Some((_, "#EXTM3U")) => {}
        Some((n, other)) => return Err(err(n, "`#EXTM3U` as the first line", other)),
        None => return Err(err(1, "`#EXTM3U` as the first line", "an empty file")),
    }
    for (n, line) in lines {
        if line.is_empty() {
            continue;
        }
        if p.playlist.end_list {
            p.note(n, NoteKind::ContentAfterEndList);
        }
        if line.starts_with("#EXT") {
            p.tag(n, line)?;
        } else if !line.starts_with('#') {
            p.uri(n, line)?;
        } // other `#` lines are comments
    }
    p.finish()
}

impl Parser {
    fn note(&mut self, line: usize, kind: NoteKind) {
        self.notes.push(Note { line, kind });
    }

    fn once(&mut self, n: usize, name: &'static str) {
        if self.seen.contains(&name) {
            self.note(n, NoteKind::RepeatedTag(name.to_string()));
        }
        self.seen.push(name);
    }

    fn uri(&mut self, n: usize, line: &str) -> Result<(), ParseError> {
        let pending = std::mem::take(&mut self.pending);
        match pending.into_segment(line) {
            Some(seg) => {
                self.playlist.segments.push(seg);
                Ok(())
            }
            None => Err(err(n, "`#EXTINF:<duration>,` before the segment URI", line)),
        }
    }

    fn tag(&mut self, n: usize, line: &str) -> Result<(), ParseError> {
        let name = tag_name(line);
        if SEGMENT_TAGS.contains(&name) {
            self.pending.raw.push(line.to_string());
        }
        let value = line.split_once(':').map(|(_, v)| v.trim());
        let need = |what: &str| value.ok_or_else(|| err(n, what, line));
        match name {
            "EXTM3U" => self.note(n, NoteKind::RepeatedTag("EXTM3U".into())),
            "EXT-X-VERSION" => {
                self.once(n, "EXT-X-VERSION");
                let v = need("`#EXT-X-VERSION:<n>`")?;
                self.playlist.version =
                    Some(v.parse().map_err(|_| err(n, "an integer version", line))?);
            }
            "EXT-X-TARGETDURATION" => {
                self.once(n, "EXT-X-TARGETDURATION");
                let v = need("`#EXT-X-TARGETDURATION:<seconds>`")?;
                self.playlist.target_duration = Some(self.target_duration(n, v, line)?);
            }
            "EXT-X-MEDIA-SEQUENCE" => {
                self.once(n, "EXT-X-MEDIA-SEQUENCE");
                if !self.playlist.segments.is_empty() {
                    self.note(n, NoteKind::MediaSequenceAfterSegments);
                }
                let v = need("`#EXT-X-MEDIA-SEQUENCE:<n>`")?;
                self.playlist.media_sequence = v
                    .parse()
                    .map_err(|_| err(n, "an integer media sequence", line))?;
            }
            "EXT-X-DISCONTINUITY-SEQUENCE" => {
                let v = need("`#EXT-X-DISCONTINUITY-SEQUENCE:<n>`")?;
                self.playlist.discontinuity_sequence = v
                    .parse()
                    .map_err(|_| err(n, "an integer discontinuity sequence", line))?;
            }
            "EXT-X-PLAYLIST-TYPE" => {
                self.playlist.playlist_type = Some(match need("EVENT or VOD")? {
                    "EVENT" => PlaylistType::Event,
                    "VOD" => PlaylistType::Vod,
                    _ => return Err(err(n, "`EVENT` or `VOD`", line)),
                });
            }
            "EXT-X-ENDLIST" => self.playlist.end_list = true,
            "EXT-X-INDEPENDENT-SEGMENTS" => self.playlist.independent_segments = true,
            "EXTINF" => self.extinf(n, need("`#EXTINF:<duration>,`")?, line)?,
            "EXT-X-DISCONTINUITY" => self.pending.discontinuity = true,
            "EXT-X-PROGRAM-DATE-TIME" => {
                let v = need("`#EXT-X-PROGRAM-DATE-TIME:<ISO 8601 time>`")?;
                self.pending.program_date_time = Some(parse_date_time(v).ok_or_else(|| {
                    err(
                        n,
                        "an ISO 8601 date-time such as 2024-01-02T03:04:05.678Z",
                        line,
                    )
                })?);
            }
            "EXT-X-BYTERANGE" => {
                self.pending.byte_range = Some(need("`#EXT-X-BYTERANGE:<n>[@<o>]`")?.to_string())
            }
            "EXT-X-STREAM-INF" | "EXT-X-MEDIA" | "EXT-X-I-FRAME-STREAM-INF" => {
                return Err(err(
                    n,
                    "a media playlist (this is a multivariant/master playlist)",
                    line,
                ));
            }
            _ => self.other_tag(name, line),
        }
        Ok(())
    }

    fn target_duration(&mut self, n: usize, v: &str, line: &str) -> Result<u64, ParseError> {
        if let Ok(t) = v.parse::<u64>() {
            return Ok(t);
        }
        let d =
            SegDuration::parse(v).ok_or_else(|| err(n, "an integer number of seconds", line))?;
        self.note(n, NoteKind::FractionalTargetDuration(v.to_string()));
        Ok(d.micros().div_ceil(1_000_000))
    }

    fn extinf(&mut self, n: usize, value: &str, line: &str) -> Result<(), ParseError> {
        let (dur, title) = match value.split_once(',') {
            Some((d, t)) => (d, t.to_string()),
            None => {
                self.note(n, NoteKind::ExtinfWithoutComma);
                (value, String::new())
            }
        };
        let duration =
            SegDuration::parse(dur).ok_or_else(|| err(n, "a decimal duration in seconds", line))?;
        if let Some((_, _, prev)) = &self.pending.extinf {
            return Err(err(
                n,
                &format!("a segment URI after the #EXTINF on line {prev}"),
                line,
            ));
        }
        self.pending.extinf = Some((duration, title, n));
        Ok(())
    }

    /// Tags we do not interpret: kept with the next segment, or the header, where they stood.
    fn other_tag(&mut self, name: &str, line: &str) {
        let segment_level = name.starts_with("EXT-X-AGORA-") || SEGMENT_TAGS.contains(&name);
        if self.playlist.segments.is_empty() && self.pending.is_empty() && !segment_level {
            self.playlist.header_tags.push(line.to_string());
            return;
        }
        if self.pending.discontinuity {
            self.pending.tags.push(line.to_string());
        } else {
            self.pending
                .tags_before_discontinuity
                .push(line.to_string());
        }
        if !SEGMENT_TAGS.contains(&name) {
            self.pending.raw.push(line.to_string()); // segment tags were recorded in `tag`
        }
    }

    fn finish(mut self) -> Result<Parsed, ParseError> {
        let pending = std::mem::take(&mut self.pending);
        if let Some((_, _, line)) = &pending.extinf {
            return Err(err(
                *line,
                "a segment URI after this #EXTINF",
                "the end of the file",
            ));
        }
        if !pending.is_empty() {
            self.note(0, NoteKind::DanglingTags);
            self.playlist.trailing_tags = pending.raw;
        }
        Ok(Parsed {
            playlist: self.playlist,
            notes: self.notes,
        })
    }
}

/// ISO 8601 as playlists write it: RFC 3339, also with a `+0800` offset (no colon).
pub fn parse_date_time(v: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Some(t);
    }
    // `...+0800` → `...+08:00`
    let cut = v.len().checked_sub(5).filter(|&i| v.is_char_boundary(i))?;
    let (head, tail) = v.split_at(cut);
    let sign = tail.chars().next()?;
    if (sign == '+' || sign == '-') && tail[1..].bytes().all(|b| b.is_ascii_digit()) {
        return OffsetDateTime::parse(&format!("{head}{}:{}", &tail[..3], &tail[3..]), &Rfc3339)
            .ok();
    }
    None
}
