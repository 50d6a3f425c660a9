//! Which endpoint a bucket is reached through, and why: stowage-region's selection
//! (internal when co-located and allowed, accelerated across continents when allowed, else
//! the regional public host), optionally ranked by the latency probe, and the Agora FAQ's
//! cross-region advice that goes with it — all as data for the caller to show.

use std::time::Duration;

use serde::Serialize;
use stowage_core::tls::CaBundle;
use stowage_region::{
    Advice, Candidate, Distance, EndpointKind, Geography, Level, Origin, Prober, Protocol, Region,
    SelectRequest, Selection, Vendor, select,
};

use crate::open::OpenError;
use crate::settings::Settings;

/// How long one endpoint may take to answer the probe's `HEAD /`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// A program opens a bucket once or twice; the cache only spares a second probe.
const PROBE_TTL: Duration = Duration::from_secs(60);

/// Where a bucket is, where the uploader runs, and what the selector made of it.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The vendor whose tables apply.
    pub vendor: Vendor,
    /// The bucket's region.
    pub region: &'static Region,
    /// Where the uploader runs, as given ([`Settings::from`]).
    pub from: Option<String>,
    /// Where that is, when known.
    pub from_geography: Option<Geography>,
    /// Every candidate endpoint, in order, with the selector's advice.
    pub selection: Selection,
    /// The candidate the adapter is configured with; `None` when an explicit endpoint wins.
    pub chosen: Option<Candidate>,
}

/// The Agora FAQ's warning about an uploader far from its bucket, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossRegion {
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to do: run the uploader in the bucket's region, or the selector's own fix.
    pub fix: String,
    /// How far apart the two are.
    pub distance: Distance,
}

/// A switch ([`Settings::internal`], [`Settings::accelerate`]) the choice does not follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    /// [`Settings::internal`].
    Internal,
    /// [`Settings::accelerate`].
    Accelerate,
}

/// Why a switch was not followed. Words for the setting that would change it are the
/// caller's to add (a command line names its flags, a service its configuration keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnmetReason {
    /// An explicit endpoint (the setting, or the vendor's endpoint variable) wins.
    ExplicitEndpoint,
    /// The latency probe preferred another endpoint over this one.
    ProbeChoseOther {
        /// The endpoint of the asked-for kind that was passed over.
        passed_over: String,
    },
    /// Where the uploader runs is unknown ([`Settings::from`] is unset).
    OriginUnknown,
    /// The uploader is in the bucket's region but the tables list no internal endpoint.
    NoInternalEndpoint {
        /// `vendor region`.
        place: String,
    },
    /// The uploader is not in the bucket's region.
    NotInRegion {
        /// Where the uploader runs.
        from: String,
        /// `vendor region`.
        place: String,
    },
    /// The uploader is on the bucket's continent; acceleration is for other continents.
    SameContinent {
        /// Where the uploader runs.
        from: String,
        /// `vendor region`.
        place: String,
    },
    /// The vendor offers no accelerated endpoint for this bucket.
    NoAccelerated {
        /// `vendor region`.
        place: String,
    },
}

/// A switch the chosen endpoint does not follow, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// Which switch.
    pub switch: Switch,
    /// The endpoint used instead (`None`: the explicit one).
    pub endpoint: Option<String>,
    /// Why.
    pub reason: UnmetReason,
}

impl Placement {
    /// The FAQ's cross-region advice, when the uploader and the bucket are apart.
    pub fn cross_region(&self) -> Option<CrossRegion> {
        let advice = self.warning()?;
        let run_there = format!(
            "run the recorder/uploader in {} ({} {})",
            self.region.name, self.vendor, self.region.id
        );
        let fix = match advice.fix.as_deref() {
            Some(more) => format!("{run_there}; or {more}"),
            None => run_there,
        };
        Some(CrossRegion {
            message: advice.message.clone(),
            fix,
            distance: self.selection.distance,
        })
    }

    /// The selector's own warning about distance (it comes first and is the only one).
    fn warning(&self) -> Option<&Advice> {
        if !self.selection.is_cross_region() {
            return None;
        }
        self.selection
            .advice
            .iter()
            .find(|a| a.level == Level::Warning)
    }

    /// The switches among internal and accelerate that the choice does not follow, with
    /// why: an operator who asked for the internal endpoint must not believe they have it.
    pub fn unmet(&self, settings: &Settings) -> Vec<Unmet> {
        let asked = [
            (settings.internal, Switch::Internal, EndpointKind::Internal),
            (
                settings.accelerate,
                Switch::Accelerate,
                EndpointKind::Accelerated,
            ),
        ];
        asked
            .into_iter()
            .filter(|(on, ..)| *on)
            .filter_map(|(_, switch, kind)| {
                Some(Unmet {
                    switch,
                    endpoint: self.chosen.as_ref().map(|c| c.url.clone()),
                    reason: self.why_not(kind)?,
                })
            })
            .collect()
    }

    /// Why the chosen endpoint is not of `kind`; `None` when it is.
    fn why_not(&self, kind: EndpointKind) -> Option<UnmetReason> {
        let Some(chosen) = &self.chosen else {
            return Some(UnmetReason::ExplicitEndpoint);
        };
        if chosen.kind == kind {
            return None;
        }
        if let Some(passed_over) = self.selection.candidates.iter().find(|c| c.kind == kind) {
            let passed_over = passed_over.url.clone();
            return Some(UnmetReason::ProbeChoseOther { passed_over });
        }
        let place = format!("{} {}", self.vendor, self.region.id);
        let from = self.from.clone().unwrap_or_else(|| "unknown".into());
        Some(match (kind, self.selection.distance) {
            (_, Distance::Unknown) => UnmetReason::OriginUnknown,
            (EndpointKind::Internal, Distance::SameRegion) => {
                UnmetReason::NoInternalEndpoint { place }
            }
            (EndpointKind::Internal, _) => UnmetReason::NotInRegion { from, place },
            _ if !self.across_continents() => UnmetReason::SameContinent { from, place },
            _ => UnmetReason::NoAccelerated { place },
        })
    }

    fn across_continents(&self) -> bool {
        self.from_geography
            .is_some_and(|g| g.continent() != self.region.geography.continent())
    }
}

/// What to select for: the bucket, where it is, and whether the caller named an endpoint.
pub(crate) struct Target<'a> {
    pub vendor: Vendor,
    pub protocol: Protocol,
    pub region: &'static Region,
    pub bucket: &'a str,
    /// The explicit endpoint (setting, vendor variable, or an S3 preset's endpoint).
    pub explicit: Option<&'a str>,
}

/// Selects (and with probing, probes) the endpoints for `target`.
pub(crate) async fn place(
    target: &Target<'_>,
    settings: &Settings,
) -> Result<Placement, OpenError> {
    let from = match &settings.from {
        Some(f) => Origin::parse(f, target.vendor).map_err(OpenError::Endpoint)?,
        None => Origin::Unknown,
    };
    let from_geography = from.geography();
    let req = SelectRequest {
        vendor: target.vendor,
        region: target.region,
        bucket: Some(target.bucket.to_string()),
        from,
        allow_internal: settings.internal,
        accelerate: settings.accelerate,
        protocol: target.protocol,
        // An explicit endpoint is a candidate too, so a region without a documented native
        // host (Kodo Hanoi) still gets its advice.
        custom: target.explicit.map(str::to_string).into_iter().collect(),
    };
    let selection = select(&req).map_err(OpenError::Endpoint)?;
    let chosen = match target.explicit {
        Some(_) => None,
        None => {
            let ca = settings.ca().map_err(OpenError::Store)?;
            Some(choose(&selection.candidates, settings.probe_endpoints, ca.as_ref()).await?)
        }
    };
    Ok(Placement {
        vendor: target.vendor,
        region: target.region,
        from: settings.from.clone(),
        from_geography,
        selection,
        chosen,
    })
}

/// The selector's first candidate, or with `probe` the fastest one that answers (trusting
/// `ca` besides the system's roots).
pub async fn choose(
    candidates: &[Candidate],
    probe: bool,
    ca: Option<&CaBundle>,
) -> Result<Candidate, OpenError> {
    if !probe {
        return candidates.first().cloned().ok_or(OpenError::NoCandidate);
    }
    let prober = Prober::with_ca_bundle(PROBE_TIMEOUT, PROBE_TTL, ca).map_err(OpenError::Store)?;
    match prober.fastest(candidates).await {
        Ok(best) => Ok(best.candidate),
        Err(e) => Err(OpenError::NoEndpointAnswers {
            detail: e.message().to_string(),
        }),
    }
}

/// With probing and an explicit endpoint: that endpoint must answer.
pub(crate) async fn require_alive(endpoint: &str, ca: Option<&CaBundle>) -> Result<(), OpenError> {
    choose(&[Candidate::custom(endpoint)], true, ca)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_testkit::oss::OssEmulator;

    /// A loopback port nothing listens on (bound, then released).
    fn dead_endpoint() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}")
    }

    /// The placement of an `oss://rec` (or `s3://rec`) bucket in `region` with `settings`.
    async fn placed(vendor: Vendor, region: &str, settings: &Settings) -> Placement {
        let target = Target {
            vendor,
            protocol: Protocol::Native,
            region: vendor.region(region).unwrap(),
            bucket: "rec",
            explicit: settings.endpoint.as_deref(),
        };
        place(&target, settings).await.unwrap()
    }

    fn reasons(p: &Placement, s: &Settings) -> Vec<(Switch, UnmetReason)> {
        p.unmet(s)
            .into_iter()
            .map(|u| (u.switch, u.reason))
            .collect()
    }

    fn settings(from: Option<&str>, internal: bool, accelerate: bool) -> Settings {
        Settings {
            from: from.map(str::to_string),
            internal,
            accelerate,
            ..Settings::default()
        }
    }

    #[tokio::test]
    async fn switches_the_choice_does_not_follow_say_why() {
        let followed = settings(Some("oss:cn-hangzhou"), true, false);
        let p = placed(Vendor::Oss, "cn-hangzhou", &followed).await;
        assert_eq!(p.chosen.as_ref().unwrap().kind, EndpointKind::Internal);
        assert!(reasons(&p, &followed).is_empty());

        let far = settings(Some("eu-central-1"), true, false);
        let p = placed(Vendor::Oss, "cn-hangzhou", &far).await;
        let place = "oss cn-hangzhou".to_string();
        let from = "eu-central-1".to_string();
        assert_eq!(
            reasons(&p, &far),
            [(Switch::Internal, UnmetReason::NotInRegion { from, place })]
        );

        let nowhere = settings(None, true, true);
        let p = placed(Vendor::Oss, "cn-hangzhou", &nowhere).await;
        let r = reasons(&p, &nowhere);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.iter().all(|(_, r)| *r == UnmetReason::OriginUnknown));

        let s3_here = settings(Some("s3:eu-central-1"), true, false);
        let p = placed(Vendor::S3, "eu-central-1", &s3_here).await;
        let place = "s3 eu-central-1".to_string();
        assert_eq!(
            reasons(&p, &s3_here),
            [(Switch::Internal, UnmetReason::NoInternalEndpoint { place })]
        );

        let near = settings(Some("cn-beijing"), false, true);
        let p = placed(Vendor::Oss, "cn-hangzhou", &near).await;
        assert!(matches!(
            reasons(&p, &near)[0].1,
            UnmetReason::SameContinent { .. }
        ));
        let across = settings(Some("us-east-1"), false, true);
        let p = placed(Vendor::Oss, "cn-hangzhou", &across).await;
        assert_eq!(p.chosen.as_ref().unwrap().kind, EndpointKind::Accelerated);
        assert!(reasons(&p, &across).is_empty());

        let explicit = Settings {
            endpoint: Some("http://127.0.0.1:9".into()),
            ..settings(Some("oss:cn-hangzhou"), true, false)
        };
        let p = placed(Vendor::Oss, "cn-hangzhou", &explicit).await;
        assert_eq!(reasons(&p, &explicit)[0].1, UnmetReason::ExplicitEndpoint);
    }

    #[test]
    fn the_cross_region_advice_names_both_places_and_the_fixes() {
        let region = Vendor::Oss.region("cn-hangzhou").unwrap();
        let mut req = SelectRequest::new(Vendor::Oss, region);
        req.from = Origin::parse("eu-central-1", Vendor::Oss).unwrap();
        let p = Placement {
            vendor: Vendor::Oss,
            region,
            from: Some("eu-central-1".into()),
            from_geography: None,
            selection: select(&req).unwrap(),
            chosen: None,
        };
        let advice = p
            .cross_region()
            .expect("Frankfurt → Hangzhou is cross-region");
        assert!(advice.message.contains("cn-hangzhou"), "{advice:?}");
        assert!(advice.fix.starts_with("run the recorder/uploader in"));
    }

    #[tokio::test]
    async fn probing_skips_a_dead_endpoint_for_a_live_one() {
        let live = OssEmulator::start().unwrap();
        let candidates = [
            Candidate::custom(&dead_endpoint()),
            Candidate::custom(live.endpoint()),
        ];
        // Without the probe the selector's order stands, dead or not.
        assert_eq!(
            choose(&candidates, false, None).await.unwrap(),
            candidates[0]
        );
        assert_eq!(
            choose(&candidates, true, None).await.unwrap(),
            candidates[1]
        );
    }

    #[tokio::test]
    async fn when_every_endpoint_is_dead_the_error_lists_them() {
        let (a, b) = (dead_endpoint(), dead_endpoint());
        let candidates = [Candidate::custom(&a), Candidate::custom(&b)];
        let e = choose(&candidates, true, None).await.unwrap_err();
        let OpenError::NoEndpointAnswers { detail } = &e else {
            panic!("{e:?}")
        };
        assert!(detail.contains(&a) && detail.contains(&b), "{detail}");
        assert!(require_alive(&a, None).await.is_err());
    }
}
