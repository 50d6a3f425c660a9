//! The media playlist model: what a recording's playlist says, kept exactly enough to be
//! written back (durations as written, unknown tags where they stood).

use std::fmt;

use time::OffsetDateTime;

/// A segment duration, exact: the text as written plus microseconds for arithmetic.
/// (m3u8-rs keeps `f32`, where 10 000 × 6.006 sums to 60067.6.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegDuration {
    micros: u64,
    text: String,
}

impl SegDuration {
    /// Parses a decimal number of seconds such as `6.332000` or `4`.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !digits(int) || !digits(frac) || int.len() > 12 {
            return None;
        }
        let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut micros_frac = 0u64;
        for (i, b) in frac.bytes().take(7).enumerate() {
            let d = u64::from(b - b'0');
            match i {
                0..=5 => micros_frac = micros_frac * 10 + d,
                _ => micros_frac += u64::from(d >= 5), // round the 7th digit half-up
            }
        }
        for _ in frac.len()..6 {
            micros_frac *= 10;
        }
        Some(SegDuration {
            micros: whole * 1_000_000 + micros_frac,
            text: t.to_string(),
        })
    }

    /// A duration from microseconds, written with millisecond precision or better.
    pub fn from_micros(micros: u64) -> Self {
        let (s, us) = (micros / 1_000_000, micros % 1_000_000);
        let text = if us % 1000 == 0 {
            format!("{s}.{:03}", us / 1000)
        } else {
            format!("{s}.{us:06}")
        };
        SegDuration { micros, text }
    }

    pub fn from_secs_f64(secs: f64) -> Self {
        Self::from_micros((secs.max(0.0) * 1e6).round() as u64)
    }

    pub fn micros(&self) -> u64 {
        self.micros
    }

    pub fn as_secs_f64(&self) -> f64 {
        self.micros as f64 / 1e6
    }

    /// Rounded to the nearest second, halves up (RFC 8216 §4.3.3.1).
    pub fn rounded_secs(&self) -> u64 {
        (self.micros + 500_000) / 1_000_000
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when written without a fractional part (`4`), which needs no version 3.
    pub fn is_integer_text(&self) -> bool {
        !self.text.contains('.')
    }
}

impl fmt::Display for SegDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `EXT-X-PLAYLIST-TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PlaylistType {
    Event,
    Vod,
}

impl PlaylistType {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaylistType::Event => "EVENT",
            PlaylistType::Vod => "VOD",
        }
    }
}

/// One media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub uri: String,
    pub duration: SegDuration,
    /// The EXTINF title after the comma (usually empty).
    pub title: String,
    /// An `EXT-X-DISCONTINUITY` precedes this segment.
    pub discontinuity: bool,
    pub program_date_time: Option<OffsetDateTime>,
    /// `EXT-X-BYTERANGE` value, as written.
    pub byte_range: Option<String>,
    /// Other tag lines that stood before the `EXT-X-DISCONTINUITY` of this segment.
    pub tags_before_discontinuity: Vec<String>,
    /// Other tag lines between the discontinuity (or the previous segment) and `EXTINF`,
    /// in order: `EXT-X-KEY`, `EXT-X-MAP`, Agora's `EXT-X-AGORA-*`, unknown tags.
    pub tags: Vec<String>,
}

impl Segment {
    /// A plain segment.
    pub fn new(uri: impl Into<String>, duration: SegDuration) -> Self {
        Segment {
            uri: uri.into(),
            duration,
            title: String::new(),
            discontinuity: false,
            program_date_time: None,
            byte_range: None,
            tags_before_discontinuity: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// When the segment starts: its program date time, else the UTC time in an Agora
    /// segment name, else the `TIME=` of an Agora track event or rotate tag before it.
    pub fn start_time(&self) -> Option<OffsetDateTime> {
        self.program_date_time
            .or_else(|| crate::agora::time_in_segment_name(&self.uri))
            .or_else(|| {
                self.tag_lines()
                    .find_map(|t| crate::agora::time_in_agora_tag(t))
            })
    }

    /// Every uninterpreted tag line of this segment, in order.
    pub fn tag_lines(&self) -> impl Iterator<Item = &String> {
        self.tags_before_discontinuity.iter().chain(&self.tags)
    }
}

/// A media playlist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Playlist {
    /// `EXT-X-VERSION` as read (the writer computes its own, never lower than this).
    pub version: Option<u32>,
    /// `EXT-X-TARGETDURATION` as read (the writer never writes less than the segments need).
    pub target_duration: Option<u64>,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub playlist_type: Option<PlaylistType>,
    pub independent_segments: bool,
    pub end_list: bool,
    /// Other playlist-level tag lines before the first segment, in order
    /// (`EXT-X-ALLOW-CACHE`, `EXT-X-START`, unknown ones).
    pub header_tags: Vec<String>,
    pub segments: Vec<Segment>,
    /// Tag lines after the last segment that belong to no segment.
    pub trailing_tags: Vec<String>,
}

impl Playlist {
    /// Sum of segment durations.
    pub fn duration(&self) -> SegDuration {
        SegDuration::from_micros(self.segments.iter().map(|s| s.duration.micros()).sum())
    }

    /// The smallest `EXT-X-TARGETDURATION` the segments allow: the longest EXTINF
    /// rounded half-up.
    pub fn required_target_duration(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.duration.rounded_secs())
            .max()
            .unwrap_or(0)
    }

    /// The lowest `EXT-X-VERSION` the features used need (RFC 8216 §7).
    pub fn required_version(&self) -> u32 {
        let mut v = if self.segments.iter().all(|s| s.duration.is_integer_text()) {
            1
        } else {
            3
        };
        for s in &self.segments {
            if s.byte_range.is_some() {
                v = v.max(4);
            }
            for line in s.tag_lines() {
                match crate::parse::tag_name(line) {
                    "EXT-X-MAP" => v = v.max(6),
                    "EXT-X-KEY" if line.contains("KEYFORMAT") => v = v.max(5),
                    "EXT-X-KEY" if line.contains("IV=") => v = v.max(2),
                    _ => {}
                }
            }
        }
        v
    }

    /// The version the writer puts out: what the features need, never below what was read.
    pub fn output_version(&self) -> u32 {
        self.required_version()
            .max(self.version.unwrap_or(0))
            .max(3)
    }
}
