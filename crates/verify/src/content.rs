//! Is an object's content the expected one? Proven from what the store reports, cheapest
//! first: checksums in the listing, a single-part MD5 ETag, one HEAD for the store's
//! checksums, then the ETag a Stowage multipart upload recorded with its part layout.
//! Only when none of these applies is the object "unproven", and the reason is given.

use futures::StreamExt;
use stowage_core::{ChecksumAlgo, Checksums, ObjectMeta, ObjectStore};

use crate::Expected;
use crate::layout;

/// What checking an object's content found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Proven,
    /// Present with the right size; nothing to compare the content with, and why.
    Unproven(String),
    Mismatch(String),
}

/// Why an object named only by a playlist or an Agora answer cannot be proven.
pub(crate) const NAMED_ONLY: &str = "named by a playlist or an Agora file list only: no size or checksum is known (Stowage did not upload it, or no manifest was given); --dir DIR compares it with the local recording";

/// Why an object found by its name beside a playlist cannot be proven.
const NAME_AND_SIZE_ONLY: &str = "only the name and listed size are known (Stowage did not upload it, or no manifest was given); --dir DIR compares it with the local recording";

/// The comparable part of two sets of checksums: a qetag v2 (of a multipart layout) and a
/// whole-file qetag describe the same bytes differently, so that pair is left out.
fn compare(expected: &Checksums, found: &Checksums) -> Option<Result<(), String>> {
    let mut expected = expected.clone();
    if let (Some(e), Some(f)) = (&expected.qetag, &found.qetag)
        && layout::is_qetag_v2(e) != layout::is_qetag_v2(f)
    {
        expected.qetag = None;
    }
    match expected.verify(found) {
        Ok(0) => None,
        Ok(_) => Some(Ok(())),
        Err(e) => Some(Err(e.message().to_string())),
    }
}

fn from(result: Result<(), String>) -> Verdict {
    match result {
        Ok(()) => Verdict::Proven,
        Err(detail) => Verdict::Mismatch(detail),
    }
}

/// Checks one present object of the right size; returns the verdict and the requests made.
pub(crate) async fn content_check(
    store: &dyn ObjectStore,
    exp: &Expected,
    found: &ObjectMeta,
) -> (Verdict, usize) {
    if exp.checksums.is_empty() && exp.etag.is_none() {
        let why = if exp.size.is_some() {
            NAME_AND_SIZE_ONLY
        } else {
            NAMED_ONLY
        };
        return (Verdict::Unproven(why.into()), 0);
    }
    if let Some(r) = compare(&exp.checksums, &found.checksums) {
        return (from(r), 0);
    }
    if let Some(r) = md5_etag(store, exp, found) {
        return (from(r), 0);
    }
    if same_as_uploaded(exp, found) {
        return (Verdict::Proven, 0);
    }
    let mut requests = 0;
    let mut head = None;
    if head_may_prove(store, exp) {
        requests = 1;
        match store.head(&exp.key).await {
            Err(e) => return (Verdict::Mismatch(e.to_string()), 1),
            Ok(meta) => match compare(&exp.checksums, &meta.checksums) {
                Some(r) => return (from(r), 1),
                None => head = Some(meta),
            },
        }
    }
    if let Some(r) = recorded_etag(exp, found) {
        return (from(r), requests);
    }
    let why = why_unproven(store, exp, head.as_ref().unwrap_or(found));
    (Verdict::Unproven(why), requests)
}

/// A single-part ETag is the MD5 (no request needed), unless the store says otherwise.
fn md5_etag(
    store: &dyn ObjectStore,
    exp: &Expected,
    found: &ObjectMeta,
) -> Option<Result<(), String>> {
    let md5 = exp.checksums.get(ChecksumAlgo::Md5)?;
    let etag = found.etag.as_deref()?;
    if etag.len() != 32 || etag.contains('-') || !store.capabilities().part_etag_is_md5 {
        return None;
    }
    Some(if etag.eq_ignore_ascii_case(&md5) {
        Ok(())
    } else {
        Err(format!("MD5 ETag {etag} is not the expected {md5}"))
    })
}

/// The listing shows the ETag the store gave the object when its upload was proven (by a
/// checksum the store computed, see `stowage_core::proof`): the same object, unchanged
/// since, so its content is proven without a request. Any other ETag proves nothing either
/// way (some stores give every write a new one even for the same bytes), so the object's
/// checksums are asked for next.
fn same_as_uploaded(exp: &Expected, found: &ObjectMeta) -> bool {
    let (Some(then), Some(now)) = (exp.etag.as_deref(), found.etag.as_deref()) else {
        return false;
    };
    let (then, now) = (then.trim_matches('"'), now.trim_matches('"'));
    exp.parts.is_none() && !then.is_empty() && then.eq_ignore_ascii_case(now)
}

/// Whether a HEAD can return a checksum the expectation has. Without a recorded ETag to
/// fall back on, a HEAD is tried anyway: some stores return more than they declare.
fn head_may_prove(store: &dyn ObjectStore, exp: &Expected) -> bool {
    exp.etag.is_none()
        || store
            .capabilities()
            .returned_by_head
            .iter()
            .any(|a| exp.checksums.get(*a).is_some())
}

/// The ETag a Stowage multipart upload recorded (or the one its layout gives the local
/// file), against the one the store reports: the same object the upload completed and
/// confirmed. A different one means the object was replaced since.
fn recorded_etag(exp: &Expected, found: &ObjectMeta) -> Option<Result<(), String>> {
    let (etag, parts) = (exp.etag.as_deref()?.trim_matches('"'), exp.parts?);
    let now = found.etag.as_deref()?.trim_matches('"');
    if !layout::fits(etag, parts) || !layout::fits(now, parts) {
        return None;
    }
    Some(if now.eq_ignore_ascii_case(etag) {
        Ok(())
    } else {
        Err(format!(
            "ETag {now} is not the {etag} its upload in {} parts of {} bytes gave it: the object was replaced since (if it was sent again with another part size, --download compares its bytes)",
            parts.count, parts.size
        ))
    })
}

fn why_unproven(store: &dyn ObjectStore, exp: &Expected, seen: &ObjectMeta) -> String {
    let names = |c: &Checksums| {
        let n: Vec<&str> = ChecksumAlgo::ALL
            .into_iter()
            .filter(|a| c.get(*a).is_some())
            .map(ChecksumAlgo::name)
            .collect();
        if n.is_empty() {
            "none".to_string()
        } else {
            n.join(", ")
        }
    };
    let multipart = match seen.etag.as_deref() {
        Some(e) if e.contains('-') || e.starts_with('n') => {
            " (a multipart object whose part layout is not recorded: Stowage did not upload it)"
        }
        _ => "",
    };
    format!(
        "{} reports no checksum comparable with the known {} (it has: {}){multipart}; --download reads it back to compare",
        store.name(),
        names(&exp.checksums),
        names(&seen.checksums)
    )
}

/// `--download`: reads every byte back and compares its checksums with the expectation.
pub(crate) async fn download_check(store: &dyn ObjectStore, exp: &Expected) -> Verdict {
    let algos: Vec<ChecksumAlgo> = ChecksumAlgo::ALL
        .into_iter()
        .filter(|a| exp.checksums.get(*a).is_some())
        .collect();
    let got = match store.get(&exp.key, None).await {
        Ok(g) => g,
        Err(e) => return Verdict::Mismatch(e.to_string()),
    };
    let mut hasher = stowage_core::checksum::Hasher::new(&algos);
    let mut stream = got.body;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => hasher.update(&c),
            Err(e) => return Verdict::Mismatch(format!("download failed: {e}")),
        }
    }
    let size = hasher.len();
    let sums = hasher.finish();
    if let Some(expected) = exp.size.filter(|s| *s != size) {
        return Verdict::Mismatch(format!("downloaded {size} bytes, expected {expected}"));
    }
    match compare(&exp.checksums, &sums) {
        Some(Ok(())) => Verdict::Proven,
        Some(Err(e)) => Verdict::Mismatch(format!("downloaded bytes: {e}")),
        None => Verdict::Unproven(
            "downloaded, but no checksum is known to compare its bytes with".into(),
        ),
    }
}
