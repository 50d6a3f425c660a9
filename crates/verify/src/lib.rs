//! The verifier: after a recording, prove every object reached the bucket intact, or name
//! exactly what is missing or wrong.
//!
//! Presence and size come from listings (one LIST per 1 000 keys) of the recording's
//! directory: a prefix is a directory, so `rec/room1` never takes in `rec/room10/…`. Content
//! is checked without downloading wherever the store returns something to compare: checksums
//! in the listing, a single-part MD5 ETag, one HEAD for the store's checksums (S3
//! CRC64-NVME, OSS/COS CRC-64/XZ, the local store's all), or the ETag of a multipart
//! upload with the part layout Stowage's manifest recorded (S3's `…-N`, Kodo's qetag v2).
//! Playlists are parsed and every segment they name must be there. Keys in the directory
//! that nothing expects are orphans.
//!
//! The verdict is about completeness, what a viewer would miss: [`Problem`]s. Departures
//! from RFC 8216 that players tolerate are [`Warning`]s, one per playlist and rule.

mod content;
mod expect;
mod layout;
pub mod playback;
mod playlists;
mod repair;

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use stowage_core::{ListRequest, ObjectMeta, ObjectStore, Result};

use content::Verdict;
pub use expect::{
    Expected, PartLayout, expected_from_agora, expected_from_dir, expected_from_manifest,
    expected_from_playlist, key_under,
};
pub use layout::{LayoutEtags, etags_of_file};
pub use repair::{RepairOutcome, RepairSource, repair};

/// One thing a viewer would miss, with its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    Missing {
        key: String,
    },
    OnlyInBackup {
        key: String,
    },
    SizeMismatch {
        key: String,
        expected: u64,
        found: u64,
    },
    ContentMismatch {
        key: String,
        detail: String,
    },
    Orphan {
        key: String,
    },
    PlaylistNamesMissing {
        playlist: String,
        segment: String,
    },
    /// The playlist cannot be read or parsed.
    PlaylistInvalid {
        playlist: String,
        detail: String,
    },
    /// A segment starts later by the clock (program date time, or the time in an Agora
    /// segment name) than the one before it ends, with no discontinuity between them: the
    /// durations do not add up, and the media in between is not in the playlist.
    Gap {
        playlist: String,
        segment: String,
        /// The segment's line in the playlist.
        line: Option<usize>,
        missing_ms: u64,
    },
    /// Served through the playback URL, the object would not play in a browser.
    Playback {
        key: String,
        detail: String,
    },
}

/// A departure from RFC 8216 that players tolerate, said once per playlist and rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub playlist: String,
    /// The rule's id, as `stowage playlist validate` names it (e.g. `extinf-comma`).
    pub rule: String,
    /// How many times the playlist breaks it.
    pub count: usize,
    pub first_line: Option<usize>,
    /// Every line it is broken on (the JSON report's detail; people get the count).
    pub lines: Vec<usize>,
    /// One sentence: what, how often, where first, what players make of it.
    pub message: String,
}

/// An object present with the right size whose content could not be compared, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unproven {
    pub key: String,
    pub why: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Objects checked: those expected, and the segments playlists name beyond them.
    pub checked: usize,
    /// Present with the right size, and content proven.
    pub intact: usize,
    /// Present with the right size, but nothing to compare the content with.
    pub unproven: Vec<Unproven>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Warning>,
    pub bytes: u64,
    /// Playlists read.
    pub playlists: usize,
    /// Sum of the playlists' segment durations.
    pub duration_secs: f64,
    /// Requests made to the stores.
    pub requests: usize,
}

impl Report {
    /// True when nothing a viewer would miss is missing or wrong (orphans included).
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }

    /// The verdict: complete, and with `strict` also free of warnings.
    pub fn passes(&self, strict: bool) -> bool {
        self.is_complete() && (!strict || self.warnings.is_empty())
    }
}

/// How to verify, beyond what is expected.
#[derive(Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The backup bucket, to tell "only in the backup" from "missing".
    pub backup: Option<&'a dyn ObjectStore>,
    /// The manifest's own key, which is expected but not listed in itself.
    pub manifest_key: Option<&'a str>,
    /// Download every object and compare its bytes' checksums with the expectation, instead
    /// of trusting the checksums the store reports.
    pub download: bool,
    /// Objects checked at once (HEAD or GET requests in flight).
    pub concurrency: usize,
    /// List only the directory's objects whose names start with this: one recording among
    /// thousands sharing a directory (Agora names every file of a recording `<sid>_…`), so
    /// that one LIST covers it and only its own objects can be orphans.
    pub name_prefix: Option<&'a str>,
}

impl Default for VerifyOptions<'_> {
    fn default() -> Self {
        VerifyOptions {
            backup: None,
            manifest_key: None,
            download: false,
            concurrency: 16,
            name_prefix: None,
        }
    }
}

/// Verifies `expected` (and the playlists among them) in the directory `prefix`.
pub async fn verify(
    primary: &dyn ObjectStore,
    backup: Option<&dyn ObjectStore>,
    prefix: &str,
    expected: &[Expected],
    manifest_key: Option<&str>,
) -> Result<Report> {
    let opts = VerifyOptions {
        backup,
        manifest_key,
        ..VerifyOptions::default()
    };
    verify_with(primary, prefix, expected, &opts).await
}

/// [`verify`] with every option.
pub async fn verify_with(
    primary: &dyn ObjectStore,
    prefix: &str,
    expected: &[Expected],
    opts: &VerifyOptions<'_>,
) -> Result<Report> {
    let mut report = Report {
        checked: expected.len(),
        ..Report::default()
    };
    let dir = dir_prefix(prefix) + opts.name_prefix.unwrap_or("");
    let bounds = range_bounds(expected, &dir);
    let backup_listing = async {
        match opts.backup {
            Some(b) => list(b, &dir, &bounds).await.map(Some),
            None => Ok(None),
        }
    };
    let ((mut listed, requests), backup) =
        futures::try_join!(list(primary, &dir, &bounds), backup_listing)?;
    report.requests += requests;
    let backup_listed = backup.map(|(listed, requests)| {
        report.requests += requests;
        listed
    });
    head_unlisted(primary, expected, &mut listed, opts, &mut report).await;
    let outcomes: Vec<(Outcome, usize)> = futures::stream::iter(expected)
        .map(|exp| check_one(primary, exp, &listed, backup_listed.as_ref(), opts))
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    for (outcome, requests) in outcomes {
        report.requests += requests;
        outcome.record(&mut report);
    }
    let mut named = BTreeSet::new();
    for exp in expected.iter().filter(|e| is_playlist(&e.key)) {
        named.extend(playlists::check_playlist(primary, &exp.key, &listed, &mut report).await);
    }
    let known: BTreeSet<&str> = expected.iter().map(|e| e.key.as_str()).collect();
    count_named_only(&named, &known, &listed, &mut report);
    let wanted: BTreeSet<&str> = known
        .into_iter()
        .chain(opts.manifest_key)
        .chain(named.iter().map(String::as_str))
        .collect();
    for key in listed.keys().filter(|k| !wanted.contains(k.as_str())) {
        report.problems.push(Problem::Orphan { key: key.clone() });
    }
    Ok(report)
}

fn is_playlist(key: &str) -> bool {
    key.to_ascii_lowercase().ends_with(".m3u8")
}

/// The listing prefix of a recording's directory: `rec/room1` → `rec/room1/`, so that
/// `rec/room10/…` is not taken in; the bucket's root stays empty.
pub fn dir_prefix(prefix: &str) -> String {
    match prefix.trim_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    }
}

/// Segments the playlists name that no expectation covers (a playlist URL or an Agora
/// answer names only the playlists): present ones are checked and unproven, with why.
fn count_named_only(
    named: &BTreeSet<String>,
    known: &BTreeSet<&str>,
    listed: &BTreeMap<String, ObjectMeta>,
    report: &mut Report,
) {
    for key in named.iter().filter(|k| !known.contains(k.as_str())) {
        let Some(found) = listed.get(key) else {
            continue; // reported as named but missing
        };
        report.checked += 1;
        report.bytes += found.size;
        report.unproven.push(Unproven {
            key: key.clone(),
            why: content::NAMED_ONLY.into(),
        });
    }
}

/// Keys per listing range: one page of S3's listing (and most vendors').
const RANGE_KEYS: usize = 1000;
/// Listing ranges requested at once.
const RANGES_AT_ONCE: usize = 8;

/// Where the listing is cut into ranges: every [`RANGE_KEYS`]th expected key under `dir`, in
/// key order. None for a recording that fits in one page.
fn range_bounds(expected: &[Expected], dir: &str) -> Vec<String> {
    let keys: BTreeSet<&str> = expected
        .iter()
        .map(|e| e.key.as_str())
        .filter(|k| k.starts_with(dir))
        .collect();
    keys.into_iter()
        .skip(RANGE_KEYS - 1)
        .step_by(RANGE_KEYS)
        .map(str::to_string)
        .collect()
}

/// Everything under `prefix`, and the requests it took. The expected keys cut the key space
/// into ranges of about a page each (`bounds`), listed at once, each from just after the
/// previous range's last key: the pages of one listing, in the time of a few instead of one
/// after another (a 10 000-segment recording is 11 pages). A store that lists in another
/// order only costs more pages; an expected key a range missed is HEADed before it is called
/// missing ([`head_unlisted`]).
async fn list(
    store: &dyn ObjectStore,
    prefix: &str,
    bounds: &[String],
) -> Result<(BTreeMap<String, ObjectMeta>, usize)> {
    let starts = std::iter::once(None).chain(bounds.iter().map(Some));
    let ends = bounds.iter().map(Some).chain(std::iter::once(None));
    let ranges: Vec<(Vec<ObjectMeta>, usize)> = futures::stream::iter(starts.zip(ends))
        .map(|(after, upto)| list_range(store, prefix, after, upto))
        .buffer_unordered(RANGES_AT_ONCE)
        .try_collect()
        .await?;
    let requests = ranges.iter().map(|(_, n)| n).sum();
    let listed = ranges
        .into_iter()
        .flat_map(|(objects, _)| objects)
        .map(|o| (o.key.clone(), o))
        .collect();
    Ok((listed, requests))
}

/// The objects after `after` up to and including `upto` (to the end without it), and the
/// pages that took.
async fn list_range(
    store: &dyn ObjectStore,
    prefix: &str,
    after: Option<&String>,
    upto: Option<&String>,
) -> Result<(Vec<ObjectMeta>, usize)> {
    let mut req = ListRequest {
        prefix: prefix.to_string(),
        start_after: after.cloned(),
        ..Default::default()
    };
    let within = |key: &str| upto.is_none_or(|u| key <= u.as_str());
    let (mut objects, mut requests) = (Vec::new(), 0);
    loop {
        let page = store.list(&req).await?;
        requests += 1;
        // The range is done once a page reaches its last key (or passes it).
        let done = upto.is_some_and(|u| page.objects.last().is_some_and(|o| &o.key >= u));
        objects.extend(page.objects.into_iter().filter(|o| within(&o.key)));
        match page.next {
            Some(token) if !done => req.continuation = Some(token),
            _ => return Ok((objects, requests)),
        }
    }
}

/// Some listings lag behind writes (COS documents it): an expected key the listing lacks gets
/// one HEAD before it is called missing. Costs nothing when everything is listed.
async fn head_unlisted(
    store: &dyn ObjectStore,
    expected: &[Expected],
    listed: &mut BTreeMap<String, ObjectMeta>,
    opts: &VerifyOptions<'_>,
    report: &mut Report,
) {
    let unlisted: Vec<&str> = expected
        .iter()
        .map(|e| e.key.as_str())
        .filter(|k| !listed.contains_key(*k))
        .collect();
    report.requests += unlisted.len();
    let found: Vec<ObjectMeta> = futures::stream::iter(unlisted)
        .map(|key| store.head(key))
        .buffer_unordered(opts.concurrency.max(1))
        .filter_map(|r| async move { r.ok() })
        .collect()
        .await;
    for meta in found {
        listed.insert(meta.key.clone(), meta);
    }
}

/// What checking one expected object found.
enum Outcome {
    Intact {
        bytes: u64,
    },
    Unproven {
        key: String,
        why: String,
        bytes: u64,
    },
    Problem(Problem),
}

impl Outcome {
    fn record(self, report: &mut Report) {
        match self {
            Outcome::Intact { bytes } => {
                report.intact += 1;
                report.bytes += bytes;
            }
            Outcome::Unproven { key, why, bytes } => {
                report.unproven.push(Unproven { key, why });
                report.bytes += bytes;
            }
            Outcome::Problem(p) => report.problems.push(p),
        }
    }
}

/// Checks one object; returns what it found and the requests it made.
async fn check_one(
    store: &dyn ObjectStore,
    exp: &Expected,
    listed: &BTreeMap<String, ObjectMeta>,
    backup: Option<&BTreeMap<String, ObjectMeta>>,
    opts: &VerifyOptions<'_>,
) -> (Outcome, usize) {
    let key = exp.key.clone();
    let Some(found) = listed.get(&exp.key) else {
        let in_backup = backup.is_some_and(|b| b.contains_key(&exp.key));
        let problem = if in_backup {
            Problem::OnlyInBackup { key }
        } else {
            Problem::Missing { key }
        };
        return (Outcome::Problem(problem), 0);
    };
    if let Some(size) = exp.size.filter(|s| *s != found.size) {
        let problem = Problem::SizeMismatch {
            key,
            expected: size,
            found: found.size,
        };
        return (Outcome::Problem(problem), 0);
    }
    let bytes = found.size;
    let (verdict, requests) = if opts.download {
        (content::download_check(store, exp).await, 1)
    } else {
        content::content_check(store, exp, found).await
    };
    let outcome = match verdict {
        Verdict::Proven => Outcome::Intact { bytes },
        Verdict::Unproven(why) => Outcome::Unproven { key, why, bytes },
        Verdict::Mismatch(detail) => Outcome::Problem(Problem::ContentMismatch { key, detail }),
    };
    (outcome, requests)
}
