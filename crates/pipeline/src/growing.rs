//! The playlist a live recording publishes while it grows, in the recorder's own form.
//!
//! A recorder rewrites its playlist many times (some by rename, some in place: truncate,
//! then write), so any read may be half a file, and a sliding-window recorder (SRS,
//! nginx-rtmp) drops old entries. The bucket's copy must only grow (RFC 8216 §6.2.1), so it
//! is built from what was read, never replaced by it:
//!
//! - only complete lines count (a read that ends mid-line stops at the last newline);
//! - the text is cut into a header and one block per segment (the segment's tags and its
//!   URI line), and a block is appended only once its segment is confirmed in the bucket
//!   and every earlier block is there;
//! - a block already published is never removed; a shorter read adds nothing.
//!
//! The bytes are the recorder's lines, so the growing playlist, the final one (the
//! recorder's file as is) and one closed after an idle end (the same lines plus
//! `#EXT-X-ENDLIST`) have one form.

use std::collections::HashSet;

/// Tags that describe the whole playlist, kept in the header wherever they appear before the
/// first segment.
const HEADER_TAGS: [&str; 10] = [
    "#EXTM3U",
    "#EXT-X-VERSION",
    "#EXT-X-TARGETDURATION",
    "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE",
    "#EXT-X-PLAYLIST-TYPE",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-ALLOW-CACHE",
    "#EXT-X-START",
    "#EXT-X-I-FRAMES-ONLY",
];

/// One read of a recorder's playlist, cut into lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Read {
    pub header: String,
    pub blocks: Vec<Block>,
    /// The read ends with `#EXT-X-ENDLIST`.
    pub ended: bool,
}

/// A segment's lines: its tags, then its URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub uri: String,
    pub text: String,
}

/// Cuts `text` into header and blocks, ignoring a last line without its newline.
pub(crate) fn read(text: &str) -> Read {
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut header = String::new();
    let mut pending = String::new();
    let mut blocks = Vec::new();
    let mut ended = false;
    for line in complete.split_inclusive('\n') {
        let bare = line
            .trim_end_matches(['\r', '\n'])
            .trim_start_matches('\u{feff}');
        let is_uri = !bare.is_empty() && !bare.starts_with('#');
        if is_uri {
            pending.push_str(line);
            blocks.push(Block {
                uri: bare.trim().to_string(),
                text: std::mem::take(&mut pending),
            });
        } else if bare.trim() == "#EXT-X-ENDLIST" {
            ended = true;
        } else if blocks.is_empty() && pending.is_empty() && is_header_line(bare) {
            header.push_str(line);
        } else {
            pending.push_str(line);
        }
    }
    Read {
        header,
        blocks,
        ended,
    }
}

fn is_header_line(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || HEADER_TAGS.iter().any(|t| line.starts_with(t))
}

/// What the bucket holds of one growing playlist.
#[derive(Debug, Clone, Default)]
pub(crate) struct Published {
    header: Option<String>,
    blocks: Vec<Block>,
    uris: HashSet<String>,
}

impl Published {
    pub fn segments(&self) -> usize {
        self.blocks.len()
    }

    /// The blocks of `read` to append, in order: not yet published, and confirmed
    /// (`confirmed(uri)`), stopping at the first that is not.
    pub fn next_blocks(&self, read: &Read, confirmed: impl Fn(&str) -> bool) -> Vec<Block> {
        read.blocks
            .iter()
            .filter(|b| !self.uris.contains(&b.uri))
            .take_while(|b| confirmed(&b.uri))
            .cloned()
            .collect()
    }

    /// The text with `more` appended (and ENDLIST when `closed`), without changing `self`.
    pub fn text_with(&self, read: &Read, more: &[Block], closed: bool) -> String {
        let mut text = self.header.clone().unwrap_or_else(|| read.header.clone());
        for b in self.blocks.iter().chain(more) {
            text.push_str(&b.text);
        }
        if closed {
            text.push_str("#EXT-X-ENDLIST\n");
        }
        text
    }

    /// Records that `more` is now in the bucket (after `read`).
    pub fn appended(&mut self, read: &Read, more: Vec<Block>) {
        if self.header.is_none() {
            self.header = Some(read.header.clone());
        }
        for b in more {
            self.uris.insert(b.uri.clone());
            self.blocks.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGORA: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:3\n#EXT-X-DISCONTINUITY\n#EXTINF:2.0\na0.ts\n#EXTINF:2.0\na1.ts\n#EXTINF:2.0\na2.ts\n";

    #[test]
    fn a_read_is_header_and_blocks_of_complete_lines() {
        let r = read(AGORA);
        assert!(
            r.header.ends_with("#EXT-X-TARGETDURATION:3\n"),
            "{}",
            r.header
        );
        let uris: Vec<&str> = r.blocks.iter().map(|b| b.uri.as_str()).collect();
        assert_eq!(uris, ["a0.ts", "a1.ts", "a2.ts"]);
        assert_eq!(
            r.blocks[0].text,
            "#EXT-X-DISCONTINUITY\n#EXTINF:2.0\na0.ts\n"
        );
        assert!(!r.ended);
        // Cut mid-line (a truncate-then-write caught half way): the half line is ignored.
        let half = &AGORA[..AGORA.len() - 4];
        assert_eq!(read(half).blocks.len(), 2);
        assert!(read(&format!("{AGORA}#EXT-X-ENDLIST\n")).ended);
    }

    #[test]
    fn the_published_playlist_only_grows() {
        let mut p = Published::default();
        let all = |_: &str| true;
        let r = read(AGORA);
        let more = p.next_blocks(&r, all);
        assert_eq!(more.len(), 3);
        let text = p.text_with(&r, &more, false);
        assert_eq!(text, AGORA, "the recorder's own bytes");
        p.appended(&r, more);
        // A shorter (half-written) read adds nothing and removes nothing.
        let short = read(&AGORA[..60]);
        assert!(p.next_blocks(&short, all).is_empty());
        assert_eq!(p.text_with(&short, &[], false), AGORA);
        // A sliding window that dropped a0 and a1 and added a3: a3 is appended.
        let window = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-TARGETDURATION:3\n#EXTINF:2.0\na2.ts\n#EXTINF:2.0\na3.ts\n";
        let r = read(window);
        let more = p.next_blocks(&r, all);
        assert_eq!(more.len(), 1);
        let text = p.text_with(&r, &more, true);
        assert_eq!(text, format!("{AGORA}#EXTINF:2.0\na3.ts\n#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn a_block_waits_for_its_segment_and_those_before_it() {
        let p = Published::default();
        let r = read(AGORA);
        let more = p.next_blocks(&r, |uri| uri != "a1.ts");
        let uris: Vec<&str> = more.iter().map(|b| b.uri.as_str()).collect();
        assert_eq!(uris, ["a0.ts"], "a2 waits behind a1");
    }
}
