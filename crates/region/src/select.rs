//! Endpoint selection: from the bucket's vendor and region and where the uploader runs, the
//! endpoints to use in order, and the advice the Agora FAQ gives when they are apart.

use serde::Serialize;
use stowage_core::{Error, Result};

use crate::presets::s3_preset;
use crate::rest::nearest_agora_region;
use crate::tables::{Geography, Region, Vendor, find_region_anywhere};

/// Which protocol the uploader speaks to the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// The vendor's own API (S3's own is S3).
    #[default]
    Native,
    /// The vendor's S3-compatible API, through the S3 adapter.
    S3Compatible,
}

/// Where the uploader runs.
#[derive(Debug, Clone, Default)]
pub enum Origin {
    #[default]
    Unknown,
    /// In a vendor's region (e.g. an ECS instance in OSS's `cn-hangzhou`).
    Region {
        vendor: Vendor,
        region: &'static Region,
    },
    /// Somewhere in a geography.
    Geography(Geography),
}

impl Origin {
    /// Parses `--from`: `unknown`, a geography (`europe`, `mainland-china`), `vendor:region`
    /// (`s3:us-east-1`), or a region id, looked up in `prefer`'s table first.
    pub fn parse(input: &str, prefer: Vendor) -> Result<Origin> {
        let s = input.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("unknown") {
            return Ok(Origin::Unknown);
        }
        if let Some(g) = Geography::parse(s) {
            return Ok(Origin::Geography(g));
        }
        if let Some((vendor, id)) = s.split_once(':') {
            let vendor: Vendor = vendor.parse()?;
            let region = vendor.region(id)?;
            return Ok(Origin::Region { vendor, region });
        }
        if let Ok(region) = prefer.region(s) {
            return Ok(Origin::Region {
                vendor: prefer,
                region,
            });
        }
        match find_region_anywhere(s).first() {
            Some(&(vendor, region)) => Ok(Origin::Region { vendor, region }),
            None => Err(Error::invalid_input(format!(
                "--from `{s}` is neither a region id of any vendor nor a geography; use a region id (us-east-1, cn-hangzhou), vendor:region (oss:cn-hangzhou), or one of {}",
                Geography::ALL.map(Geography::as_str).join(", ")
            ))),
        }
    }

    pub fn geography(&self) -> Option<Geography> {
        match self {
            Origin::Unknown => None,
            Origin::Region { region, .. } => Some(region.geography),
            Origin::Geography(g) => Some(*g),
        }
    }

    fn describe(&self) -> String {
        match self {
            Origin::Unknown => "an unknown place".into(),
            Origin::Region { vendor, region } => {
                format!(
                    "{} ({vendor} {}, {})",
                    region.name, region.id, region.geography
                )
            }
            Origin::Geography(g) => g.to_string(),
        }
    }
}

/// What to select for.
#[derive(Debug, Clone)]
pub struct SelectRequest {
    pub vendor: Vendor,
    pub region: &'static Region,
    /// The bucket, to form its host (and check COS's `-APPID` and S3's dotless names).
    pub bucket: Option<String>,
    pub from: Origin,
    /// Offer the internal endpoint when the uploader is in the bucket's own region.
    pub allow_internal: bool,
    /// Acceleration is enabled on the bucket: offer it when the uploader is on another continent.
    pub accelerate: bool,
    pub protocol: Protocol,
    /// Endpoints the user gives (an OSS custom domain, a private link), tried first.
    pub custom: Vec<String>,
}

impl SelectRequest {
    pub fn new(vendor: Vendor, region: &'static Region) -> Self {
        SelectRequest {
            vendor,
            region,
            bucket: None,
            from: Origin::Unknown,
            allow_internal: true,
            accelerate: false,
            protocol: Protocol::Native,
            custom: Vec::new(),
        }
    }
}

/// The kind of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointKind {
    Internal,
    Accelerated,
    Public,
    /// COS's `.tencentcos.cn` host, for when `myqcloud.com` redirects.
    Fallback,
    /// Given by the user (an OSS custom domain, a private link, a local server).
    Custom,
}

/// One endpoint to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub kind: EndpointKind,
    /// The endpoint host, as the vendor spells it.
    pub host: String,
    /// The URL to send requests to (the bucket's host when the vendor puts it there).
    pub url: String,
}

impl Candidate {
    /// A user-given endpoint URL (`https://` is assumed when the scheme is missing).
    pub fn custom(url: &str) -> Candidate {
        let url = if url.contains("://") {
            url.trim_end_matches('/').to_string()
        } else {
            format!("https://{}", url.trim_end_matches('/'))
        };
        let host = strip_scheme(&url);
        Candidate {
            kind: EndpointKind::Custom,
            host,
            url,
        }
    }
}

/// How far the uploader is from the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distance {
    SameRegion,
    SameGeography,
    OtherGeography,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
}

/// A finding about the selection, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    pub level: Level,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Advice {
    fn info(message: impl Into<String>) -> Self {
        Advice {
            level: Level::Info,
            message: message.into(),
            fix: None,
        }
    }

    fn warning(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Advice {
            level: Level::Warning,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The endpoints in the order to use them (on failure, the next), and the advice.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    pub vendor: Vendor,
    pub region: Region,
    pub protocol: Protocol,
    pub distance: Distance,
    pub candidates: Vec<Candidate>,
    pub advice: Vec<Advice>,
}

impl Selection {
    /// True when the FAQ's cross-region warning applies.
    pub fn is_cross_region(&self) -> bool {
        matches!(
            self.distance,
            Distance::SameGeography | Distance::OtherGeography
        )
    }
}

/// Selects the endpoints for `req`.
pub fn select(req: &SelectRequest) -> Result<Selection> {
    let distance = distance(req);
    let hosts = hosts(req);
    if hosts.public.is_none() && req.custom.is_empty() {
        return Err(no_public_endpoint(req));
    }
    let mut candidates: Vec<Candidate> = req.custom.iter().map(|u| Candidate::custom(u)).collect();
    let co_located = distance == Distance::SameRegion && req.allow_internal;
    if co_located && let Some(h) = &hosts.internal {
        candidates.push(candidate(req, EndpointKind::Internal, h));
    }
    let far = is_other_continent(req);
    if far && req.accelerate && accelerate_allowed(req) {
        for h in &hosts.accelerated {
            candidates.push(candidate(req, EndpointKind::Accelerated, h));
        }
    }
    if let Some(h) = &hosts.public {
        candidates.push(candidate(req, EndpointKind::Public, h));
    }
    if let Some(h) = &hosts.fallback {
        candidates.push(candidate(req, EndpointKind::Fallback, h));
    }
    let mut advice = distance_advice(req, distance);
    advice.extend(acceleration_advice(req, far, &hosts));
    advice.extend(region_advice(req));
    advice.extend(bucket_advice(req));
    Ok(Selection {
        vendor: req.vendor,
        region: req.region.clone(),
        protocol: req.protocol,
        distance,
        candidates,
        advice,
    })
}

/// The hosts of the region for the chosen protocol.
struct Hosts {
    internal: Option<String>,
    accelerated: Vec<String>,
    public: Option<String>,
    fallback: Option<String>,
}

fn hosts(req: &SelectRequest) -> Hosts {
    let ep = &req.region.endpoints;
    match (req.protocol, s3_preset(req.vendor)) {
        (Protocol::S3Compatible, Some(preset)) => {
            let s = preset.for_region(req.region);
            Hosts {
                internal: s.internal_endpoint.map(|u| strip_scheme(&u)),
                accelerated: s
                    .accelerated_endpoint
                    .map(|u| strip_scheme(&u))
                    .into_iter()
                    .collect(),
                public: Some(strip_scheme(&s.endpoint)),
                fallback: None,
            }
        }
        _ => Hosts {
            internal: ep.internal.clone(),
            accelerated: ep.accelerated.clone(),
            public: ep.public.clone(),
            fallback: ep.fallback.clone(),
        },
    }
}

fn strip_scheme(url: &str) -> String {
    url.split_once("://")
        .map_or(url, |(_, rest)| rest)
        .to_string()
}

fn no_public_endpoint(req: &SelectRequest) -> Error {
    let s3 = req.region.endpoints.s3_compatible.as_deref();
    let alternative = match s3 {
        Some(h) => format!("use its S3-compatible endpoint https://{h} (--s3-compatible), or "),
        None => String::new(),
    };
    Error::invalid_input(format!(
        "the reference documents no native endpoint for {} region `{}` ({}); {alternative}give the endpoint yourself with --endpoint",
        req.vendor.table().name,
        req.region.id,
        req.region.name
    ))
}

fn candidate(req: &SelectRequest, kind: EndpointKind, host: &str) -> Candidate {
    let path_style = req.protocol == Protocol::S3Compatible
        && s3_preset(req.vendor).is_some_and(|p| p.force_path_style);
    let bucket_host = match (&req.bucket, path_style) {
        (Some(b), false) => Region::bucket_host(req.vendor, b, host),
        _ => None,
    };
    Candidate {
        kind,
        host: host.to_string(),
        url: format!("https://{}", bucket_host.as_deref().unwrap_or(host)),
    }
}

fn distance(req: &SelectRequest) -> Distance {
    match &req.from {
        Origin::Unknown => Distance::Unknown,
        Origin::Region { vendor, region }
            if *vendor == req.vendor && region.id == req.region.id =>
        {
            Distance::SameRegion
        }
        other => match other.geography() {
            Some(g) if g == req.region.geography => Distance::SameGeography,
            _ => Distance::OtherGeography,
        },
    }
}

fn is_other_continent(req: &SelectRequest) -> bool {
    req.from
        .geography()
        .is_some_and(|g| g.continent() != req.region.geography.continent())
}

/// S3 Transfer Acceleration needs a DNS name without dots.
fn accelerate_allowed(req: &SelectRequest) -> bool {
    !(req.vendor == Vendor::S3 && req.bucket.as_deref().is_some_and(|b| b.contains('.')))
}

fn distance_advice(req: &SelectRequest, distance: Distance) -> Vec<Advice> {
    let bucket_at = format!(
        "{} ({} {}, {})",
        req.region.name, req.vendor, req.region.id, req.region.geography
    );
    let from = req.from.describe();
    match distance {
        Distance::SameRegion => vec![],
        Distance::Unknown => vec![Advice {
            level: Level::Info,
            message: "where the uploader runs is unknown: internal endpoints are not offered and a cross-region bucket cannot be detected".into(),
            fix: Some("pass --from REGION (a region id such as us-east-1 or oss:cn-hangzhou, or a geography such as europe)".into()),
        }],
        Distance::SameGeography => vec![Advice::warning(
            format!(
                "the bucket is in {bucket_at} and the uploader in {from}: another region of the same geography, so uploads cross regions and are slower than in-region ones"
            ),
            format!(
                "put the bucket in the uploader's region{}, or keep it and expect extra latency",
                suggestion(req).map(|s| format!(" ({s})")).unwrap_or_default()
            ),
        )],
        Distance::OtherGeography => vec![Advice::warning(
            format!(
                "cross-region upload: the bucket is in {bucket_at} and the uploader in {from}. Recording files wait for upload on machines near the uploader, so a bucket in another region makes uploads slow or failing; after a recording stops the service waits only a limited time, and files not uploaded by then are lost"
            ),
            cross_region_fix(req),
        )],
    }
}

fn cross_region_fix(req: &SelectRequest) -> String {
    let create = match suggestion(req) {
        Some(s) => format!("create the bucket in a region near the uploader ({s})"),
        None => "create the bucket in a region near the uploader".to_string(),
    };
    let accelerate = if req.accelerate {
        ""
    } else {
        " and enable transfer acceleration on the bucket (--accelerate)"
    };
    format!(
        "{create}; if the bucket must stay in {}, send the Agora REST requests to the domain in the bucket's region (api-{}.agora.io or .sd-rtn.com){accelerate}",
        req.region.id,
        nearest_agora_region(req.region)
    )
}

/// A region of the bucket's vendor near the uploader, to suggest moving the bucket to; one
/// in another partition (AWS China) says that it needs its own account.
fn suggestion(req: &SelectRequest) -> Option<String> {
    let region = suggested_region(req)?;
    let name = match &req.from {
        // The same region id at the bucket's vendor (an AWS us-east-1 machine, OSS us-east-1).
        Origin::Region { region: from, .. } if from.id == region.id => {
            format!("{} {}", req.vendor, region.id)
        }
        _ => format!("{} {}, {}", req.vendor, region.id, region.name),
    };
    match &region.partition {
        Some(p) if region.partition != req.region.partition => Some(format!(
            "{name}; it is in the {p} partition, which needs a separate account and credentials"
        )),
        _ => Some(name),
    }
}

fn suggested_region(req: &SelectRequest) -> Option<&'static Region> {
    if let Origin::Region { region, .. } = &req.from
        && let Ok(same) = req.vendor.region(&region.id)
    {
        return Some(same);
    }
    let geo = req.from.geography()?;
    req.vendor
        .table()
        .regions
        .iter()
        .find(|r| r.geography == geo && r.verified && r.status.is_none())
}

fn acceleration_advice(req: &SelectRequest, far: bool, hosts: &Hosts) -> Vec<Advice> {
    if !far || hosts.accelerated.is_empty() {
        return vec![];
    }
    if !accelerate_allowed(req) {
        return vec![Advice::info(
            "S3 Transfer Acceleration is not offered: the bucket name contains dots",
        )];
    }
    if req.accelerate {
        return vec![Advice::info(
            "acceleration endpoints come first: the uploader is on another continent than the bucket",
        )];
    }
    vec![Advice {
        level: Level::Info,
        message: format!(
            "the uploader is on another continent than the bucket; the vendor's acceleration endpoint ({}) is not used",
            hosts.accelerated.join(", ")
        ),
        fix: Some(
            "enable transfer acceleration on the bucket and pass --accelerate to try it first"
                .into(),
        ),
    }]
}

fn region_advice(req: &SelectRequest) -> Vec<Advice> {
    let r = req.region;
    let mut out = Vec::new();
    if let Some(status) = r.status {
        out.push(Advice::warning(
            format!(
                "{} region {} is {}",
                req.vendor.table().name,
                r.id,
                status.as_str()
            ),
            "move the bucket to a region in service",
        ));
    }
    if !r.verified {
        out.push(Advice::info(format!(
            "region {} is not confirmed by the reference this table was written from{}",
            r.id,
            r.note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        )));
    }
    if r.custom_domain_required {
        out.push(Advice {
            level: Level::Info,
            message: "since 2025-03-20 new OSS users must use a custom domain (CNAME) for data operations on buckets in mainland China; the default endpoints are restricted for them".into(),
            fix: Some("if the endpoints above are refused, map a custom domain to the bucket and pass it with --endpoint".into()),
        });
    }
    if req.protocol == Protocol::S3Compatible
        && let Some(p) = s3_preset(req.vendor)
    {
        let notes = p.notes.iter().map(|n| n.replace("{region}", "<region>"));
        out.extend(notes.map(Advice::info));
    }
    out
}

fn bucket_advice(req: &SelectRequest) -> Vec<Advice> {
    let Some(bucket) = &req.bucket else {
        return vec![];
    };
    let needs_appid = req.vendor.table().bucket_needs_appid;
    if needs_appid && !has_appid_suffix(bucket) {
        return vec![Advice::warning(
            format!("COS bucket `{bucket}` does not end in -<APPID>"),
            "use the full bucket name from the COS console, e.g. examplebucket-1250000000",
        )];
    }
    vec![]
}

fn has_appid_suffix(bucket: &str) -> bool {
    bucket.rsplit_once('-').is_some_and(|(name, appid)| {
        !name.is_empty() && !appid.is_empty() && appid.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_bucket_names_end_in_an_appid() {
        assert!(has_appid_suffix("examplebucket-1250000000"));
        assert!(has_appid_suffix("my-rec-125"));
        assert!(!has_appid_suffix("examplebucket"));
        assert!(!has_appid_suffix("-1250000000"));
        assert!(!has_appid_suffix("bucket-12a"));
    }

    #[test]
    fn custom_endpoints_assume_https() {
        let c = Candidate::custom("rec.example.com/");
        assert_eq!(
            (c.url.as_str(), c.host.as_str()),
            ("https://rec.example.com", "rec.example.com")
        );
        assert_eq!(Candidate::custom("http://10.0.0.1:80").host, "10.0.0.1:80");
    }
}
