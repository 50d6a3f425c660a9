//! Which Agora REST domain to call, in which order, with the documented back-off.
//!
//! Agora's switch-domain guidance: the primary domain is `api.sd-rtn.com` when the caller's
//! DNS is in mainland China and `api.agora.io` otherwise; on failure retry the same domain,
//! then the other one, then a regional domain, waiting 1, 3, then 6 seconds. The cross-region
//! FAQ adds: call the domain in the bucket's region, so the bucket decides which regional
//! domains come first.

use std::time::Duration;

use serde::Serialize;

use crate::tables::{Geography, Region};

/// Agora's regional REST domains, by region (each under both `agora.io` and `sd-rtn.com`).
pub const AGORA_REGIONS: [&str; 8] = [
    "us-west-1",
    "us-east-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "eu-west-1",
    "eu-central-1",
    "cn-east-1",
    "cn-north-1",
];

/// The waits before the second, third and later attempts.
pub const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(6),
];

/// One attempt: wait `delay`, then call `domain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub domain: String,
    #[serde(serialize_with = "as_secs")]
    pub delay: Duration,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// The domains in the order to try them.
pub fn domains(caller_in_mainland_china: bool, bucket: Option<&Region>) -> Vec<String> {
    let (primary, alternate) = if caller_in_mainland_china {
        ("sd-rtn.com", "agora.io")
    } else {
        ("agora.io", "sd-rtn.com")
    };
    let regions = regional_order(bucket);
    let mut out = vec![format!("api.{primary}"), format!("api.{alternate}")];
    for suffix in [primary, alternate] {
        out.extend(regions.iter().map(|r| format!("api-{r}.{suffix}")));
    }
    out
}

/// The attempts: the primary twice (the documented "retry the same"), then every other
/// domain, with the back-off before each retry.
pub fn attempts(caller_in_mainland_china: bool, bucket: Option<&Region>) -> Vec<Attempt> {
    let domains = domains(caller_in_mainland_china, bucket);
    let mut order = vec![domains[0].clone()];
    order.extend(domains);
    order
        .into_iter()
        .enumerate()
        .map(|(i, domain)| Attempt {
            domain,
            delay: match i {
                0 => Duration::ZERO,
                i => BACKOFF[(i - 1).min(BACKOFF.len() - 1)],
            },
        })
        .collect()
}

/// The regional domain nearest the bucket: its geography picks the pair, its name the side.
pub fn nearest_agora_region(bucket: &Region) -> &'static str {
    regional_order(Some(bucket))[0]
}

/// Agora's regions with the ones near the bucket first, then the rest in the documented order.
fn regional_order(bucket: Option<&Region>) -> Vec<&'static str> {
    let near: Vec<&'static str> = bucket.map(near_pair).unwrap_or_default();
    let rest = AGORA_REGIONS.into_iter().filter(|r| !near.contains(r));
    near.iter().copied().chain(rest).collect()
}

fn near_pair(bucket: &Region) -> Vec<&'static str> {
    let text = format!("{} {}", bucket.id, bucket.name).to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let (first, second) = match bucket.geography {
        Geography::MainlandChina => ("cn-east-1", "cn-north-1"),
        Geography::AsiaPacific | Geography::MiddleEast => ("ap-southeast-1", "ap-northeast-1"),
        Geography::NorthAmerica | Geography::SouthAmerica => ("us-east-1", "us-west-1"),
        Geography::Europe | Geography::Africa => ("eu-central-1", "eu-west-1"),
    };
    let second_is_nearer = match bucket.geography {
        Geography::MainlandChina => has(&[
            "north",
            "beijing",
            "hebei",
            "zhangjiakou",
            "hohhot",
            "ulanqab",
            "qingdao",
        ]),
        Geography::AsiaPacific => has(&["northeast", "tokyo", "seoul", "osaka", "hong kong"]),
        Geography::NorthAmerica => has(&["west", "california", "oregon", "silicon", "los angeles"]),
        Geography::Europe => has(&["west", "london", "ireland", "paris"]),
        _ => false,
    };
    if second_is_nearer {
        vec![second, first]
    } else {
        vec![first, second]
    }
}
