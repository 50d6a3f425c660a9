//! Settings in each adapter's spelling, with and without a selected endpoint.

use super::configs::*;
use super::*;
use stowage_cos::Addressing as CosAddressing;
use stowage_oss::Addressing;
use stowage_region::{Candidate, Origin, SelectRequest, select};
use stowage_s3::S3Integrity;

/// The selector's first candidate for a bucket of `vendor` in `region`, uploaded from
/// `from` (None: unknown), with --internal / --accelerate as given.
fn first_candidate(
    vendor: Vendor,
    region: &str,
    from: Option<&str>,
    internal: bool,
    accelerate: bool,
) -> (Candidate, &'static Region) {
    let region = vendor.region(region).unwrap();
    let mut req = SelectRequest::new(vendor, region);
    req.bucket = Some("rec-1250000000".into());
    req.allow_internal = internal;
    req.accelerate = accelerate;
    if let Some(f) = from {
        req.from = Origin::parse(f, vendor).unwrap();
    }
    let selection = select(&req).unwrap();
    (selection.candidates[0].clone(), region)
}

fn chosen<'a>(c: &'a (Candidate, &'static Region)) -> Option<Chosen<'a>> {
    Some(Chosen {
        candidate: &c.0,
        region: c.1,
    })
}

#[test]
fn s3_integrity_defaults_to_crc_on_aws_and_asking_elsewhere_and_can_be_forced() {
    let integrity = |endpoint: Option<&str>, flag: Option<&str>| {
        let args = Settings {
            endpoint: endpoint.map(str::to_string),
            s3_integrity: flag.map(|f| crate::parse_s3_integrity(f).unwrap()),
            region: Some("us-east-1".into()),
            ..Settings::default()
        };
        s3_config("rec", &args, None).unwrap().integrity
    };
    let local = Some("http://127.0.0.1:9000");
    assert_eq!(integrity(None, None), S3Integrity::Crc64Nvme);
    assert_eq!(integrity(local, None), S3Integrity::Auto);
    assert_eq!(integrity(local, Some("md5")), S3Integrity::Md5AndCrc64Nvme);
    assert_eq!(integrity(None, Some("md5")), S3Integrity::Md5AndCrc64Nvme);
    assert_eq!(integrity(local, Some("crc64nvme")), S3Integrity::Crc64Nvme);
    assert_eq!(integrity(None, Some("auto")), S3Integrity::Auto);
}

#[test]
fn oss_co_located_with_internal_uses_the_internal_host_virtual_hosted() {
    let c = first_candidate(
        Vendor::Oss,
        "cn-hangzhou",
        Some("oss:cn-hangzhou"),
        true,
        false,
    );
    let cfg = oss_config("rec", &Settings::default(), chosen(&c));
    assert_eq!(
        cfg.endpoint.as_deref(),
        Some("https://oss-cn-hangzhou-internal.aliyuncs.com")
    );
    assert_eq!(cfg.addressing, Addressing::VirtualHosted);
    assert_eq!(cfg.region.as_deref(), Some("cn-hangzhou"));
    // Without --internal the same machine gets the public host (the adapter's default).
    let c = first_candidate(
        Vendor::Oss,
        "cn-hangzhou",
        Some("oss:cn-hangzhou"),
        false,
        false,
    );
    assert_eq!(c.0.kind, EndpointKind::Public);
    let cfg = oss_config("rec", &Settings::default(), chosen(&c));
    assert_eq!(cfg.endpoint, None);
    assert_eq!(cfg.region.as_deref(), Some("cn-hangzhou"));
}

#[test]
fn s3_across_continents_with_accelerate_uses_s3_accelerate() {
    let c = first_candidate(Vendor::S3, "eu-central-1", Some("cn-beijing"), false, true);
    let cfg = s3_config("rec", &Settings::default(), chosen(&c)).unwrap();
    assert_eq!(
        cfg.endpoint.as_deref(),
        Some("https://s3-accelerate.amazonaws.com")
    );
    assert!(
        !cfg.force_path_style,
        "acceleration needs the bucket in the host"
    );
    assert_eq!(cfg.region.as_deref(), Some("eu-central-1"));
    assert_eq!(cfg.integrity, S3Integrity::Crc64Nvme, "still AWS itself");
}

#[test]
fn unknown_origin_gets_the_regional_public_endpoint() {
    for (vendor, region) in [
        (Vendor::S3, "eu-central-1"),
        (Vendor::Oss, "cn-hangzhou"),
        (Vendor::Cos, "ap-guangzhou"),
        (Vendor::Kodo, "z0"),
    ] {
        // Even with --internal and --accelerate: neither applies without knowing where we are.
        let c = first_candidate(vendor, region, None, true, true);
        assert_eq!(c.0.kind, EndpointKind::Public, "{vendor} {region}");
    }
    let c = first_candidate(Vendor::S3, "eu-central-1", None, true, true);
    let cfg = s3_config("rec", &Settings::default(), chosen(&c)).unwrap();
    assert_eq!(
        (cfg.endpoint, cfg.region.as_deref()),
        (None, Some("eu-central-1"))
    );
    let c = first_candidate(Vendor::Cos, "ap-guangzhou", None, true, true);
    let cfg = cos_config("rec-1250000000", &Settings::default(), chosen(&c));
    assert_eq!(cfg.endpoint, None);
    assert_eq!(cfg.addressing, CosAddressing::VirtualHosted);
    assert_eq!(cfg.region.as_deref(), Some("ap-guangzhou"));
}

#[test]
fn cos_internal_and_accelerate_in_the_adapters_spelling() {
    use CosAddressing as Cos;
    let c = first_candidate(
        Vendor::Cos,
        "ap-guangzhou",
        Some("cos:ap-guangzhou"),
        true,
        false,
    );
    let cfg = cos_config("rec-1250000000", &Settings::default(), chosen(&c));
    assert_eq!(
        cfg.endpoint.as_deref(),
        Some("https://cos-internal.ap-guangzhou.tencentcos.cn")
    );
    assert_eq!(cfg.addressing, Cos::VirtualHosted);
    let c = first_candidate(
        Vendor::Cos,
        "ap-guangzhou",
        Some("eu-central-1"),
        false,
        true,
    );
    assert_eq!(c.0.host, "cos.accelerate.myqcloud.com");
    let cfg = cos_config("rec-1250000000", &Settings::default(), chosen(&c));
    assert_eq!((cfg.endpoint, cfg.addressing), (None, Cos::Accelerate));
    assert_eq!(cfg.region.as_deref(), Some("ap-guangzhou"));
}

#[test]
fn kodo_takes_the_zone_and_its_accelerated_upload_switch() {
    let c = first_candidate(Vendor::Kodo, "z0", Some("us-east-1"), false, true);
    assert_eq!(c.0.host, "upload.qiniup.com");
    let cfg = kodo_config("rec", &Settings::default(), chosen(&c));
    assert_eq!((cfg.zone.as_deref(), cfg.accelerated), (Some("z0"), true));
    // Same continent: acceleration is not offered, the source upload host is used.
    let c = first_candidate(Vendor::Kodo, "z0", Some("cn-beijing"), false, true);
    let cfg = kodo_config("rec", &Settings::default(), chosen(&c));
    assert_eq!((cfg.zone.as_deref(), cfg.accelerated), (Some("z0"), false));
}

#[tokio::test]
async fn an_explicit_endpoint_wins_but_the_warning_stays() {
    let args = Settings {
        endpoint: Some("http://127.0.0.1:9".into()),
        region: Some("cn-hangzhou".into()),
        from: Some("eu-central-1".into()),
        internal: true,
        accelerate: true,
        ..Settings::default()
    };
    let url = StorageUrl::parse("oss://rec/x").unwrap();
    let placement = region::placement_of(&url, &args, &mut Vec::new())
        .await
        .unwrap()
        .unwrap();
    assert!(placement.chosen.is_none(), "selection is skipped");
    assert!(placement.cross_region().is_some(), "Frankfurt → Hangzhou");
    let cfg = oss_config("rec", &args, None);
    assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:9"));
    assert_eq!(cfg.addressing, Addressing::PathStyle);
}

#[tokio::test]
async fn s3_presets_take_the_vendors_internal_s3_endpoint_when_selected() {
    let args = Settings {
        region: Some("cn-hangzhou".into()),
        s3_preset: Some(Vendor::Oss),
        from: Some("oss:cn-hangzhou".into()),
        internal: true,
        ..Settings::default()
    };
    let url = StorageUrl::parse("s3://rec/x").unwrap();
    let placement = region::placement_of(&url, &args, &mut Vec::new())
        .await
        .unwrap()
        .unwrap();
    let candidate = placement.chosen.as_ref().unwrap();
    assert_eq!(candidate.kind, EndpointKind::Internal);
    let chosen = Chosen {
        candidate,
        region: placement.region,
    };
    let cfg = s3_config("rec", &args, Some(chosen)).unwrap();
    assert_eq!(
        cfg.endpoint.as_deref(),
        Some("https://s3.oss-cn-hangzhou-internal.aliyuncs.com")
    );
    assert!(!cfg.force_path_style, "the OSS preset is virtual-hosted");
    assert_eq!(cfg.integrity, S3Integrity::Md5AndCrc64Nvme);
    // --endpoint still wins.
    let explicit = Settings {
        endpoint: Some("https://oss.example.com".into()),
        ..args
    };
    let cfg = s3_config("rec", &explicit, Some(chosen)).unwrap();
    assert_eq!(cfg.endpoint.as_deref(), Some("https://oss.example.com"));
}

/// Issue #19: where the vendor's hosts follow a pattern (S3, OSS, COS) a region the tables
/// lack is a warning and the adapter builds the host; Kodo's hosts do not, so it is an error.
#[tokio::test]
async fn a_region_the_tables_lack_is_a_warning_where_hosts_follow_a_pattern() {
    for url in ["s3://rec/x", "oss://rec/x", "cos://rec-1250000000/x"] {
        let url = StorageUrl::parse(url).unwrap();
        for accelerate in [false, true] {
            let args = Settings {
                region: Some("mars-1".into()),
                accelerate,
                ..Settings::default()
            };
            let mut warnings = Vec::new();
            let placement = match accelerate {
                true => region::placement_of(&url, &args, &mut warnings)
                    .await
                    .unwrap(),
                false => region::check_region(&url, &args, &mut warnings)
                    .map(|()| None)
                    .unwrap(),
            };
            assert!(placement.is_none(), "{url}: nothing to select from");
            let [Warning::UnknownRegion { region, known, .. }] = &warnings[..] else {
                panic!("{url}: {warnings:?}")
            };
            assert_eq!(region, "mars-1");
            assert!(!known.is_empty());
            let text = warnings[0].to_string();
            assert!(text.starts_with("unknown "), "{text}");
            assert!(
                text.contains("region `mars-1` (not in Stowage's tables"),
                "{text}"
            );
            assert!(text.ends_with("or give the endpoint yourself"), "{text}");
        }
    }
    let kodo = StorageUrl::parse("kodo://rec/x").unwrap();
    let mut args = Settings {
        region: Some("mars-1".into()),
        ..Settings::default()
    };
    let e = region::check_region(&kodo, &args, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, OpenError::UnknownRegion { .. }), "{e}");
    assert!(e.to_string().contains("z0"), "names the known zones: {e}");
    assert!(
        !e.to_string().contains("--"),
        "no flag words in the library: {e}"
    );
    // Behind an endpoint of the caller's own, any region name goes.
    args.endpoint = Some("http://127.0.0.1:9".into());
    assert!(region::check_region(&kodo, &args, &mut Vec::new()).is_ok());
}

#[test]
fn every_s3_region_aws_cli_reaches_is_in_the_table() {
    for id in [
        "eu-central-2",
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-west-1",
        "eu-south-2",
        "me-central-1",
        "mx-central-1",
        "eusc-de-east-1",
    ] {
        assert!(Vendor::S3.region(id).is_ok(), "{id}");
    }
}

#[test]
fn local_paths_split_at_the_nearest_bucket_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("bucket");
    let deep = root.join("rec/demo");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("a.ts"), b"x").unwrap();
    // No state directory yet: a directory is its own bucket, a file's parent is.
    assert_eq!(split_local(&deep), (deep.clone(), String::new()));
    assert_eq!(
        split_local(&deep.join("a.ts")),
        (deep.clone(), "a.ts".into())
    );
    // A spool's journal directory does not make a bucket; a bucket's stored checksums do.
    std::fs::create_dir(deep.join(".stowage")).unwrap();
    assert_eq!(split_local(&deep), (deep.clone(), String::new()));
    std::fs::create_dir_all(root.join(".stowage/meta")).unwrap();
    assert_eq!(split_local(&deep), (root.clone(), "rec/demo".into()));
    assert_eq!(
        split_local(&deep.join("a.ts")),
        (root.clone(), "rec/demo/a.ts".into())
    );
    // A path not there yet still splits at the root above it.
    assert_eq!(
        split_local(&deep.join("later.m3u8")),
        (root.clone(), "rec/demo/later.m3u8".into())
    );
    assert_eq!(split_local(&root), (root, String::new()));
}

#[test]
fn s3_presets_fill_endpoint_region_addressing_and_integrity() {
    let args = Settings {
        region: Some("cn-hangzhou".into()),
        s3_preset: Some(Vendor::Oss),
        ..Settings::default()
    };
    let cfg = s3_config("rec", &args, None).unwrap();
    assert_eq!(
        cfg.endpoint.as_deref(),
        Some("https://s3.oss-cn-hangzhou.aliyuncs.com")
    );
    assert_eq!(cfg.region.as_deref(), Some("cn-hangzhou"));
    assert!(!cfg.force_path_style, "OSS wants virtual-hosted addressing");
    assert_eq!(cfg.integrity, S3Integrity::Md5AndCrc64Nvme);

    let kodo = Settings {
        region: Some("z0".into()),
        s3_preset: Some(Vendor::Kodo),
        ..Settings::default()
    };
    let cfg = s3_config("rec", &kodo, None).unwrap();
    assert!(cfg.endpoint.unwrap().contains("qiniucs.com"));

    let unknown = Settings {
        region: Some("mars-1".into()),
        s3_preset: Some(Vendor::Cos),
        ..Settings::default()
    };
    let e = s3_config("rec-1250000000", &unknown, None).unwrap_err();
    assert!(e.to_string().contains("mars-1"), "{e}");

    // Huawei, Baidu, Kingsoft: each preset's host, signing region and addressing.
    for (preset, region, endpoint, path_style) in [
        (
            "obs",
            "cn-north-4",
            "https://obs.cn-north-4.myhuaweicloud.com",
            false,
        ),
        ("bos", "fwh", "https://s3.fwh.bcebos.com", true),
        ("ks3", "sgp", "https://ks3-sgp.ksyuncs.com", false),
    ] {
        let args = Settings {
            region: Some(region.into()),
            s3_preset: Some(preset.parse().unwrap()),
            ..Settings::default()
        };
        let cfg = s3_config("rec", &args, None).unwrap();
        assert_eq!(cfg.endpoint.as_deref(), Some(endpoint), "{preset}");
        assert_eq!(cfg.region.as_deref(), Some(region), "{preset}");
        assert_eq!(cfg.force_path_style, path_style, "{preset}");
        assert_eq!(cfg.integrity, S3Integrity::Md5AndCrc64Nvme, "{preset}");
    }

    // GCS's XML API: one global endpoint, whatever region is given (or none).
    for region in [None, Some("us-central1".to_string())] {
        let args = Settings {
            region,
            s3_preset: Some(Vendor::Gcs),
            ..Settings::default()
        };
        let cfg = s3_config("rec", &args, None).unwrap();
        assert_eq!(
            cfg.endpoint.as_deref(),
            Some("https://storage.googleapis.com")
        );
        assert_eq!(cfg.region.as_deref(), Some("auto"));
        assert!(cfg.force_path_style);
        assert_eq!(cfg.integrity, S3Integrity::Md5AndCrc64Nvme);
    }
}
