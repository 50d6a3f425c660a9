//! The doctor's findings, as lines and as one JSON document.

use serde_json::{Value, json};

use crate::doctor::{Finding, Status, failed};

/// The findings one line each (`PASS  credentials   …`), a finding's fix on an indented
/// `fix:` line below it.
pub fn finding_lines(findings: &[Finding]) -> Vec<String> {
    let mut out = Vec::new();
    for f in findings {
        let mark = match f.status {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        out.push(format!("{mark}  {:<13} {}", f.check, f.cause));
        if let Some(fix) = &f.fix {
            out.push(format!("      {:<13} fix: {fix}", ""));
        }
    }
    out
}

/// `{"ok": …, "checks": [...]}`: `ok` is false when a check failed.
pub fn findings_json(findings: &[Finding]) -> Value {
    json!({ "ok": !failed(findings), "checks": findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json() {
        let finding = |status, fix: Option<&str>| Finding {
            check: "clock",
            status,
            cause: "off by 2s".into(),
            fix: fix.map(str::to_string),
            setting: None,
        };
        let findings = [
            finding(Status::Pass, None),
            finding(Status::Fail, Some("sync it")),
        ];
        assert_eq!(
            finding_lines(&findings),
            [
                "PASS  clock         off by 2s",
                "FAIL  clock         off by 2s",
                "                    fix: sync it",
            ]
        );
        let doc = findings_json(&findings);
        assert_eq!(doc["ok"], false);
        assert_eq!(doc["checks"][1]["fix"], "sync it");
    }
}
