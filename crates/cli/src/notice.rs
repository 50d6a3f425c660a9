//! The Agora FAQ's cross-region warning (once per bucket region) and notes on --internal /
//! --accelerate the endpoint choice does not follow, printed when `upload`, `restore` or
//! `cp` starts: a plain line on stderr, or with `--json` a JSON event line (the shape
//! `upload --json` uses: `{"event": "cross_region", …}`), also on stderr so that stdout
//! keeps each command's own output. It never stops the upload.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::json;
use stowage::{Placement, StorageUrl, Switch, Unmet, UnmetReason};

use crate::open::StoreArgs;

/// Prints notices about the buckets a command writes to, each place at most once.
pub struct Notices {
    json: bool,
    shown: Mutex<HashSet<String>>,
}

impl Notices {
    pub fn new(json: bool) -> Self {
        Notices {
            json,
            shown: Mutex::new(HashSet::new()),
        }
    }

    /// Prints what an operator must know about the endpoint of `url`'s bucket: the
    /// cross-region warning, and each of --internal / --accelerate the choice does not follow.
    pub fn opened(&self, url: &StorageUrl, placement: Option<&Placement>, args: &StoreArgs) {
        let Some(p) = placement else { return };
        let settings = stowage::Settings {
            internal: args.internal,
            accelerate: args.accelerate,
            ..Default::default()
        };
        for note in p.unmet(&settings) {
            self.once(
                format!("{}|{}", bucket_of(url), flag(note.switch)),
                unmet_line(url, &note, self.json),
            );
        }
        if let Some(line) = cross_region_line(url, p, self.json) {
            // Once per place: a primary and a backup in the same region share the advice.
            self.once(format!("{}:{}", p.vendor, p.region.id), line);
        }
    }

    fn once(&self, topic: String, line: String) {
        let first = self
            .shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic);
        if first {
            eprintln!("{line}");
        }
    }
}

fn bucket_of(url: &StorageUrl) -> String {
    format!("{}://{}", url.scheme.as_str(), url.bucket)
}

fn flag(switch: Switch) -> &'static str {
    match switch {
        Switch::Internal => "--internal",
        Switch::Accelerate => "--accelerate",
    }
}

/// Why a switch was not followed, with the flags that change it.
pub fn reason_text(reason: &UnmetReason) -> String {
    match reason {
        UnmetReason::ExplicitEndpoint => "an explicit endpoint (--endpoint, or the vendor's endpoint variable) wins over selection".into(),
        UnmetReason::ProbeChoseOther { passed_over } => {
            format!("--probe-endpoints chose it over {passed_over} (slower, or no answer)")
        }
        UnmetReason::OriginUnknown => "where this machine runs is unknown: pass --from REGION".into(),
        UnmetReason::NoInternalEndpoint { place } => {
            format!("the tables list no internal endpoint for {place}")
        }
        UnmetReason::NotInRegion { from, place } => {
            format!("this machine ({from}) is not in the bucket's region ({place})")
        }
        UnmetReason::SameContinent { from, place } => format!(
            "this machine ({from}) is on the bucket's continent ({place}); acceleration is used across continents"
        ),
        UnmetReason::NoAccelerated { place } => format!(
            "no accelerated endpoint is offered for this bucket ({place}; S3 needs a bucket name without dots)"
        ),
    }
}

/// A flag the endpoint choice does not follow, as one line.
pub fn unmet_line(url: &StorageUrl, note: &Unmet, json: bool) -> String {
    let reason = reason_text(&note.reason);
    if json {
        return json!({
            "event": "endpoint_note",
            "bucket": bucket_of(url),
            "flag": flag(note.switch),
            "endpoint": note.endpoint,
            "reason": reason,
        })
        .to_string();
    }
    let used = match &note.endpoint {
        Some(e) => format!("{e} is used"),
        None => "the given endpoint is used".to_string(),
    };
    format!(
        "note: {} not followed for {}: {used}: {reason}",
        flag(note.switch),
        bucket_of(url),
    )
}

/// The warning as one line, or `None` when uploader and bucket are not apart.
pub fn cross_region_line(url: &StorageUrl, p: &Placement, json: bool) -> Option<String> {
    let advice = p.cross_region()?;
    if json {
        let event = json!({
            "event": "cross_region",
            "bucket": bucket_of(url),
            "vendor": p.vendor,
            "bucket_region": p.region.id,
            "from": p.from,
            "distance": advice.distance,
            "message": advice.message,
            "fix": advice.fix,
        });
        return Some(event.to_string());
    }
    Some(format!("warning: {}. Fix: {}", advice.message, advice.fix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage::region::{Origin, SelectRequest, Vendor, select};

    fn placement(region: &str, from: &str) -> Placement {
        let region = Vendor::Oss.region(region).unwrap();
        let mut req = SelectRequest::new(Vendor::Oss, region);
        req.from = Origin::parse(from, Vendor::Oss).unwrap();
        Placement {
            vendor: Vendor::Oss,
            region,
            from: Some(from.to_string()),
            from_geography: None,
            selection: select(&req).unwrap(),
            chosen: None,
        }
    }

    #[test]
    fn the_warning_names_both_places_and_the_fixes() {
        let url = StorageUrl::parse("oss://rec/day1/").unwrap();
        let line = cross_region_line(&url, &placement("cn-hangzhou", "eu-central-1"), false)
            .expect("Frankfurt → Hangzhou is cross-region");
        assert!(line.starts_with("warning: "), "{line}");
        for part in [
            "cn-hangzhou",
            "Frankfurt",
            "run the recorder/uploader in",
            "--accelerate",
        ] {
            assert!(line.contains(part), "{part} missing: {line}");
        }
        assert!(!line.contains('\n'), "one line: {line}");
        let json: serde_json::Value = serde_json::from_str(
            &cross_region_line(&url, &placement("cn-hangzhou", "eu-central-1"), true).unwrap(),
        )
        .unwrap();
        assert_eq!(json["event"], "cross_region");
        assert_eq!(json["bucket"], "oss://rec");
        assert_eq!(json["bucket_region"], "cn-hangzhou");
        assert_eq!(json["from"], "eu-central-1");
    }

    #[test]
    fn no_warning_in_the_bucket_region() {
        let url = StorageUrl::parse("oss://rec/").unwrap();
        assert_eq!(
            cross_region_line(&url, &placement("cn-hangzhou", "cn-hangzhou"), false),
            None
        );
    }
}
