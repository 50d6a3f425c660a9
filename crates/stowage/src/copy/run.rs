//! Carrying out a plan: every copy, some at once, and what came of each.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use stowage_core::{ObjectMeta, Result};

use super::{End, copy};
use crate::text::{checksums_json, human_size};

/// One copy and what came of it: the bytes copied with what the store keeps, or the error.
pub struct Copied {
    /// The source.
    pub from: End,
    /// The destination.
    pub to: End,
    /// Bytes copied and the stored metadata, or why the copy failed.
    pub result: Result<(u64, Option<ObjectMeta>)>,
}

impl Copied {
    /// `copied SRC -> DST (SIZE)`, or `SRC -> DST: ERROR` for a copy that failed.
    pub fn text(&self) -> String {
        let (from, to) = (self.from.describe(), self.to.describe());
        match &self.result {
            Ok((size, _)) => format!("copied {from} -> {to} ({})", human_size(*size)),
            Err(e) => format!("{from} -> {to}: {e}"),
        }
    }

    fn json(&self) -> Value {
        let (src, dst) = (self.from.describe(), self.to.describe());
        match &self.result {
            Ok((size, meta)) => json!({
                "src": src, "dst": dst, "size": size,
                "etag": meta.as_ref().and_then(|m| m.etag.clone()),
                "checksums": meta.as_ref().map(|m| checksums_json(&m.checksums)),
            }),
            Err(e) => json!({"src": src, "dst": dst, "error": e.to_string()}),
        }
    }
}

/// Every copy of a plan, in the order of their sources.
pub struct CopyReport {
    /// Each copy and what came of it.
    pub items: Vec<Copied>,
    /// How long the copies took together.
    pub elapsed: Duration,
}

impl CopyReport {
    /// Copies that failed.
    pub fn failed(&self) -> usize {
        self.items.iter().filter(|c| c.result.is_err()).count()
    }

    /// Bytes copied by the copies that succeeded.
    pub fn bytes(&self) -> u64 {
        let sizes = self.items.iter().filter_map(|c| c.result.as_ref().ok());
        sizes.map(|(size, _)| size).sum()
    }

    /// `N copied, F failed, SIZE in S s`.
    pub fn summary_line(&self) -> String {
        let failed = self.failed();
        format!(
            "{} copied, {failed} failed, {} in {:.2} s",
            self.items.len() - failed,
            human_size(self.bytes()),
            self.elapsed.as_secs_f64()
        )
    }

    /// `{"copied", "failed", "bytes", "items": [{"src", "dst", "size", "etag", "checksums"} or {"src", "dst", "error"}]}`.
    pub fn json(&self) -> Value {
        let failed = self.failed();
        let items: Vec<Value> = self.items.iter().map(Copied::json).collect();
        json!({"copied": self.items.len() - failed, "failed": failed, "bytes": self.bytes(), "items": items})
    }
}

/// Runs every copy of `pairs`, `concurrency` at once (at least one).
pub async fn copy_all(pairs: Vec<(End, End)>, concurrency: usize) -> CopyReport {
    let started = std::time::Instant::now();
    let mut items: Vec<Copied> = futures::stream::iter(pairs)
        .map(|(from, to)| async move {
            let result = copy(&from, &to).await;
            Copied { from, to, result }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    items.sort_by_key(|c| c.from.describe());
    CopyReport {
        items,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn copies_are_reported_in_source_order_with_failures_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store: std::sync::Arc<dyn stowage_core::ObjectStore> =
            std::sync::Arc::new(stowage_fs::FsStore::open(dir.path()).await.unwrap());
        std::fs::write(dir.path().join("a.txt"), b"abc").unwrap();
        let pair = |src: &str, key: &str| {
            let to = End::Object {
                store: store.clone(),
                key: key.into(),
            };
            (End::Local(dir.path().join(src)), to)
        };
        let report = copy_all(vec![pair("missing", "m"), pair("a.txt", "b")], 4).await;
        assert_eq!((report.failed(), report.bytes()), (1, 3));
        assert!(
            report.items[0].text().starts_with("copied "),
            "{}",
            report.items[0].text()
        );
        assert_eq!(report.json()["copied"], 1);
        assert!(
            report
                .summary_line()
                .starts_with("1 copied, 1 failed, 3 B in ")
        );
    }
}
