//! A playlist's bytes as text. RFC 8216 §4.1: "Playlist files MUST be encoded in UTF-8". A
//! file that is not is still read (each invalid byte becomes U+FFFD, as a browser's decoder
//! does), and the first invalid byte is named by line and byte offset so it can be found.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// Where a playlist stops being UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotUtf8 {
    /// 1-based line of the first invalid byte.
    pub line: usize,
    /// 0-based offset of that byte in the file.
    pub offset: usize,
    /// The first invalid byte.
    pub byte: u8,
    /// Lines holding invalid bytes.
    pub lines: usize,
}

impl fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = match self.lines {
            0 | 1 => String::new(),
            n => format!(" ({} more line{} like it)", n - 1, plural(n - 1)),
        };
        write!(
            f,
            "not UTF-8 at line {}, byte offset {} (byte 0x{:02X}){more}; RFC 8216 §4.1 requires playlists to be UTF-8: convert the file (`iconv -f <its encoding> -t UTF-8`)",
            self.line, self.offset, self.byte
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The playlist's text, and where it is not UTF-8 (invalid bytes become U+FFFD).
pub fn decode(bytes: &[u8]) -> (Cow<'_, str>, Option<NotUtf8>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), None),
        Err(_) => (String::from_utf8_lossy(bytes), Some(first_invalid(bytes))),
    }
}

/// Finds every invalid sequence, counting the lines they fall on.
fn first_invalid(bytes: &[u8]) -> NotUtf8 {
    let mut found: Option<NotUtf8> = None;
    let (mut pos, mut line, mut counted_to) = (0usize, 1usize, 0usize);
    let mut last_bad_line = 0;
    while pos < bytes.len() {
        let Err(e) = std::str::from_utf8(&bytes[pos..]) else {
            break;
        };
        let at = pos + e.valid_up_to();
        line += bytes[counted_to..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        counted_to = at;
        let bad = found.get_or_insert(NotUtf8 {
            line,
            offset: at,
            byte: bytes[at],
            lines: 0,
        });
        if line != last_bad_line {
            bad.lines += 1;
            last_bad_line = line;
        }
        pos = at + e.error_len().unwrap_or(bytes.len() - at);
    }
    found.unwrap_or(NotUtf8 {
        line: 1,
        offset: 0,
        byte: 0,
        lines: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_borrowed_and_clean() {
        let (text, bad) = decode("#EXTM3U\n#EXTINF:2,é\n".as_bytes());
        assert!(matches!(text, Cow::Borrowed(_)));
        assert_eq!(bad, None);
    }

    #[test]
    fn the_first_invalid_byte_is_named_by_line_and_offset() {
        let bytes = b"#EXTM3U\n#EXTINF:2,caf\xe9\nseg.ts\n#EXTINF:2,\xff\nb.ts\n";
        let (text, bad) = decode(bytes);
        let bad = bad.unwrap();
        assert_eq!(
            (bad.line, bad.offset, bad.byte, bad.lines),
            (2, 21, 0xe9, 2)
        );
        assert!(text.contains("caf\u{fffd}"));
        let said = bad.to_string();
        assert!(
            said.contains("line 2, byte offset 21 (byte 0xE9)"),
            "{said}"
        );
        assert!(said.contains("1 more line like it"), "{said}");
        assert!(
            said.contains("RFC 8216 §4.1 requires playlists to be UTF-8"),
            "{said}"
        );
    }

    #[test]
    fn a_truncated_sequence_at_the_end_is_found() {
        let (_, bad) = decode(b"#EXTM3U\n\xe4\xb8");
        let bad = bad.unwrap();
        assert_eq!((bad.line, bad.offset, bad.lines), (2, 8, 1));
    }
}
