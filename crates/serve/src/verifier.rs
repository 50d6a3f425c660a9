//! Every call into `stowage-verify`, in one place: expectations from the events' fileList
//! (or, for a recording whose 31/32 never came, the playlists found under its prefix), one
//! verification, a repair from the backup when something is wrong, and a second
//! verification. The verifier's reports go out as JSON, so their shape is the verifier's.

use serde_json::{Value, json};
use stowage_core::{ObjectStore, Result};
use stowage_verify::{Problem, RepairSource, Report};

/// What verifying one recording found.
pub struct Verified {
    /// `complete`, `repaired` or `incomplete`.
    pub verdict: &'static str,
    /// The verifier's report(s) and the repair, as JSON.
    pub body: Value,
    /// Keys missing or wrong after everything (for the compact result).
    pub problem_keys: Vec<String>,
}

/// Verifies the recording `sid` under `prefix` of `primary`.
///
/// `file_list` holds the keys Agora named (as sent: with or without the route's prefix).
/// Without any, the playlists `<prefix>/<sid>_*.m3u8` are looked for, with their backup-cloud
/// and failover siblings; with none there, the recording's conventional playlist
/// `<prefix>/<sid>_<cname>.m3u8` is reported missing.
pub async fn verify_recording(
    primary: &dyn ObjectStore,
    backup: Option<&dyn ObjectStore>,
    prefix: &str,
    sid: &str,
    cname: Option<&str>,
    file_list: &[String],
) -> Result<Verified> {
    let keys: Vec<String> = if file_list.is_empty() {
        found_playlists(primary, prefix, sid).await?
    } else {
        file_list.iter().map(|k| under(prefix, k)).collect()
    };
    let (keys, expected_from) = if keys.is_empty() {
        let name = format!("{sid}_{}.m3u8", cname.unwrap_or_default());
        (vec![under(prefix, &name)], "conventional_name")
    } else if file_list.is_empty() {
        (keys, "listing")
    } else {
        (keys, "file_list")
    };
    let mut expected = Vec::new();
    for key in &keys {
        if key.ends_with(".m3u8") && file_list.is_empty() {
            expected.extend(stowage_verify::expected_from_playlist(primary, key).await?);
        }
    }
    if expected.is_empty() {
        let list: Vec<Value> = keys.iter().map(|k| json!({ "fileName": k })).collect();
        let doc = json!({ "fileList": list }).to_string();
        expected = stowage_verify::expected_from_agora(doc.as_bytes())?;
    }
    // The recording's directory: the first expected key's. Agora names every file of a
    // recording `<sid>_…`, and one directory often holds thousands of recordings, so only
    // the names starting `<sid>_` are listed (one LIST instead of one per 1 000 keys of the
    // directory), and only orphans named after this sid are this recording's.
    let dir = keys[0]
        .rsplit_once('/')
        .map_or(String::new(), |(d, _)| d.to_string());
    let name_prefix = format!("{sid}_");
    let check = || async {
        let opts = stowage_verify::VerifyOptions {
            backup,
            name_prefix: Some(&name_prefix),
            ..Default::default()
        };
        let mut report = stowage_verify::verify_with(primary, &dir, &expected, &opts).await?;
        report.problems.retain(|p| match p {
            Problem::Orphan { key } => is_this_recordings(key, sid),
            _ => true,
        });
        Ok::<Report, stowage_core::Error>(report)
    };
    let first = check().await?;
    let mut body = json!({
        "prefix": dir,
        "expected_from": expected_from,
        "expected": keys,
        "report": first,
    });
    if first.is_complete() {
        return Ok(Verified {
            verdict: "complete",
            body,
            problem_keys: Vec::new(),
        });
    }
    let Some(backup) = backup else {
        let problem_keys = problem_keys(&first);
        return Ok(Verified {
            verdict: "incomplete",
            body,
            problem_keys,
        });
    };
    let repair = stowage_verify::repair(primary, &first, RepairSource::Store(backup)).await;
    let after = check().await?;
    let verdict = if after.is_complete() {
        "repaired"
    } else {
        "incomplete"
    };
    let problem_keys = problem_keys(&after);
    body["repair"] = serde_json::to_value(&repair).unwrap_or(Value::Null);
    body["after_repair"] = serde_json::to_value(&after).unwrap_or(Value::Null);
    Ok(Verified {
        verdict,
        body,
        problem_keys,
    })
}

/// `key` below `prefix`, unless Agora's name already starts with it.
fn under(prefix: &str, key: &str) -> String {
    let key = key.trim_start_matches('/');
    if prefix.is_empty() || key.starts_with(&format!("{prefix}/")) {
        key.to_string()
    } else {
        format!("{prefix}/{key}")
    }
}

/// Agora names every file of a recording `<sid>_…`.
fn is_this_recordings(key: &str, sid: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.starts_with(&format!("{sid}_"))
}

/// The recording's playlists in the bucket: `<prefix>/<sid>_*.m3u8`.
async fn found_playlists(store: &dyn ObjectStore, prefix: &str, sid: &str) -> Result<Vec<String>> {
    let dir = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    Ok(store
        .list_all(&format!("{dir}{sid}_"))
        .await?
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with(".m3u8") && !k[dir.len()..].contains('/'))
        .collect())
}

fn problem_keys(report: &Report) -> Vec<String> {
    let v = serde_json::to_value(&report.problems).unwrap_or(Value::Null);
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            p.get("key")
                .or_else(|| p.get("segment"))
                .or_else(|| p.get("playlist"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agora_names_are_put_under_the_prefix_once() {
        assert_eq!(under("agora", "S_c.m3u8"), "agora/S_c.m3u8");
        assert_eq!(under("agora", "agora/S_c.m3u8"), "agora/S_c.m3u8");
        assert_eq!(under("", "/S_c.m3u8"), "S_c.m3u8");
        assert!(is_this_recordings("a/S1_c_1.ts", "S1"));
        assert!(!is_this_recordings("a/S10_c_1.ts", "S1"));
    }
}
