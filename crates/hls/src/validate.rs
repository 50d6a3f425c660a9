//! Checks a playlist against RFC 8216 and reports every rule it breaks, with the line.

use serde::Serialize;

use crate::model::{Playlist, PlaylistType};
use crate::parse::{NoteKind, ParseError, parse_with_notes, tag_name};

/// How binding the broken rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A MUST of RFC 8216: players may refuse the playlist.
    Error,
    /// A SHOULD, or legacy practice.
    Warning,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub level: Level,
    /// 1-based line, when one line is to blame.
    pub line: Option<usize>,
    /// Short rule id, e.g. `target-duration`.
    pub rule: &'static str,
    pub message: String,
}

fn v(level: Level, line: Option<usize>, rule: &'static str, message: String) -> Violation {
    Violation {
        level,
        line,
        rule,
        message,
    }
}

/// Parses `text` and returns every violation; a playlist that cannot be parsed at all is
/// the error.
pub fn validate(text: &str) -> Result<Vec<Violation>, ParseError> {
    validate_text(text)
}

/// [`validate`] on a file's bytes: bytes that are not UTF-8 are a violation of their own
/// (rule `utf-8`, with the line and byte offset), and the rest is checked as decoded.
pub fn validate_bytes(bytes: &[u8]) -> Result<Vec<Violation>, ParseError> {
    let (text, not_utf8) = crate::text::decode(bytes);
    let mut out = validate_text(&text)?;
    if let Some(bad) = not_utf8 {
        out.insert(0, v(Level::Error, Some(bad.line), "utf-8", bad.to_string()));
    }
    Ok(out)
}

fn validate_text(text: &str) -> Result<Vec<Violation>, ParseError> {
    let parsed = parse_with_notes(text)?;
    let mut out: Vec<Violation> = parsed
        .notes
        .iter()
        .filter_map(|n| from_note(n.line, &n.kind))
        .collect();
    let seg_lines = segment_lines(text);
    out.extend(check(&parsed.playlist, &seg_lines));
    out.sort_by_key(|x| (x.line.unwrap_or(0), x.rule));
    Ok(out)
}

fn from_note(line: usize, kind: &NoteKind) -> Option<Violation> {
    let line = (line > 0).then_some(line);
    Some(match kind {
        NoteKind::ExtinfWithoutComma => v(Level::Error, line, "extinf-comma", "EXTINF has no comma after the duration (§4.3.2.1: `#EXTINF:<duration>,[<title>]`); strict players reject it".into()),
        NoteKind::FractionalTargetDuration(t) => v(Level::Error, line, "target-duration-integer", format!("EXT-X-TARGETDURATION `{t}` is not a decimal-integer (§4.3.3.1)")),
        NoteKind::MediaSequenceAfterSegments => v(Level::Error, line, "media-sequence-position", "EXT-X-MEDIA-SEQUENCE must appear before the first segment (§4.3.3.2)".into()),
        NoteKind::RepeatedTag(t) => v(Level::Error, line, "repeated-tag", format!("{t} appears more than once")),
        NoteKind::ContentAfterEndList => v(Level::Warning, line, "after-endlist", "content after EXT-X-ENDLIST is ignored by players".into()),
        NoteKind::DanglingTags => v(Level::Warning, line, "dangling-tags", "tags after the last segment apply to no segment".into()),
        NoteKind::ByteOrderMark => v(Level::Error, line, "byte-order-mark", "the file starts with a byte-order mark (§4.1: no BOM)".into()),
        NoteKind::CrlfLineEnds => return None, // §4.1 allows CRLF
    })
}

/// Line numbers of segment URIs, in order, for messages about segments.
fn segment_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .map(|(i, _)| i + 1)
        .collect()
}

fn check(p: &Playlist, seg_lines: &[usize]) -> Vec<Violation> {
    let mut out = Vec::new();
    let line_of = |i: usize| seg_lines.get(i).copied();
    let required_target = p.required_target_duration();
    match p.target_duration {
        None => out.push(v(
            Level::Error,
            None,
            "target-duration",
            "EXT-X-TARGETDURATION is missing (§4.3.3.1: REQUIRED)".into(),
        )),
        Some(t) => {
            for (i, s) in p.segments.iter().enumerate() {
                if s.duration.rounded_secs() > t {
                    out.push(v(Level::Error, line_of(i), "target-duration", format!(
                        "segment `{}` lasts {} s, which rounds to {} s, above EXT-X-TARGETDURATION {t} (§4.3.3.1); it must be at least {required_target}",
                        s.uri, s.duration, s.duration.rounded_secs()
                    )));
                }
            }
        }
    }
    let needed = p.required_version();
    let declared = p.version.unwrap_or(1);
    if declared < needed {
        out.push(v(Level::Error, None, "version", format!("EXT-X-VERSION is {declared} but the features used need {needed} (decimal EXTINF needs 3, BYTERANGE 4, MAP 6; §7)")));
    }
    if declared >= 7
        && p.header_tags
            .iter()
            .any(|t| tag_name(t) == "EXT-X-ALLOW-CACHE")
    {
        out.push(v(
            Level::Error,
            None,
            "allow-cache",
            "EXT-X-ALLOW-CACHE was removed in version 7 (§7)".into(),
        ));
    } else if p
        .header_tags
        .iter()
        .any(|t| tag_name(t) == "EXT-X-ALLOW-CACHE")
    {
        out.push(v(
            Level::Warning,
            None,
            "allow-cache",
            "EXT-X-ALLOW-CACHE is legacy (removed in version 7)".into(),
        ));
    }
    if p.playlist_type == Some(PlaylistType::Vod) && !p.end_list {
        out.push(v(
            Level::Error,
            None,
            "endlist",
            "a VOD playlist must end with EXT-X-ENDLIST (§6.2.1)".into(),
        ));
    }
    if p.segments.is_empty() && p.end_list {
        out.push(v(
            Level::Warning,
            None,
            "empty",
            "the playlist has no segments".into(),
        ));
    }
    check_program_date_times(p, &line_of, &mut out);
    check_duplicates(p, &line_of, &mut out);
    out
}

/// rfc8216bis §6.2.1: when segments carry program date times, each one after a
/// discontinuity SHOULD carry one too, or the timeline is ambiguous.
fn check_program_date_times(
    p: &Playlist,
    line_of: &dyn Fn(usize) -> Option<usize>,
    out: &mut Vec<Violation>,
) {
    if !p.segments.iter().any(|s| s.program_date_time.is_some()) {
        return;
    }
    for (i, s) in p.segments.iter().enumerate().skip(1) {
        if s.discontinuity && s.program_date_time.is_none() {
            out.push(v(
                Level::Warning,
                line_of(i),
                "program-date-time",
                format!(
                    "segment `{}` follows a discontinuity without EXT-X-PROGRAM-DATE-TIME",
                    s.uri
                ),
            ));
        }
    }
}

fn check_duplicates(
    p: &Playlist,
    line_of: &dyn Fn(usize) -> Option<usize>,
    out: &mut Vec<Violation>,
) {
    let mut seen = std::collections::HashSet::new();
    for (i, s) in p.segments.iter().enumerate() {
        if !seen.insert(s.uri.as_str()) {
            out.push(v(
                Level::Warning,
                line_of(i),
                "duplicate-segment",
                format!("segment `{}` is listed twice", s.uri),
            ));
        }
    }
}

/// The violations of one rule in one playlist, said once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    pub rule: &'static str,
    /// The level of the rule's most binding violation.
    pub level: Level,
    pub count: usize,
    /// The first line the rule was broken on, when lines are known.
    pub first_line: Option<usize>,
    /// Every line it was broken on, in order (empty when no line is to blame).
    pub lines: Vec<usize>,
    /// One sentence: what, how often, where first, and what players make of it.
    pub message: String,
}

/// Groups violations by rule, in order of first appearance: one summary per rule.
pub fn summarize(violations: &[Violation]) -> Vec<RuleSummary> {
    let mut out: Vec<(RuleSummary, &Violation)> = Vec::new();
    for x in violations {
        match out.iter_mut().find(|(s, _)| s.rule == x.rule) {
            Some((s, _)) => {
                s.count += 1;
                if x.level == Level::Error {
                    s.level = Level::Error;
                }
                s.first_line = match (s.first_line, x.line) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                s.lines.extend(x.line);
            }
            None => out.push((
                RuleSummary {
                    rule: x.rule,
                    level: x.level,
                    count: 1,
                    first_line: x.line,
                    lines: x.line.into_iter().collect(),
                    message: String::new(),
                },
                x,
            )),
        }
    }
    out.into_iter()
        .map(|(mut s, first)| {
            s.message = summary_message(&s, &first.message);
            s
        })
        .collect()
}

/// What players make of a departure, for the rules recorders are known to break.
fn tolerance(rule: &str) -> Option<&'static str> {
    Some(match rule {
        "extinf-comma" => {
            "ffmpeg and hls.js accept it; `stowage playlist merge` writes a strict copy"
        }
        "target-duration" => {
            "ffmpeg and hls.js play it; a live player may reload the playlist too early"
        }
        "allow-cache" => "players ignore the tag",
        "byte-order-mark" => "browsers' UTF-8 decoding drops it",
        "version" => "players go by the tags they find, not the version",
        _ => return None,
    })
}

fn summary_message(s: &RuleSummary, first_message: &str) -> String {
    let line = |word: &str| s.first_line.map(|l| format!("{word}{l}"));
    let what = match (s.rule, s.count) {
        ("extinf-comma", n) => {
            let at = match n {
                1 => line("line "),
                _ => line("first at line "),
            };
            let at = at.map(|a| format!(" ({a})")).unwrap_or_default();
            format!("{n} EXTINF line{} without the comma{at}", plural(n))
        }
        (_, 1) => match line("line ") {
            Some(at) => format!("{first_message} ({at})"),
            None => first_message.to_string(),
        },
        (_, n) => {
            let more = format!("{} more like it", n - 1);
            match line("first at line ") {
                Some(at) => format!("{first_message} ({at}; {more})"),
                None => format!("{first_message} ({more})"),
            }
        }
    };
    match tolerance(s.rule) {
        Some(t) => format!("{what}; {t}"),
        None => what,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// True when no violation is an error.
pub fn is_valid(violations: &[Violation]) -> bool {
    violations.iter().all(|x| x.level != Level::Error)
}
