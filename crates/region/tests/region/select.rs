//! Endpoint selection and the Agora REST domain order.

use std::time::Duration;

use stowage_core::ErrorKind;
use stowage_region::rest::{attempts, domains};
use stowage_region::{
    Distance, EndpointKind, Level, Origin, Protocol, SelectRequest, Vendor, select,
};

fn request(vendor: Vendor, region: &str, from: &str) -> SelectRequest {
    let mut req = SelectRequest::new(vendor, vendor.region(region).unwrap());
    req.from = Origin::parse(from, vendor).unwrap();
    req
}

fn kinds(req: &SelectRequest) -> Vec<EndpointKind> {
    select(req)
        .unwrap()
        .candidates
        .iter()
        .map(|c| c.kind)
        .collect()
}

#[test]
fn co_located_uploader_gets_the_internal_endpoint_first() {
    let mut req = request(Vendor::Oss, "cn-hangzhou", "cn-hangzhou");
    req.bucket = Some("rec".into());
    let s = select(&req).unwrap();
    assert_eq!(s.distance, Distance::SameRegion);
    let urls: Vec<&str> = s.candidates.iter().map(|c| c.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://rec.oss-cn-hangzhou-internal.aliyuncs.com",
            "https://rec.oss-cn-hangzhou.aliyuncs.com"
        ]
    );
    assert!(!s.is_cross_region());
    assert!(
        s.advice.iter().all(|a| a.level == Level::Info),
        "{:?}",
        s.advice
    );

    req.allow_internal = false;
    assert_eq!(kinds(&req), [EndpointKind::Public]);
}

#[test]
fn internal_needs_the_same_vendor_not_just_the_same_city() {
    // An AWS machine in us-east-1 cannot use OSS's internal network in us-east-1.
    let req = request(Vendor::Oss, "us-east-1", "s3:us-east-1");
    let s = select(&req).unwrap();
    assert_eq!(s.distance, Distance::SameGeography);
    assert_eq!(kinds(&req), [EndpointKind::Public]);
}

#[test]
fn cross_region_carries_the_faq_warning_and_fix() {
    // The FAQ's example: requests from the US, bucket in Beijing.
    let req = request(Vendor::Oss, "cn-beijing", "s3:us-east-1");
    let s = select(&req).unwrap();
    assert_eq!(s.distance, Distance::OtherGeography);
    assert!(s.is_cross_region());
    let w = s
        .advice
        .iter()
        .find(|a| a.level == Level::Warning)
        .expect("a warning");
    assert!(w.message.contains("slow or failing"), "{}", w.message);
    assert!(w.message.contains("lost"), "{}", w.message);
    let fix = w.fix.as_deref().unwrap();
    assert!(
        fix.contains("api-cn-north-1"),
        "the bucket's REST domain: {fix}"
    );
    assert!(
        fix.contains("oss us-east-1"),
        "a region near the uploader: {fix}"
    );
}

/// AWS China is another partition: moving the bucket there is no mere region change.
#[test]
fn a_suggested_region_in_another_partition_says_it_needs_its_own_account() {
    let fix_for = |region: &str, from: &str| {
        let s = select(&request(Vendor::S3, region, from)).unwrap();
        let w = s.advice.iter().find(|a| a.level == Level::Warning).unwrap();
        w.fix.clone().unwrap()
    };
    let fix = fix_for("us-east-1", "oss:cn-beijing");
    assert!(
        fix.contains("s3 cn-"),
        "a China region near the uploader: {fix}"
    );
    assert!(fix.contains("aws-cn partition"), "{fix}");
    assert!(fix.contains("separate account"), "{fix}");
    // Within one partition nothing is added.
    let fix = fix_for("us-east-1", "oss:eu-central-1");
    assert!(!fix.contains("partition"), "{fix}");
}

#[test]
fn acceleration_only_across_continents_and_when_enabled() {
    let mut req = request(Vendor::S3, "ap-southeast-1", "europe");
    assert_eq!(kinds(&req), [EndpointKind::Public]);
    let s = select(&req).unwrap();
    assert!(
        s.advice
            .iter()
            .any(|a| a.message.contains("s3-accelerate.amazonaws.com")),
        "says acceleration exists: {:?}",
        s.advice
    );
    req.accelerate = true;
    req.bucket = Some("recordings".into());
    let s = select(&req).unwrap();
    assert_eq!(
        s.candidates[0].url,
        "https://recordings.s3-accelerate.amazonaws.com"
    );
    assert_eq!(s.candidates.last().unwrap().kind, EndpointKind::Public);

    // Same continent: no acceleration even when enabled.
    let mut near = request(Vendor::S3, "ap-southeast-1", "mainland-china");
    near.accelerate = true;
    assert_eq!(kinds(&near), [EndpointKind::Public]);

    // Dotted S3 bucket names cannot use Transfer Acceleration.
    req.bucket = Some("rec.example.com".into());
    assert_eq!(kinds(&req), [EndpointKind::Public]);
}

#[test]
fn cos_uses_appid_hosts_and_the_tencentcos_fallback() {
    let mut req = request(Vendor::Cos, "ap-guangzhou", "cos:ap-guangzhou");
    req.bucket = Some("examplebucket-1250000000".into());
    let s = select(&req).unwrap();
    let urls: Vec<&str> = s.candidates.iter().map(|c| c.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://examplebucket-1250000000.cos-internal.ap-guangzhou.tencentcos.cn",
            "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com",
            "https://examplebucket-1250000000.cos.ap-guangzhou.tencentcos.cn",
        ]
    );
    req.bucket = Some("examplebucket".into());
    let s = select(&req).unwrap();
    assert!(
        s.advice
            .iter()
            .any(|a| a.level == Level::Warning && a.message.contains("-<APPID>")),
        "{:?}",
        s.advice
    );
}

#[test]
fn unknown_uploader_is_said_with_the_fix() {
    let req = request(Vendor::S3, "eu-west-1", "unknown");
    let s = select(&req).unwrap();
    assert_eq!(s.distance, Distance::Unknown);
    let a = &s.advice[0];
    assert!(a.message.contains("unknown"));
    assert!(a.fix.as_deref().unwrap().contains("--from"));
}

#[test]
fn oss_mainland_notes_the_custom_domain_rule() {
    let s = select(&request(Vendor::Oss, "cn-shanghai", "cn-shanghai")).unwrap();
    assert!(s.advice.iter().any(|a| a.message.contains("custom domain")));
    let s = select(&request(Vendor::Oss, "eu-central-1", "europe")).unwrap();
    assert!(!s.advice.iter().any(|a| a.message.contains("custom domain")));
}

#[test]
fn closing_and_unverified_regions_are_flagged() {
    let s = select(&request(Vendor::Oss, "cn-nanjing", "cn-nanjing")).unwrap();
    assert!(
        s.advice
            .iter()
            .any(|a| a.level == Level::Warning && a.message.contains("closing down"))
    );
    let s = select(&request(Vendor::Cos, "ap-shanghai-fsi", "unknown")).unwrap();
    assert!(s.advice.iter().any(|a| a.message.contains("not confirmed")));
}

#[test]
fn kodo_without_native_hosts_points_to_s3_compatible() {
    let mut req = request(Vendor::Kodo, "ap-southeast-2", "unknown");
    let e = select(&req).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(
        e.to_string()
            .contains("https://s3.ap-southeast-2.qiniucs.com"),
        "{e}"
    );
    // An endpoint the user knows is enough.
    req.custom = vec!["https://up-hcm.example.com".into()];
    let s = select(&req).unwrap();
    assert_eq!(s.candidates.len(), 1);
    assert_eq!(s.candidates[0].kind, EndpointKind::Custom);
    req.custom.clear();
    req.protocol = Protocol::S3Compatible;
    req.bucket = Some("rec".into());
    let s = select(&req).unwrap();
    // Path-style for Kodo's S3 API: the bucket is not in the host.
    assert_eq!(s.candidates[0].url, "https://s3.ap-southeast-2.qiniucs.com");
}

#[test]
fn s3_compatible_protocol_uses_the_preset_hosts() {
    let mut req = request(Vendor::Oss, "cn-hangzhou", "cn-hangzhou");
    req.protocol = Protocol::S3Compatible;
    req.bucket = Some("rec".into());
    let s = select(&req).unwrap();
    let urls: Vec<&str> = s.candidates.iter().map(|c| c.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://rec.s3.oss-cn-hangzhou-internal.aliyuncs.com",
            "https://rec.s3.oss-cn-hangzhou.aliyuncs.com"
        ]
    );
    assert!(
        s.advice
            .iter()
            .any(|a| a.message.contains("Multipart ETags"))
    );
}

#[test]
fn from_accepts_regions_geographies_and_vendor_prefixes() {
    assert!(matches!(
        Origin::parse("Europe", Vendor::S3).unwrap(),
        Origin::Geography(_)
    ));
    assert!(matches!(
        Origin::parse("china", Vendor::S3).unwrap(),
        Origin::Geography(_)
    ));
    match Origin::parse("cn-hangzhou", Vendor::S3).unwrap() {
        Origin::Region { vendor, region } => {
            assert_eq!(vendor, Vendor::Oss, "found in another vendor's table");
            assert_eq!(region.id, "cn-hangzhou");
        }
        other => panic!("{other:?}"),
    }
    let e = Origin::parse("mars-1", Vendor::S3).unwrap_err();
    assert!(e.to_string().contains("--from `mars-1`"), "{e}");
    let e = Origin::parse("azure:eastus", Vendor::S3).unwrap_err();
    assert!(e.to_string().contains("unknown vendor `azure`"), "{e}");
}

#[test]
fn rest_domains_put_the_callers_primary_first() {
    let inside = domains(true, None);
    assert_eq!(inside[..2], ["api.sd-rtn.com", "api.agora.io"]);
    let outside = domains(false, None);
    assert_eq!(outside[..2], ["api.agora.io", "api.sd-rtn.com"]);
    assert_eq!(outside.len(), 2 + 8 * 2);
    assert!(outside.contains(&"api-cn-north-1.sd-rtn.com".to_string()));
}

#[test]
fn rest_domains_near_the_bucket_come_first() {
    let beijing = Vendor::Oss.region("cn-beijing").unwrap();
    assert_eq!(domains(false, Some(beijing))[2], "api-cn-north-1.agora.io");
    let shanghai = Vendor::Cos.region("ap-shanghai").unwrap();
    assert_eq!(domains(true, Some(shanghai))[2], "api-cn-east-1.sd-rtn.com");
    let london = Vendor::S3.region("eu-west-2").unwrap();
    assert_eq!(domains(false, Some(london))[2], "api-eu-west-1.agora.io");
    let frankfurt = Vendor::Cos.region("eu-frankfurt").unwrap();
    assert_eq!(
        domains(false, Some(frankfurt))[2],
        "api-eu-central-1.agora.io"
    );
    let oregon = Vendor::S3.region("us-west-2").unwrap();
    assert_eq!(domains(false, Some(oregon))[2], "api-us-west-1.agora.io");
    let tokyo = Vendor::S3.region("ap-northeast-1").unwrap();
    assert_eq!(
        domains(false, Some(tokyo))[2],
        "api-ap-northeast-1.agora.io"
    );
}

#[test]
fn rest_attempts_follow_the_documented_back_off() {
    let a = attempts(false, None);
    assert_eq!(a[0].domain, "api.agora.io");
    assert_eq!(a[0].delay, Duration::ZERO);
    assert_eq!(a[1].domain, "api.agora.io", "retry the same first");
    assert_eq!(a[1].delay, Duration::from_secs(1));
    assert_eq!(a[2].domain, "api.sd-rtn.com");
    assert_eq!(a[2].delay, Duration::from_secs(3));
    assert!(a[3].domain.starts_with("api-"));
    assert!(a[3..].iter().all(|x| x.delay == Duration::from_secs(6)));
}

#[test]
fn custom_endpoints_come_first() {
    let mut req = request(Vendor::Oss, "cn-shanghai", "cn-shanghai");
    req.custom = vec!["rec.example.com".into(), "http://10.0.0.5:8080/".into()];
    let s = select(&req).unwrap();
    let urls: Vec<&str> = s.candidates.iter().map(|c| c.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://rec.example.com",
            "http://10.0.0.5:8080",
            "https://oss-cn-shanghai-internal.aliyuncs.com",
            "https://oss-cn-shanghai.aliyuncs.com",
        ]
    );
}
