//! Endpoint notes in words: why a switch was not followed, and the cross-region warning,
//! naming settings the caller's way ([`SettingWords`]).

use serde_json::{Value, json};

use crate::placement::{CrossRegion, Placement, Switch, Unmet, UnmetReason};

/// How a caller names the settings a note mentions. The defaults are the library's words
/// (its [`Settings`](crate::Settings) fields); a command line passes its flags.
#[derive(Debug, Clone, Copy)]
pub struct SettingWords<'a> {
    /// The explicit endpoint setting.
    pub endpoint: &'a str,
    /// Probing the candidate endpoints.
    pub probe: &'a str,
    /// What to do when where the uploader runs is unknown.
    pub set_from: &'a str,
    /// [`Switch::Internal`].
    pub internal: &'a str,
    /// [`Switch::Accelerate`].
    pub accelerate: &'a str,
}

impl Default for SettingWords<'_> {
    fn default() -> Self {
        SettingWords {
            endpoint: "the endpoint setting",
            probe: "probe_endpoints",
            set_from: "set `from` to where the uploader runs",
            internal: "internal",
            accelerate: "accelerate",
        }
    }
}

impl SettingWords<'_> {
    /// The switch's name.
    pub fn switch(&self, switch: Switch) -> &str {
        match switch {
            Switch::Internal => self.internal,
            Switch::Accelerate => self.accelerate,
        }
    }
}

impl UnmetReason {
    /// Why the switch was not followed, naming settings in `words`.
    pub fn text(&self, words: &SettingWords) -> String {
        match self {
            UnmetReason::ExplicitEndpoint => format!(
                "an explicit endpoint ({}, or the vendor's endpoint variable) wins over selection",
                words.endpoint
            ),
            UnmetReason::ProbeChoseOther { passed_over } => format!(
                "{} chose it over {passed_over} (slower, or no answer)",
                words.probe
            ),
            UnmetReason::OriginUnknown => {
                format!("where this machine runs is unknown: {}", words.set_from)
            }
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
}

impl Unmet {
    /// `ENDPOINT is used: REASON`, the endpoint being the one chosen (or the given one).
    pub fn text(&self, words: &SettingWords) -> String {
        let used = match &self.endpoint {
            Some(e) => format!("{e} is used"),
            None => "the given endpoint is used".to_string(),
        };
        format!("{used}: {}", self.reason.text(words))
    }

    /// `{"event": "endpoint_note", "bucket", "flag", "endpoint", "reason"}`.
    pub fn event(&self, bucket: &str, words: &SettingWords) -> Value {
        json!({
            "event": "endpoint_note",
            "bucket": bucket,
            "flag": words.switch(self.switch),
            "endpoint": self.endpoint,
            "reason": self.reason.text(words),
        })
    }
}

impl CrossRegion {
    /// `MESSAGE. Fix: FIX`, one line.
    pub fn text(&self) -> String {
        format!("{}. Fix: {}", self.message, self.fix)
    }
}

impl Placement {
    /// The cross-region warning as a JSON event (`{"event": "cross_region", "bucket",
    /// "vendor", "bucket_region", "from", "distance", "message", "fix"}`), or `None` when
    /// the uploader and the bucket are not apart.
    pub fn cross_region_event(&self, bucket: &str) -> Option<Value> {
        let advice = self.cross_region()?;
        Some(json!({
            "event": "cross_region",
            "bucket": bucket,
            "vendor": self.vendor,
            "bucket_region": self.region.id,
            "from": self.from,
            "distance": advice.distance,
            "message": advice.message,
            "fix": advice.fix,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_region::{Origin, SelectRequest, Vendor, select};

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
        let p = placement("cn-hangzhou", "eu-central-1");
        let text = p
            .cross_region()
            .expect("Frankfurt → Hangzhou is cross-region")
            .text();
        for part in ["cn-hangzhou", "Frankfurt", "run the recorder/uploader in"] {
            assert!(text.contains(part), "{part} missing: {text}");
        }
        assert!(!text.contains('\n'), "one line: {text}");
        let event = p.cross_region_event("oss://rec").unwrap();
        assert_eq!(event["event"], "cross_region");
        assert_eq!(event["bucket_region"], "cn-hangzhou");
        assert_eq!(event["from"], "eu-central-1");
        assert_eq!(
            placement("cn-hangzhou", "cn-hangzhou").cross_region_event("oss://rec"),
            None
        );
    }

    #[test]
    fn reasons_name_settings_in_the_callers_words() {
        let words = SettingWords {
            set_from: "pass --from REGION",
            ..SettingWords::default()
        };
        let note = Unmet {
            switch: Switch::Internal,
            endpoint: None,
            reason: UnmetReason::OriginUnknown,
        };
        assert_eq!(
            note.text(&words),
            "the given endpoint is used: where this machine runs is unknown: pass --from REGION"
        );
        assert_eq!(note.event("oss://rec", &words)["flag"], "internal");
    }
}
