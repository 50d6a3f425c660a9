//! M3U8 for recordings.
//!
//! - [`parse`]: tolerant reading (Agora's quirks, ffmpeg's and LiveKit's output, CRLF, BOM),
//!   exact durations, unknown tags kept where they stood;
//! - [`write()`]: strict RFC 8216 output;
//! - [`validate()`]: every rule a playlist breaks, with its line; [`summarize`] says each
//!   rule once with a count;
//! - [`decode`]: a file's bytes as text, naming where it is not UTF-8;
//! - [`EventPlaylist`]: an EVENT playlist grown one confirmed segment at a time;
//! - [`merge()`]: one VOD playlist from re-sent, failed-over and restarted recordings;
//! - [`url`]: playback URLs.
//!
//! Independent of the storage crates: the pipeline and the verifier use it.

pub mod agora;
pub mod builder;
pub mod merge;
pub mod model;
pub mod parse;
pub mod text;
pub mod url;
pub mod validate;
pub mod write;

pub use builder::EventPlaylist;
pub use merge::{Input, MergeReport, Merged, Overlap, merge};
pub use model::{Playlist, PlaylistType, SegDuration, Segment};
pub use parse::{ParseError, parse, parse_with_notes};
pub use text::{NotUtf8, decode};
pub use validate::{Level, RuleSummary, Violation, summarize, validate, validate_bytes};
pub use write::write;
