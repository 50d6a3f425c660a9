//! An EVENT playlist built as a recording is uploaded: a segment is appended only when the
//! caller says it is confirmed in the bucket (rfc8216bis §6.2.1: a segment must be
//! downloadable when it appears in a playlist), rendered at any time, finished with
//! `EXT-X-ENDLIST`. A live sliding-window view can be rendered beside it.

use crate::model::{Playlist, PlaylistType, Segment};
use crate::write::write;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct EventPlaylist {
    playlist: Playlist,
}

impl EventPlaylist {
    /// A new EVENT playlist. `target_duration` should be the recorder's maximum segment
    /// length: RFC 8216 §6.2.1 forbids changing it later. A longer segment still gets in
    /// (nothing is dropped) and the rendered target grows to fit it.
    pub fn new(target_duration: u64) -> Self {
        EventPlaylist {
            playlist: Playlist {
                target_duration: Some(target_duration),
                playlist_type: Some(PlaylistType::Event),
                ..Playlist::default()
            },
        }
    }

    /// Playlist-level tags to keep (e.g. `#EXT-X-INDEPENDENT-SEGMENTS` is a flag; this is
    /// for others).
    pub fn with_header_tag(mut self, line: impl Into<String>) -> Self {
        self.playlist.header_tags.push(line.into());
        self
    }

    /// Appends a segment that is confirmed in the bucket.
    pub fn append_confirmed(&mut self, segment: Segment) {
        self.playlist.segments.push(segment);
    }

    /// Segments so far.
    pub fn len(&self) -> usize {
        self.playlist.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.playlist.segments.is_empty()
    }

    /// True once finished.
    pub fn is_finished(&self) -> bool {
        self.playlist.end_list
    }

    /// The playlist as it stands.
    pub fn render(&self) -> String {
        write(&self.playlist)
    }

    /// Marks the recording complete (`EXT-X-ENDLIST`) and renders it.
    pub fn finish(&mut self) -> String {
        self.playlist.end_list = true;
        self.render()
    }

    pub fn playlist(&self) -> &Playlist {
        &self.playlist
    }

    /// A live playlist of the last `window` segments: no playlist type (§4.3.3.5), a media
    /// sequence counting the segments left out, and a discontinuity sequence counting the
    /// discontinuities left out with them (§4.3.3.3).
    pub fn render_live(&self, window: usize) -> String {
        let all = &self.playlist.segments;
        let dropped = all.len().saturating_sub(window.max(1));
        let live = Playlist {
            media_sequence: dropped as u64,
            discontinuity_sequence: all[..dropped].iter().filter(|s| s.discontinuity).count()
                as u64,
            playlist_type: None,
            segments: all[dropped..].to_vec(),
            ..self.playlist.clone()
        };
        write(&live)
    }
}
