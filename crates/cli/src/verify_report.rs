//! How `stowage verify` says what it found. Human output stays short whatever the size of
//! the recording: problems one per line (the first [`SHOWN`]), each warning once per
//! playlist and rule, unproven objects grouped by why, then one verdict line. `--json`
//! keeps every detail.

use stowage::verify::{Problem, Report, Unproven};

use crate::output::human_size;

/// Lines of one kind shown before "… and N more".
const SHOWN: usize = 20;

/// The verdict word: `complete`, `INCOMPLETE` (something a viewer would miss), or
/// `WARNINGS` (complete, but `--strict` counts the warnings).
pub fn verdict(r: &Report, strict: bool) -> &'static str {
    if !r.is_complete() {
        "INCOMPLETE"
    } else if !r.passes(strict) {
        "WARNINGS"
    } else {
        "complete"
    }
}

pub fn print(r: &Report, json: bool, strict: bool) {
    if json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("verdict".into(), verdict(r, strict).to_lowercase().into());
            map.insert("strict".into(), strict.into());
        }
        println!("{v}");
        return;
    }
    for line in human(r, strict) {
        println!("{line}");
    }
}

/// The human report, line by line.
pub fn human(r: &Report, strict: bool) -> Vec<String> {
    let mut out = Vec::new();
    capped(&mut out, r.problems.iter().map(describe), "problem(s)");
    let warnings = r.warnings.iter().map(|w| {
        let level = if strict { "WARNING" } else { "warning" };
        format!("{level:<9} {}: {}", w.playlist, w.message)
    });
    capped(&mut out, warnings, "warning(s)");
    capped(
        &mut out,
        unproven_groups(&r.unproven).into_iter(),
        "unproven group(s)",
    );
    out.push(summary(r, strict));
    out
}

fn capped(out: &mut Vec<String>, lines: impl Iterator<Item = String>, what: &str) {
    let all: Vec<String> = lines.collect();
    let more = all.len().saturating_sub(SHOWN);
    out.extend(all.into_iter().take(SHOWN));
    if more > 0 {
        out.push(format!(
            "          … and {more} more {what}; --json lists every one"
        ));
    }
}

/// Unproven objects sharing a reason are said together: a 2 000-segment recording verified
/// from its playlist alone is one line, not 2 000.
fn unproven_groups(unproven: &[Unproven]) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for u in unproven {
        match groups.iter_mut().find(|(why, _)| *why == u.why) {
            Some((_, keys)) => keys.push(&u.key),
            None => groups.push((&u.why, vec![&u.key])),
        }
    }
    groups
        .into_iter()
        .map(|(why, keys)| match keys.as_slice() {
            [one] => format!("unproven  {one}: {why}"),
            [first, ..] => format!("unproven  {} objects ({first}, …): {why}", keys.len()),
            [] => String::new(),
        })
        .collect()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary(r: &Report, strict: bool) -> String {
    let strict_note = if strict && !r.warnings.is_empty() {
        " (--strict)"
    } else {
        ""
    };
    format!(
        "{}: {} of {} objects intact ({}), {}, {:.3} s of media; {}, {}{strict_note}, {} unproven; {}",
        verdict(r, strict),
        r.intact,
        r.checked,
        human_size(r.bytes),
        plural(r.playlists, "playlist", "playlists"),
        r.duration_secs,
        plural(r.problems.len(), "problem", "problems"),
        plural(r.warnings.len(), "warning", "warnings"),
        r.unproven.len(),
        plural(r.requests, "request", "requests"),
    )
}

fn describe(p: &Problem) -> String {
    match p {
        Problem::Missing { key } => format!("missing   {key}"),
        Problem::OnlyInBackup { key } => {
            format!("backup    {key}: only in the backup bucket (stowage restore moves it)")
        }
        Problem::SizeMismatch {
            key,
            expected,
            found,
        } => format!("size      {key}: {found} bytes, expected {expected}"),
        Problem::ContentMismatch { key, detail } => format!("content   {key}: {detail}"),
        Problem::Orphan { key } => {
            format!("orphan    {key}: in the recording's directory but in no manifest or playlist")
        }
        Problem::PlaylistNamesMissing { playlist, segment } => {
            format!("playlist  {playlist} names {segment}, which is not in the bucket")
        }
        Problem::PlaylistInvalid { playlist, detail } => format!("playlist  {playlist}: {detail}"),
        Problem::Gap {
            playlist,
            segment,
            line,
            missing_ms,
        } => {
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            let secs = *missing_ms as f64 / 1000.0;
            format!(
                "gap       {playlist}{at}: {segment} starts {secs:.3} s after the segment before it ends, with no EXT-X-DISCONTINUITY: that media is not in the playlist"
            )
        }
        Problem::Playback { key, detail } => format!("playback  {key}: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage::verify::Warning;

    #[test]
    fn a_clean_recording_of_any_size_is_a_few_lines() {
        let r = Report {
            checked: 2_001,
            intact: 2_001,
            playlists: 1,
            duration_secs: 30_000.0,
            requests: 4,
            bytes: 2_001 * 188,
            warnings: vec![Warning {
                playlist: "rec/sid_c.m3u8".into(),
                rule: "extinf-comma".into(),
                count: 2_000,
                first_line: Some(8),
                lines: (0..2_000).map(|i| 8 + 2 * i).collect(),
                message: "2000 EXTINF lines without the comma (first at line 8); …".into(),
            }],
            ..Report::default()
        };
        let lines = human(&r, false);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert_eq!(
            lines[1],
            "complete: 2001 of 2001 objects intact (367.4 KiB), 1 playlist, 30000.000 s of media; 0 problems, 1 warning, 0 unproven; 4 requests"
        );
        assert_eq!(verdict(&r, true), "WARNINGS");
        assert!(human(&r, true)[1].contains("1 warning (--strict)"));
    }

    #[test]
    fn many_problems_and_unproven_objects_stay_short() {
        let r = Report {
            checked: 500,
            problems: (0..300)
                .map(|i| Problem::Missing {
                    key: format!("rec/{i}.ts"),
                })
                .collect(),
            unproven: (0..200)
                .map(|i| Unproven {
                    key: format!("rec/u{i}.ts"),
                    why: "named only".into(),
                })
                .collect(),
            ..Report::default()
        };
        let lines = human(&r, false);
        assert_eq!(lines.len(), SHOWN + 3, "{lines:#?}");
        assert!(
            lines[SHOWN].contains("… and 280 more problem(s)"),
            "{}",
            lines[SHOWN]
        );
        assert_eq!(
            lines[SHOWN + 1],
            "unproven  200 objects (rec/u0.ts, …): named only"
        );
        assert!(lines[SHOWN + 2].starts_with("INCOMPLETE: 0 of 500 objects intact"));
    }
}
