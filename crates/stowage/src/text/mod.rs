//! Human text (and JSON) for what the library returns, the way a command line prints it and a
//! backend logs it: sizes, object metadata, pipeline events and summaries, verify reports.
//! The texts name no command-line flag; where a caller's own words belong (a hint that more
//! detail exists, the name of the strict switch), the caller passes them in.

mod doctor;
mod meta;
mod report;
mod upload;

pub use doctor::{finding_lines, findings_json};
pub use meta::{
    checksums_json, file_checksum_lines, file_checksums_json, list_line, meta_json, meta_lines,
    signed_url_json,
};
pub use report::{ReportText, repair_lines, report_json, verdict};
pub use upload::{Progress, ended_text, event_line, summary_lines};

/// Bytes for people: `12.3 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
    }
}
