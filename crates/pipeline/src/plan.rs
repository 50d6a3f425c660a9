//! What to upload: the files of a recording directory, their keys, and which segments each
//! playlist names (a playlist is published only after all of them).

use std::path::Path;

use stowage_core::{Error, Result};

pub use stowage_core::fsutil::{LocalFile, STATE_DIR};

/// The key of `rel` under `prefix` (Agora's `fileNamePrefix`: path segments joined by `/`).
pub fn key_for(prefix: &str, rel: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// Checks a `fileNamePrefix`-style prefix: segments of letters, digits and `-_.`, no `..`.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    for seg in prefix
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
    {
        let ok = seg != "."
            && seg != ".."
            && seg
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(Error::invalid_input(format!(
                "prefix segment `{seg}` is not allowed: use letters, digits, `-`, `_` and `.` (like Agora's fileNamePrefix)"
            )));
        }
    }
    Ok(())
}

/// A name short enough to quote in a message: long ones keep their start and end.
pub fn shorten(name: &str) -> String {
    const HEAD: usize = 60;
    const TAIL: usize = 40;
    let count = name.chars().count();
    if count <= HEAD + TAIL + 20 {
        return name.to_string();
    }
    let head: String = name.chars().take(HEAD).collect();
    let tail: String = name.chars().skip(count - TAIL).collect();
    format!("{head}…{tail} ({count} characters)")
}

/// Every regular file under `dir` except Stowage's own state, sorted by relative path.
pub fn scan(dir: &Path) -> Result<Vec<LocalFile>> {
    stowage_core::fsutil::local_files(dir)
}

/// [`scan`], and the files left out with the reason (symbolic links leaving the spool).
pub fn scan_with_skipped(dir: &Path) -> Result<stowage_core::fsutil::Scan> {
    stowage_core::fsutil::scan_files(dir)
}

/// The relative paths (in the recording directory) of the segments a playlist names.
/// Absolute URLs and paths that leave the directory are returned in the second list: they
/// cannot be confirmed here.
pub fn referenced_segments(playlist_rel: &str, text: &str) -> Result<(Vec<String>, Vec<String>)> {
    let playlist = stowage_hls::parse(text)
        .map_err(|e| Error::invalid_input(format!("playlist {playlist_rel}: {e}")))?;
    let base = playlist_rel.rsplit_once('/').map_or("", |(d, _)| d);
    let mut local = Vec::new();
    let mut outside = Vec::new();
    for seg in &playlist.segments {
        match resolve(base, &seg.uri) {
            Some(rel) => local.push(rel),
            None => outside.push(seg.uri.clone()),
        }
    }
    Ok((local, outside))
}

/// The relative path (in the recording directory) of `uri` as named by the playlist at
/// `playlist_rel`; `None` for URLs, absolute paths and escapes.
pub fn resolve_in(playlist_rel: &str, uri: &str) -> Option<String> {
    let base = playlist_rel.rsplit_once('/').map_or("", |(d, _)| d);
    resolve(base, uri)
}

/// `uri` relative to directory `base`, normalised; `None` for URLs and escapes.
fn resolve(base: &str, uri: &str) -> Option<String> {
    if uri.contains("://") || uri.starts_with('/') {
        return None;
    }
    let uri = uri.split(['?', '#']).next().unwrap_or(uri);
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for seg in uri.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_prefixes() {
        assert_eq!(key_for("", "a.ts"), "a.ts");
        assert_eq!(key_for("/rec/2026/", "a.ts"), "rec/2026/a.ts");
        validate_prefix("agora/app-1/chan_2").unwrap();
        assert!(validate_prefix("a/../b").is_err());
        assert!(
            validate_prefix("a b")
                .unwrap_err()
                .to_string()
                .contains("fileNamePrefix")
        );
    }

    #[test]
    fn long_names_are_quoted_shortened() {
        assert_eq!(shorten("seg_1.ts"), "seg_1.ts");
        let long = format!("{}.ts", "x".repeat(100_000));
        let short = shorten(&long);
        assert!(short.len() < 200, "{}", short.len());
        assert!(short.ends_with("xxx.ts (100003 characters)"), "{short}");
    }

    #[test]
    fn references_resolve_against_the_playlist_directory() {
        let text = "#EXTM3U\n#EXTINF:2,\nseg0.ts\n#EXTINF:2,\n../other/seg1.ts?x=1\n#EXTINF:2,\nhttps://cdn/x.ts\n#EXTINF:2,\n../../escape.ts\n";
        let (local, outside) = referenced_segments("sub/p.m3u8", text).unwrap();
        assert_eq!(local, ["sub/seg0.ts", "other/seg1.ts"]);
        assert_eq!(outside, ["https://cdn/x.ts", "../../escape.ts"]);
    }
}
