//! Durations as people write them in flags and configuration files: `90s`, `10m`, `2h`,
//! `7d`, `500ms`, or plain seconds (fractions allowed: `1.5h`).

use std::time::Duration;

/// Why a text is not a duration; its `Display` says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The number before the unit is missing or not a number.
    #[error("`{0}` is not a duration like 90s, 10m, 2h or 7d")]
    NotANumber(String),
    /// The unit is none of `ms`, `s`, `m` (`min`), `h`, `d`.
    #[error("unknown unit `{unit}` in `{text}`; use ms, s, m, h or d")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// Too long for a [`Duration`].
    #[error("`{0}` is out of range")]
    OutOfRange(String),
}

/// Parses `90s`, `10m` (or `10min`), `2h`, `7d`, `500ms`, or plain seconds; fractions are
/// allowed (`1.5h`), and white space around the number and the unit is ignored.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| DurationError::NotANumber(s.to_string()))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        other => {
            return Err(DurationError::UnknownUnit {
                unit: other.to_string(),
                text: s.to_string(),
            });
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| DurationError::OutOfRange(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("90"), Duration::from_secs(90));
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("10m"), Duration::from_secs(600));
        assert_eq!(ok("10min"), Duration::from_secs(600));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("2h"), Duration::from_secs(7200));
        assert_eq!(ok("7d"), Duration::from_secs(604_800));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        let err = parse_duration("2w").unwrap_err().to_string();
        assert!(err.contains("unknown unit `w`"), "{err}");
        assert!(matches!(
            parse_duration("soon"),
            Err(DurationError::NotANumber(_))
        ));
        let huge = "9".repeat(400);
        assert!(matches!(
            parse_duration(&huge),
            Err(DurationError::OutOfRange(_))
        ));
    }
}
