//! Merging the playlists of one recording into one VOD playlist (domain.md §A4, §D2):
//!
//! 1. copies of one playlist re-sent by Agora's backup cloud (`…_<tick>_<index>.m3u8`): the
//!    highest index is compared with the unsuffixed file and the larger kept, as Agora says;
//! 2. failover continuations (`bak<n>_…`) and other recordings (other sids) are ordered by
//!    the start time of their first segment (input order when unknown);
//! 3. at every junction the first segment gets `EXT-X-DISCONTINUITY` and, when its time is
//!    known, `EXT-X-PROGRAM-DATE-TIME`;
//! 4. segments already taken (same URI) are dropped; segments wholly inside time already
//!    covered are trimmed, or kept with [`Overlap::Keep`].
//!
//! Every choice is written to a [`MergeReport`].

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

use serde::Serialize;
use time::OffsetDateTime;

use crate::agora::parse_playlist_name;
use crate::model::{Playlist, PlaylistType, Segment};

/// One playlist offered to the merge.
#[derive(Debug, Clone)]
pub struct Input {
    /// The file name (Agora's suffixes and prefixes are read from it).
    pub name: String,
    /// Size of the playlist file in bytes ("choose the larger file").
    pub size: u64,
    pub playlist: Playlist,
}

/// What to do with segments whose time another playlist already covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// Drop segments that lie wholly inside time already covered.
    #[default]
    Trim,
    /// Keep them (plain concatenation).
    Keep,
}

/// What happened to one input.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub name: String,
    pub used: bool,
    pub reason: String,
}

/// What the merge chose and why.
#[derive(Debug, Clone, Serialize)]
pub struct MergeReport {
    pub inputs: Vec<InputReport>,
    /// Names of the used playlists, in output order.
    pub order: Vec<String>,
    pub junctions: usize,
    pub duplicates_dropped: Vec<String>,
    pub overlap_trimmed: Vec<String>,
    pub segments: usize,
    pub duration_secs: f64,
}

/// The merged playlist and the report.
#[derive(Debug, Clone)]
pub struct Merged {
    pub playlist: Playlist,
    pub report: MergeReport,
}

/// Merges `inputs` (see the module docs).
pub fn merge(inputs: Vec<Input>, overlap: Overlap) -> Merged {
    let mut reports = Vec::new();
    let mut chosen = choose_copies(inputs, &mut reports);
    chosen.sort_by_key(|(order, input)| {
        (
            first_time(&input.playlist).is_none(),
            first_time(&input.playlist),
            *order,
        )
    });

    let mut out = Playlist {
        playlist_type: Some(PlaylistType::Vod),
        end_list: true,
        ..Playlist::default()
    };
    let repeats = repeated_segments(&chosen);
    let mut state = Concat::default();
    let mut order = Vec::new();
    for ((_, input), repeated) in chosen.into_iter().zip(repeats) {
        if order.is_empty() {
            out.header_tags = input.playlist.header_tags.clone();
        }
        order.push(input.name.clone());
        state.append(
            &mut out.segments,
            input.playlist.segments,
            &repeated,
            overlap,
        );
    }
    out.version = None;
    let report = MergeReport {
        inputs: reports,
        order,
        junctions: state.junctions,
        duplicates_dropped: state.duplicates,
        overlap_trimmed: state.trimmed,
        segments: out.segments.len(),
        duration_secs: out.duration().as_secs_f64(),
    };
    Merged {
        playlist: out,
        report,
    }
}

fn first_time(p: &Playlist) -> Option<OffsetDateTime> {
    p.segments.first().and_then(Segment::start_time)
}

/// Copies of one playlist: its base name and failover number.
type CopyGroup = (String, Option<u32>);

/// Keeps one copy of each playlist: among re-sent copies of the same file, the larger of
/// the highest index and the unsuffixed original. Returns the kept inputs with their
/// input position.
fn choose_copies(inputs: Vec<Input>, reports: &mut Vec<InputReport>) -> Vec<(usize, Input)> {
    let mut groups: BTreeMap<CopyGroup, Vec<(usize, Input)>> = BTreeMap::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let file = input
            .name
            .rsplit('/')
            .next()
            .unwrap_or(&input.name)
            .to_string();
        let name = parse_playlist_name(&file);
        groups
            .entry((name.base, name.failover))
            .or_default()
            .push((i, input));
    }
    let mut kept = Vec::new();
    for (_, mut copies) in groups {
        if copies.len() == 1 {
            let (i, input) = copies.remove(0);
            reports.push(InputReport {
                name: input.name.clone(),
                used: true,
                reason: "the only copy of this playlist".into(),
            });
            kept.push((i, input));
            continue;
        }
        let winner = pick_copy(&copies);
        for (idx, (i, input)) in copies.into_iter().enumerate() {
            let reason = if idx == winner.0 {
                winner.1.clone()
            } else {
                format!("another copy was chosen: {}", winner.1)
            };
            reports.push(InputReport {
                name: input.name.clone(),
                used: idx == winner.0,
                reason,
            });
            if idx == winner.0 {
                kept.push((i, input));
            }
        }
    }
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    kept
}

/// Index of the copy to keep, and why.
fn pick_copy(copies: &[(usize, Input)]) -> (usize, String) {
    let resend_index = |inp: &Input| {
        let file = inp.name.rsplit('/').next().unwrap_or(&inp.name);
        parse_playlist_name(file).resend.map(|(_, idx)| idx)
    };
    let original = copies.iter().position(|(_, c)| resend_index(c).is_none());
    let newest = copies
        .iter()
        .enumerate()
        .filter_map(|(k, (_, c))| resend_index(c).map(|idx| (idx, k)))
        .max()
        .map(|(_, k)| k);
    match (original, newest) {
        (Some(o), Some(n)) if copies[n].1.size > copies[o].1.size => (
            n,
            format!(
                "the newest backup copy ({} bytes) is larger than the original ({} bytes)",
                copies[n].1.size, copies[o].1.size
            ),
        ),
        (Some(o), Some(n)) => (
            o,
            format!(
                "the original ({} bytes) is at least as large as the newest backup copy ({} bytes)",
                copies[o].1.size, copies[n].1.size
            ),
        ),
        (Some(o), None) => (
            o,
            "the original; the other copies are not backup re-sends".into(),
        ),
        (None, Some(n)) => (n, "the newest backup copy (no original was given)".into()),
        (None, None) => (0, "first of identical names".into()),
    }
}

/// For each playlist, which of its segments name a URI an earlier one (in merge order)
/// already had. Decided on borrowed names, so no URI is copied; FxHash because SipHash
/// dominated the merge of a 100 000-segment recording and the keys are our own input.
fn repeated_segments(chosen: &[(usize, Input)]) -> Vec<Vec<bool>> {
    let total = chosen.iter().map(|(_, i)| i.playlist.segments.len()).sum();
    let mut seen: HashSet<&str, BuildHasherDefault<FxHasher>> =
        HashSet::with_capacity_and_hasher(total, BuildHasherDefault::default());
    chosen
        .iter()
        .map(|(_, input)| {
            input
                .playlist
                .segments
                .iter()
                .map(|s| !seen.insert(s.uri.as_str()))
                .collect()
        })
        .collect()
}

/// The concatenation in progress.
#[derive(Default)]
struct Concat {
    covered_until: Option<OffsetDateTime>,
    junctions: usize,
    duplicates: Vec<String>,
    trimmed: Vec<String>,
}

impl Concat {
    /// Appends one playlist's segments. Only the first segments of a part can lie in time
    /// already covered, so times are read until one segment is past it (reading a time
    /// means parsing a name; doing it for every segment of a 100 000-segment recording
    /// costs more than the rest of the merge).
    fn append(
        &mut self,
        out: &mut Vec<Segment>,
        segments: Vec<Segment>,
        repeated: &[bool],
        overlap: Overlap,
    ) {
        let mut at_junction = !out.is_empty();
        let mut checking_overlap = overlap == Overlap::Trim && self.covered_until.is_some();
        let before = out.len();
        if out.is_empty() && !repeated.contains(&true) {
            // The first part is taken whole: no element is moved.
            *out = segments;
            self.cover_until_end_of(&out[..]);
            return;
        }
        for (mut seg, repeated) in segments.into_iter().zip(repeated) {
            if *repeated {
                self.duplicates.push(seg.uri);
                continue;
            }
            if checking_overlap {
                match (seg.start_time(), self.covered_until) {
                    (Some(start), Some(covered)) if end_of(start, &seg) <= covered => {
                        self.trimmed.push(seg.uri);
                        continue;
                    }
                    _ => checking_overlap = false,
                }
            }
            if at_junction {
                seg.discontinuity = true;
                seg.program_date_time = seg.program_date_time.or_else(|| seg.start_time());
                self.junctions += 1;
                at_junction = false;
            }
            out.push(seg);
        }
        self.cover_until_end_of(&out[before..]);
    }

    /// Extends the covered time to the end of the last of `part`'s segments.
    fn cover_until_end_of(&mut self, part: &[Segment]) {
        if let Some(last) = part.last()
            && let Some(start) = last.start_time()
        {
            let end = end_of(start, last);
            self.covered_until = Some(self.covered_until.map_or(end, |c| c.max(end)));
        }
    }
}

fn end_of(start: OffsetDateTime, seg: &Segment) -> OffsetDateTime {
    start + time::Duration::microseconds(seg.duration.micros() as i64)
}
