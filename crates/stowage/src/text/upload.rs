//! Pipeline events and upload summaries as lines.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use stowage_pipeline::{Ended, Event, Summary};

use super::human_size;

/// One event as a log line (`landed    rec/a.ts (188 B) in Primary`), or `None` for events
/// too frequent to say (a send starting).
pub fn event_line(e: &Event) -> Option<String> {
    Some(match e {
        Event::Planned { objects, bytes } => {
            format!("sending   {objects} object(s), {}", human_size(*bytes))
        }
        Event::Landed {
            key,
            size,
            location,
        } => format!("landed    {key} ({}) in {location:?}", human_size(*size)),
        Event::Retrying {
            key,
            attempt,
            error,
        } => format!("retrying  {key} (attempt {attempt}): {error}"),
        Event::SentToBackup { key, primary_error } => {
            format!("backup    {key}: the primary refused it: {primary_error}")
        }
        Event::Failed { key, error } => format!("FAILED    {key}: {error}"),
        Event::PlaylistPublished { key, bucket } => format!("published {key} to {bucket}"),
        Event::PlaylistUpdated { key, segments } => {
            format!("updated   {key} ({segments} segments confirmed)")
        }
        Event::PlaylistHeld { key, reason } => format!("held      {key}: {reason}"),
        Event::AbortedStaleUpload { key, upload_id } => {
            format!("aborted   a stale multipart upload of {key} ({upload_id})")
        }
        Event::Deleted { key } => format!("deleted   local copy of {key}"),
        Event::BucketUnusable { bucket, error } => {
            format!("STOPPED   sending to {bucket}: {error} (what was not sent stays in the spool)")
        }
        Event::Skipped { path, reason } => format!("skipped   {path}: {reason}"),
        Event::PlaylistClosed { key, ended } => {
            format!(
                "closed    {key} as a complete VOD (ENDLIST added; the recording ended: {ended:?})"
            )
        }
        Event::DeadlineReached { pending } => {
            format!("deadline  reached with {pending} object(s) not landed; they stay in the spool")
        }
        Event::Sending { .. } => return None,
    })
}

/// How a followed recording ended, in words.
pub fn ended_text(ended: Ended) -> &'static str {
    match ended {
        Ended::EndList => "the recorder's playlist ended (ENDLIST)",
        Ended::Idle => {
            "ended idle: nothing new arrived for the idle timeout, and the recorder never wrote ENDLIST"
        }
        Ended::Stopped => "stopped before the recorder wrote ENDLIST",
        Ended::Deadline => "the deadline passed before the recording ended",
    }
}

/// An upload's summary: the status line, then each object not in the primary, each held
/// playlist, the manifest and how the recording ended.
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let status = format!("{:?}", s.status).to_lowercase();
    let mut out = vec![format!(
        "{status}: {} objects, {} landed ({} in the primary, {} in the backup) in {:.2} s",
        s.objects,
        human_size(s.bytes),
        s.in_primary,
        s.in_backup.len(),
        s.elapsed_secs
    )];
    out.extend(s.in_backup.iter().map(|k| format!("  in backup: {k}")));
    out.extend(s.pending.iter().map(|k| format!("  not landed: {k}")));
    out.extend(s.failed.iter().map(|(k, e)| format!("  failed: {k}: {e}")));
    let held = s.playlists_held.iter();
    out.extend(held.map(|(k, r)| format!("  playlist held: {k}: {r}")));
    out.extend(s.manifest.iter().map(|m| format!("manifest: {m}")));
    out.extend(s.ended.map(|e| format!("recording: {}", ended_text(e))));
    out
}

/// A run's counts so far (objects planned and landed, retries), kept from its events for a
/// progress display; shared between the threads that report events.
#[derive(Debug, Default)]
pub struct Progress {
    planned: AtomicU64,
    landed: AtomicU64,
    retries: AtomicU64,
}

impl Progress {
    /// Counts what `e` changes.
    pub fn count(&self, e: &Event) {
        match e {
            Event::Planned { objects, .. } => self.planned.store(*objects as u64, Relaxed),
            Event::Landed { .. } => {
                self.landed.fetch_add(1, Relaxed);
            }
            Event::Retrying { .. } => {
                self.retries.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }

    /// `3/10 objects, 1 retries`.
    pub fn text(&self) -> String {
        format!(
            "{}/{} objects, {} retries",
            self.landed.load(Relaxed),
            self.planned.load(Relaxed),
            self.retries.load(Relaxed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_pipeline::Status;

    #[test]
    fn progress_counts_events() {
        let p = Progress::default();
        p.count(&Event::Planned {
            objects: 3,
            bytes: 10,
        });
        p.count(&Event::Retrying {
            key: "a.ts".into(),
            attempt: 1,
            error: "timeout".into(),
        });
        assert_eq!(p.text(), "0/3 objects, 1 retries");
    }

    #[test]
    fn a_summary_lists_what_is_not_in_the_primary() {
        let s = Summary {
            status: Status::Backuped,
            objects: 3,
            bytes: 2048,
            in_primary: 2,
            in_backup: vec!["rec/b.ts".into()],
            pending: vec![],
            failed: vec![],
            playlists_published: vec![],
            playlists_held: vec![],
            manifest: None,
            elapsed_secs: 1.0,
            ended: Some(Ended::Idle),
        };
        let lines = summary_lines(&s);
        assert!(lines[0].starts_with(
            "backuped: 3 objects, 2.0 KiB landed (2 in the primary, 1 in the backup)"
        ));
        assert_eq!(lines[1], "  in backup: rec/b.ts");
        assert!(lines[2].starts_with("recording: ended idle"));
    }

    #[test]
    fn sends_starting_are_not_logged() {
        let planned = Event::Planned {
            objects: 2,
            bytes: 10,
        };
        assert_eq!(
            event_line(&planned).as_deref(),
            Some("sending   2 object(s), 10 B")
        );
    }
}
