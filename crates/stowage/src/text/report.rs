//! A verify [`Report`] as short human text, whatever the size of the recording: problems one
//! per line (the first few), each warning once per playlist and rule, unproven objects
//! grouped by why, then one verdict line. [`report_json`] keeps every detail.

use serde_json::Value;
use stowage_verify::{Problem, RepairOutcome, Report, Unproven};

use super::human_size;

/// The verdict word: `complete`, `INCOMPLETE` (something a viewer would miss), or
/// `WARNINGS` (complete, but strict verification counts the warnings).
pub fn verdict(r: &Report, strict: bool) -> &'static str {
    if !r.is_complete() {
        "INCOMPLETE"
    } else if !r.passes(strict) {
        "WARNINGS"
    } else {
        "complete"
    }
}

/// The whole report as JSON, with `verdict` (lower case) and `strict` added.
pub fn report_json(r: &Report, strict: bool) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.insert("verdict".into(), verdict(r, strict).to_lowercase().into());
        map.insert("strict".into(), strict.into());
    }
    v
}

/// How a report is said: strict or not, how many lines of one kind are shown, and the
/// caller's words for where the rest is and for the strict switch.
#[derive(Debug, Clone)]
pub struct ReportText<'a> {
    /// Warnings fail the verification (they are then said in capitals).
    pub strict: bool,
    /// Lines of one kind shown before "… and N more".
    pub shown: usize,
    /// Appended to "… and N more": where every one is listed (e.g. "the JSON report lists
    /// every one").
    pub more_hint: Option<&'a str>,
    /// The strict switch's name, said after the warning count when it counts them.
    pub strict_name: &'a str,
}

impl Default for ReportText<'_> {
    fn default() -> Self {
        ReportText {
            strict: false,
            shown: 20,
            more_hint: None,
            strict_name: "strict",
        }
    }
}

impl ReportText<'_> {
    /// The report, line by line; the last line is the verdict.
    pub fn lines(&self, r: &Report) -> Vec<String> {
        let mut out = Vec::new();
        self.capped(&mut out, r.problems.iter().map(describe), "problem(s)");
        let level = if self.strict { "WARNING" } else { "warning" };
        let warnings = r
            .warnings
            .iter()
            .map(|w| format!("{level:<9} {}: {}", w.playlist, w.message));
        self.capped(&mut out, warnings, "warning(s)");
        let unproven = unproven_groups(&r.unproven).into_iter();
        self.capped(&mut out, unproven, "unproven group(s)");
        out.push(self.summary(r));
        out
    }

    fn capped(&self, out: &mut Vec<String>, lines: impl Iterator<Item = String>, what: &str) {
        let all: Vec<String> = lines.collect();
        let more = all.len().saturating_sub(self.shown);
        out.extend(all.into_iter().take(self.shown));
        if more > 0 {
            let hint = self.more_hint.map(|h| format!("; {h}")).unwrap_or_default();
            out.push(format!("          … and {more} more {what}{hint}"));
        }
    }

    fn summary(&self, r: &Report) -> String {
        let strict_note = if self.strict && !r.warnings.is_empty() {
            format!(" ({})", self.strict_name)
        } else {
            String::new()
        };
        format!(
            "{}: {} of {} objects intact ({}), {}, {:.3} s of media; {}, {}{strict_note}, {} unproven; {}",
            verdict(r, self.strict),
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

/// What a repair did, a line per key: `repaired  <key>`, then `not repaired <key>: <why>`.
pub fn repair_lines(outcome: &RepairOutcome) -> Vec<String> {
    let repaired = outcome.repaired.iter().map(|k| format!("repaired  {k}"));
    let not = (outcome.not_repaired.iter()).map(|(k, why)| format!("not repaired {k}: {why}"));
    repaired.chain(not).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repair_lines_name_each_key() {
        let outcome = RepairOutcome {
            repaired: vec!["rec/a.ts".into()],
            not_repaired: vec![("rec/b.ts".into(), "not in the spool".into())],
        };
        assert_eq!(
            repair_lines(&outcome),
            [
                "repaired  rec/a.ts",
                "not repaired rec/b.ts: not in the spool"
            ]
        );
    }
    use stowage_verify::Warning;

    const SHOWN: usize = 20;

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
        let lines = ReportText::default().lines(&r);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert_eq!(
            lines[1],
            "complete: 2001 of 2001 objects intact (367.4 KiB), 1 playlist, 30000.000 s of media; 0 problems, 1 warning, 0 unproven; 4 requests"
        );
        assert_eq!(verdict(&r, true), "WARNINGS");
        let strict = ReportText {
            strict: true,
            ..ReportText::default()
        };
        assert!(strict.lines(&r)[1].contains("1 warning (strict)"));
        assert_eq!(report_json(&r, true)["verdict"], "warnings");
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
        let text = ReportText {
            more_hint: Some("see the JSON"),
            ..ReportText::default()
        };
        let lines = text.lines(&r);
        assert_eq!(lines.len(), SHOWN + 3, "{lines:#?}");
        assert_eq!(
            lines[SHOWN],
            "          … and 280 more problem(s); see the JSON"
        );
        assert_eq!(
            lines[SHOWN + 1],
            "unproven  200 objects (rec/u0.ts, …): named only"
        );
        assert!(lines[SHOWN + 2].starts_with("INCOMPLETE: 0 of 500 objects intact"));
    }
}
