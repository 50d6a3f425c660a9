//! The endpoints report and the vendors' tables as people read them.

use stowage_region::{Candidate, Level, Probe, Vendor};

use super::Report;

impl Report {
    /// The report as people read it: the bucket's region, the Agora mapping, the endpoints
    /// in order, the advice with its fixes, and the Agora REST domains.
    pub fn text(&self) -> String {
        let r = &self.selection.region;
        let mut out = format!(
            "bucket region: {} {} — {} ({})\n",
            self.vendor, r.id, r.name, r.geography
        );
        if let Some(a) = &self.agora {
            out += &format!(
                "agora: vendor {} ({}), region code {} = {} → {} (region id inferred from Agora's label)\n",
                a["vendor"],
                a["vendor_name"].as_str().unwrap_or(""),
                a["region_code"],
                a["region_label"].as_str().unwrap_or(""),
                r.id
            );
            out += &format!("recording URL: {}\n", a["url"].as_str().unwrap_or(""));
        }
        out += "endpoints, in order (on failure use the next):\n";
        out += &endpoint_lines(self);
        for a in &self.selection.advice {
            let level = match a.level {
                Level::Warning => "warning",
                Level::Info => "note",
            };
            out += &format!("{level}: {}\n", a.message);
            if let Some(fix) = &a.fix {
                out += &format!("  Fix: {fix}\n");
            }
        }
        out += &format!(
            "agora REST domains, in order (retry after 1, 3, 6 s): {}\n",
            self.domains.join(", ")
        );
        out
    }
}

fn endpoint_lines(report: &Report) -> String {
    let kind = |c: &Candidate| {
        serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    match &report.ranked {
        Some(ranked) => ranked
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let probe = match &r.probe {
                    Probe::Alive { latency, status } => {
                        format!("{} ms (HTTP {status})", latency.as_millis())
                    }
                    Probe::Dead { reason } => format!("dead: {reason}"),
                };
                format!(
                    "  {}. {:<12} {}  [{probe}]\n",
                    i + 1,
                    kind(&r.candidate),
                    r.candidate.url
                )
            })
            .collect(),
        None => report
            .selection
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| format!("  {}. {:<12} {}\n", i + 1, kind(c), c.url))
            .collect(),
    }
}

/// A vendor's table, one line per region: id, name, geography, public host and flags.
pub fn table_text(vendor: Vendor) -> String {
    let table = vendor.table();
    let mut out = format!(
        "{} regions (bucket region: {}):\n",
        table.name, table.discovery
    );
    for r in &table.regions {
        let mut flags = Vec::new();
        if let Some(s) = r.status {
            flags.push(s.as_str().to_string());
        }
        if !r.verified {
            flags.push("unverified".into());
        }
        if r.custom_domain_required {
            flags.push("custom domain for new users".into());
        }
        let public = r
            .endpoints
            .public
            .as_deref()
            .unwrap_or("(no native host known)");
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join("; "))
        };
        out += &format!(
            "  {:<18} {:<34} {:<15} {public}{flags}\n",
            r.id,
            r.name,
            r.geography.as_str()
        );
    }
    out
}
