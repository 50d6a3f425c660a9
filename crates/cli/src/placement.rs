//! Which endpoint a bucket is reached through: stowage-region's selection (internal when
//! co-located and allowed, accelerated across continents when allowed, else the regional
//! public host), optionally ranked by the latency probe, and the Agora FAQ's cross-region
//! advice that goes with it.

use std::time::Duration;

use anyhow::{Result, anyhow};
use stowage_region::{
    Advice, Candidate, Distance, EndpointKind, Geography, Level, Origin, Prober, Protocol, Region,
    SelectRequest, Selection, Vendor, select,
};

use stowage_core::tls::CaBundle;

use crate::StoreArgs;

/// How long one endpoint may take to answer the probe's `HEAD /`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// A command opens a bucket once or twice; the cache only spares a second probe.
const PROBE_TTL: Duration = Duration::from_secs(60);

/// Where a bucket is, where the uploader runs, and what the selector made of it.
#[derive(Debug, Clone)]
pub struct Placement {
    pub vendor: Vendor,
    pub region: &'static Region,
    /// `--from` as the user wrote it.
    pub from: Option<String>,
    /// Where `--from` is, when given.
    pub from_geography: Option<Geography>,
    pub selection: Selection,
    /// The candidate the adapter is configured with; `None` when an explicit endpoint wins.
    pub chosen: Option<Candidate>,
}

impl Placement {
    /// The FAQ's cross-region warning, when the uploader and the bucket are apart.
    pub fn cross_region(&self) -> Option<&Advice> {
        if !self.selection.is_cross_region() {
            return None;
        }
        // distance_advice comes first and is the only warning about distance.
        self.selection
            .advice
            .iter()
            .find(|a| a.level == Level::Warning)
    }

    /// The flags among --internal and --accelerate that the choice does not follow, with
    /// why: an operator who asked for the internal endpoint must not believe they have it.
    pub fn unmet(&self, args: &StoreArgs) -> Vec<Unmet> {
        let asked = [
            (args.internal, "--internal", EndpointKind::Internal),
            (args.accelerate, "--accelerate", EndpointKind::Accelerated),
        ];
        asked
            .into_iter()
            .filter(|(on, ..)| *on)
            .filter_map(|(_, flag, kind)| {
                let reason = self.why_not(kind)?;
                Some(Unmet {
                    flag,
                    endpoint: self.chosen.as_ref().map(|c| c.url.clone()),
                    reason,
                })
            })
            .collect()
    }

    /// Why the chosen endpoint is not of `kind`; `None` when it is.
    fn why_not(&self, kind: EndpointKind) -> Option<String> {
        let Some(chosen) = &self.chosen else {
            return Some("an explicit endpoint (--endpoint, or the vendor's endpoint variable) wins over selection".into());
        };
        if chosen.kind == kind {
            return None;
        }
        if let Some(passed_over) = self.selection.candidates.iter().find(|c| c.kind == kind) {
            return Some(format!(
                "--probe-endpoints chose it over {} (slower, or no answer)",
                passed_over.url
            ));
        }
        let place = format!("{} {}", self.vendor, self.region.id);
        let from = self.from.as_deref().unwrap_or("unknown");
        Some(match (kind, self.selection.distance) {
            (_, Distance::Unknown) => {
                "where this machine runs is unknown: pass --from REGION".to_string()
            }
            (EndpointKind::Internal, Distance::SameRegion) => {
                format!("the tables list no internal endpoint for {place}")
            }
            (EndpointKind::Internal, _) => {
                format!("this machine ({from}) is not in the bucket's region ({place})")
            }
            _ if !self.across_continents() => format!(
                "this machine ({from}) is on the bucket's continent ({place}); acceleration is used across continents"
            ),
            _ => format!(
                "no accelerated endpoint is offered for this bucket ({place}; S3 needs a bucket name without dots)"
            ),
        })
    }

    fn across_continents(&self) -> bool {
        self.from_geography
            .is_some_and(|g| g.continent() != self.region.geography.continent())
    }
}

/// A selection flag the chosen endpoint does not follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    pub flag: &'static str,
    /// The endpoint used instead (`None`: the explicit one).
    pub endpoint: Option<String>,
    pub reason: String,
}

/// True when a flag (or its environment variable) asks for endpoint selection or advice.
/// Without any, the adapters build their default endpoints exactly as before.
pub fn wanted(args: &StoreArgs) -> bool {
    args.from.is_some() || args.internal || args.accelerate || args.probe_endpoints
}

/// What to select for: the bucket, where it is, and whether the user named an endpoint.
pub struct Target<'a> {
    pub vendor: Vendor,
    pub protocol: Protocol,
    pub region: &'static Region,
    pub bucket: &'a str,
    /// `--endpoint` (or the vendor's endpoint variable, or an S3 preset's endpoint).
    pub explicit: Option<&'a str>,
}

/// Selects (and with --probe-endpoints, probes) the endpoints for `target`.
pub async fn place(target: &Target<'_>, args: &StoreArgs) -> Result<Placement> {
    let from = match &args.from {
        Some(f) => Origin::parse(f, target.vendor)?,
        None => Origin::Unknown,
    };
    let from_geography = from.geography();
    let req = SelectRequest {
        vendor: target.vendor,
        region: target.region,
        bucket: Some(target.bucket.to_string()),
        from,
        allow_internal: args.internal,
        accelerate: args.accelerate,
        protocol: target.protocol,
        // An explicit endpoint is a candidate too, so a region without a documented native
        // host (Kodo Hanoi) still gets its advice.
        custom: target.explicit.map(str::to_string).into_iter().collect(),
    };
    let selection = select(&req)?;
    let chosen = match target.explicit {
        Some(_) => None,
        None => {
            let ca = crate::open::ca_bundle(args)?;
            Some(choose(&selection.candidates, args.probe_endpoints, ca.as_ref()).await?)
        }
    };
    Ok(Placement {
        vendor: target.vendor,
        region: target.region,
        from: args.from.clone(),
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
) -> Result<Candidate> {
    if !probe {
        return candidates
            .first()
            .cloned()
            .ok_or_else(|| anyhow!("the selector offered no endpoint; give one with --endpoint"));
    }
    let prober = Prober::with_ca_bundle(PROBE_TIMEOUT, PROBE_TTL, ca)?;
    match prober.fastest(candidates).await {
        Ok(best) => Ok(best.candidate),
        Err(e) => Err(anyhow!(
            "--probe-endpoints: {}. Fix: check this machine's network, DNS and firewall for these hosts, or give a reachable endpoint with --endpoint (or drop --probe-endpoints)",
            e.message()
        )),
    }
}

/// With --probe-endpoints and an explicit endpoint: that endpoint must answer.
pub async fn require_alive(endpoint: &str, ca: Option<&CaBundle>) -> Result<()> {
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

    /// The placement of an `oss://rec` (or `s3://rec`) bucket in `region` with `args`.
    async fn placed(vendor: Vendor, region: &str, args: &StoreArgs) -> Placement {
        let target = Target {
            vendor,
            protocol: Protocol::Native,
            region: vendor.region(region).unwrap(),
            bucket: "rec",
            explicit: args.endpoint.as_deref(),
        };
        place(&target, args).await.unwrap()
    }

    fn reasons(p: &Placement, args: &StoreArgs) -> Vec<String> {
        p.unmet(args)
            .into_iter()
            .map(|u| format!("{} {}", u.flag, u.reason))
            .collect()
    }

    #[tokio::test]
    async fn flags_the_choice_does_not_follow_say_why() {
        let args = |from: Option<&str>, internal, accelerate| StoreArgs {
            from: from.map(str::to_string),
            internal,
            accelerate,
            ..StoreArgs::default()
        };
        let followed = args(Some("oss:cn-hangzhou"), true, false);
        let p = placed(Vendor::Oss, "cn-hangzhou", &followed).await;
        assert_eq!(p.chosen.as_ref().unwrap().kind, EndpointKind::Internal);
        assert!(reasons(&p, &followed).is_empty());

        let far = args(Some("eu-central-1"), true, false);
        let p = placed(Vendor::Oss, "cn-hangzhou", &far).await;
        assert_eq!(
            reasons(&p, &far),
            [
                "--internal this machine (eu-central-1) is not in the bucket's region (oss cn-hangzhou)"
            ]
        );

        let nowhere = args(None, true, true);
        let p = placed(Vendor::Oss, "cn-hangzhou", &nowhere).await;
        let r = reasons(&p, &nowhere);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.iter().all(|r| r.ends_with("pass --from REGION")), "{r:?}");

        let s3_here = args(Some("s3:eu-central-1"), true, false);
        let p = placed(Vendor::S3, "eu-central-1", &s3_here).await;
        assert_eq!(
            reasons(&p, &s3_here),
            ["--internal the tables list no internal endpoint for s3 eu-central-1"]
        );

        let near = args(Some("cn-beijing"), false, true);
        let p = placed(Vendor::Oss, "cn-hangzhou", &near).await;
        assert!(reasons(&p, &near)[0].contains("on the bucket's continent"));
        let across = args(Some("us-east-1"), false, true);
        let p = placed(Vendor::Oss, "cn-hangzhou", &across).await;
        assert_eq!(p.chosen.as_ref().unwrap().kind, EndpointKind::Accelerated);
        assert!(reasons(&p, &across).is_empty());

        let explicit = StoreArgs {
            endpoint: Some("http://127.0.0.1:9".into()),
            ..args(Some("oss:cn-hangzhou"), true, false)
        };
        let p = placed(Vendor::Oss, "cn-hangzhou", &explicit).await;
        assert!(reasons(&p, &explicit)[0].contains("explicit endpoint"));
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
    async fn when_every_endpoint_is_dead_the_error_lists_them_with_the_fix() {
        let (a, b) = (dead_endpoint(), dead_endpoint());
        let candidates = [Candidate::custom(&a), Candidate::custom(&b)];
        let e = choose(&candidates, true, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&a) && e.contains(&b), "{e}");
        assert!(e.contains("--endpoint"), "{e}");
        let e = require_alive(&a, None).await.unwrap_err().to_string();
        assert!(e.contains(&a), "{e}");
    }
}
