//! Content types for recording files. HLS players and browsers rely on these: a playlist
//! served as `application/octet-stream` downloads instead of playing.

/// The content type to store `key` with, by its extension (case-insensitive).
pub fn for_key(key: &str) -> String {
    let ext = key
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let known = match ext.as_str() {
        "m3u8" | "m3u" => Some("application/vnd.apple.mpegurl"),
        "ts" => Some("video/mp2t"),
        "mp4" | "m4s" | "m4v" => Some("video/mp4"),
        "m4a" => Some("audio/mp4"),
        "webm" => Some("video/webm"),
        "json" => Some("application/json"),
        "mpd" => Some("application/dash+xml"),
        "aac" => Some("audio/aac"),
        _ => None,
    };
    match known {
        Some(ct) => ct.to_string(),
        None => mime_guess::from_ext(&ext)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::for_key;

    #[test]
    fn recording_files() {
        assert_eq!(
            for_key("rec/sid_cname.m3u8"),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(for_key("rec/sid_cname_20190920125142485.TS"), "video/mp2t");
        assert_eq!(for_key("a.mp4"), "video/mp4");
        assert_eq!(for_key("a.webm"), "video/webm");
        assert_eq!(for_key("a.json"), "application/json");
    }

    #[test]
    fn other_extensions_and_none() {
        assert_eq!(for_key("cover.png"), "image/png");
        assert_eq!(for_key("README"), "application/octet-stream");
        assert_eq!(for_key("x.unknownext"), "application/octet-stream");
    }
}
