//! Agora Cloud Recording's naming and time conventions (domain.md §A4, §A9).
//!
//! - segment names end in `_<utc>.ts`, `<utc>` = `YYYYMMDDhhmmssSSS` (UTC, ms);
//! - `TIME=` in `EXT-X-AGORA-*` tags is either that form or Unix milliseconds;
//! - playlists re-sent by the backup cloud get `_<tick>_<index>.m3u8`;
//! - failover continuations get a `bak<n>_` prefix.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Parses `YYYYMMDDhhmmssSSS` (17 digits) as UTC.
pub fn parse_compact_utc(s: &str) -> Option<OffsetDateTime> {
    if s.len() != 17 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| s[a..b].parse::<u32>().ok();
    let date = Date::from_calendar_date(
        n(0, 4)? as i32,
        Month::try_from(n(4, 6)? as u8).ok()?,
        n(6, 8)? as u8,
    )
    .ok()?;
    let time = Time::from_hms_milli(
        n(8, 10)? as u8,
        n(10, 12)? as u8,
        n(12, 14)? as u8,
        n(14, 17)? as u16,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Formats a time as Agora's `YYYYMMDDhhmmssSSS` (UTC).
pub fn format_compact_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{:03}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A `TIME=` value: `YYYYMMDDhhmmssSSS`, or Unix milliseconds (13 digits), or seconds (10).
pub fn parse_agora_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match s.len() {
        17 => parse_compact_utc(s),
        13 => OffsetDateTime::from_unix_timestamp_nanos(s.parse::<i128>().ok()? * 1_000_000).ok(),
        10 => OffsetDateTime::from_unix_timestamp(s.parse().ok()?).ok(),
        _ => None,
    }
}

/// The `<utc>` at the end of an Agora segment name, e.g. `sid_cname_20190920125142485.ts`.
pub fn time_in_segment_name(uri: &str) -> Option<OffsetDateTime> {
    let name = uri.rsplit('/').next()?;
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let digits = stem.rsplit('_').next()?;
    parse_compact_utc(digits)
}

/// The `TIME=` of an `EXT-X-AGORA-TRACK-EVENT` or `EXT-X-AGORA-ROTATE` tag line.
pub fn time_in_agora_tag(line: &str) -> Option<OffsetDateTime> {
    let rest = line.strip_prefix("#EXT-X-AGORA-")?;
    let (_, attrs) = rest.split_once(':')?;
    attrs
        .split(',')
        .find_map(|a| a.trim().strip_prefix("TIME="))
        .and_then(parse_agora_time)
}

/// What an Agora playlist file name says about its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaylistName {
    /// The name with `bak<n>_` and `_<tick>_<index>` removed: the same for every copy of one
    /// playlist.
    pub base: String,
    /// `bak<n>_` prefix: the n-th failover continuation.
    pub failover: Option<u32>,
    /// `_<tick>_<index>` suffix: a copy re-sent by the backup cloud.
    pub resend: Option<(u64, u32)>,
}

/// Splits an Agora playlist file name (the file name only, not a path).
pub fn parse_playlist_name(file_name: &str) -> PlaylistName {
    let stem = file_name.strip_suffix(".m3u8").unwrap_or(file_name);
    let (failover, stem) = match stem.strip_prefix("bak").and_then(|r| r.split_once('_')) {
        Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (n.parse().ok(), rest)
        }
        _ => (None, stem),
    };
    let (resend, stem) = split_resend_suffix(stem);
    PlaylistName {
        base: format!("{stem}.m3u8"),
        failover,
        resend,
    }
}

/// `..._<tick>_<index>` where tick is a long number and index a small one.
fn split_resend_suffix(stem: &str) -> (Option<(u64, u32)>, &str) {
    let mut parts = stem.rsplitn(3, '_');
    let (Some(index), Some(tick), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return (None, stem);
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // A tick is long (Agora's are 11 digits); a 17-digit one would be a segment UTC, not a tick.
    if all_digits(index)
        && all_digits(tick)
        && tick.len() >= 6
        && tick.len() != 17
        && index.len() <= 4
        && let (Ok(t), Ok(i)) = (tick.parse(), index.parse())
    {
        return (Some((t, i)), rest);
    }
    (None, stem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn compact_form_round_trips() {
        let t = datetime!(2019-09-20 12:51:42.485 UTC);
        assert_eq!(format_compact_utc(t), "20190920125142485");
        assert_eq!(parse_compact_utc(&format_compact_utc(t)), Some(t));
    }

    #[test]
    fn both_time_forms() {
        assert_eq!(
            parse_agora_time("20190920125142485"),
            Some(datetime!(2019-09-20 12:51:42.485 UTC))
        );
        assert_eq!(
            parse_agora_time("1568597779021"),
            Some(datetime!(2019-09-16 01:36:19.021 UTC))
        );
        assert_eq!(parse_agora_time("2019092012514248"), None);
        assert_eq!(parse_compact_utc("20191320125142485"), None, "month 13");
    }

    #[test]
    fn times_in_names_and_tags() {
        let uri = "rec/sid713476478245_cnameagora__uid_s_123__uid_e_video_20190920125142485.ts";
        assert_eq!(
            time_in_segment_name(uri),
            Some(datetime!(2019-09-20 12:51:42.485 UTC))
        );
        assert_eq!(time_in_segment_name("seg0.ts"), None);
        let tag = "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20190920125142485";
        assert_eq!(
            time_in_agora_tag(tag),
            Some(datetime!(2019-09-20 12:51:42.485 UTC))
        );
    }

    #[test]
    fn playlist_roles() {
        let plain = parse_playlist_name("sid_cname.m3u8");
        assert_eq!(
            (plain.base.as_str(), plain.failover, plain.resend),
            ("sid_cname.m3u8", None, None)
        );
        let resent = parse_playlist_name("sid_cname_22194679897_3.m3u8");
        assert_eq!(
            (resent.base.as_str(), resent.resend),
            ("sid_cname.m3u8", Some((22194679897, 3)))
        );
        let bak = parse_playlist_name("bak0_sid_cname.m3u8");
        assert_eq!(
            (bak.base.as_str(), bak.failover),
            ("sid_cname.m3u8", Some(0))
        );
        let both = parse_playlist_name("bak1_sid_cname_22194679897_0.m3u8");
        assert_eq!(
            (both.failover, both.resend),
            (Some(1), Some((22194679897, 0)))
        );
        // Individual-mode names end in `_audio`/`_video`, not in numbers.
        let ind = parse_playlist_name("sid_c__uid_s_123__uid_e_video.m3u8");
        assert_eq!(ind.resend, None);
    }
}
