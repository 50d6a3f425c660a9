//! The embedded tables: schema, well-formed hosts, Agora codes, presets, and samples checked
//! against the reference (domain.md §A2, §B1-B4).

use stowage_core::ErrorKind;
use stowage_region::agora::{AgoraTarget, agora_table, agora_vendor};
use stowage_region::presets::all_presets;
use stowage_region::{Geography, Vendor, s3_preset, tables};

fn well_formed_host(h: &str) -> bool {
    let labels: Vec<&str> = h.split('.').collect();
    labels.len() >= 3
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[test]
fn every_table_parses_with_its_schema() {
    let t = tables();
    for (vendor, table) in [
        (Vendor::S3, &t.s3),
        (Vendor::Oss, &t.oss),
        (Vendor::Cos, &t.cos),
        (Vendor::Kodo, &t.kodo),
    ] {
        assert_eq!(table.vendor, vendor);
        assert!(!table.regions.is_empty(), "{vendor}");
        assert!(!table.discovery.is_empty(), "{vendor}");
    }
    assert!(agora_table().vendors.len() >= 10);
    assert_eq!(all_presets().len(), 7);
}

#[test]
fn region_ids_are_unique_per_vendor() {
    for v in Vendor::ALL {
        let mut ids: Vec<&str> = v.table().regions.iter().map(|r| r.id.as_str()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate region id in {v}");
    }
}

#[test]
fn every_region_has_a_well_formed_public_endpoint_or_says_why_not() {
    for v in Vendor::ALL {
        for r in &v.table().regions {
            let ep = &r.endpoints;
            match &ep.public {
                Some(h) => assert!(well_formed_host(h), "{v} {}: {h}", r.id),
                None => {
                    // Only Kodo's Hanoi and Ho Chi Minh City lack native hosts in the
                    // reference: they must be marked unverified, say so, and offer S3.
                    assert!(!r.verified, "{v} {} has no public endpoint", r.id);
                    assert!(
                        r.note
                            .as_deref()
                            .is_some_and(|n| n.contains("not in the reference"))
                    );
                    assert!(ep.s3_compatible.is_some(), "{v} {}", r.id);
                }
            }
            let others = [&ep.internal, &ep.dual_stack, &ep.s3_compatible]
                .into_iter()
                .chain([&ep.s3_compatible_internal, &ep.fallback, &ep.rs, &ep.rsf]);
            for h in others.flatten().chain(ep.accelerated.iter()) {
                assert!(well_formed_host(h), "{v} {}: {h}", r.id);
            }
            assert!(!r.name.is_empty());
        }
    }
}

#[test]
fn s3_samples_match_the_reference() {
    let r = Vendor::S3.region("us-east-1").unwrap();
    assert_eq!(
        r.endpoints.public.as_deref(),
        Some("s3.us-east-1.amazonaws.com")
    );
    assert_eq!(r.geography, Geography::NorthAmerica);
    let r = Vendor::S3.region("eu-west-1").unwrap();
    assert_eq!(
        r.endpoints.dual_stack.as_deref(),
        Some("s3.dualstack.eu-west-1.amazonaws.com")
    );
    assert!(
        r.endpoints
            .accelerated
            .contains(&"s3-accelerate.amazonaws.com".to_string())
    );
    let cn = Vendor::S3.region("cn-north-1").unwrap();
    assert_eq!(
        cn.endpoints.public.as_deref(),
        Some("s3.cn-north-1.amazonaws.com.cn")
    );
    assert_eq!(cn.partition.as_deref(), Some("aws-cn"));
    assert_eq!(cn.geography, Geography::MainlandChina);
    assert!(cn.endpoints.accelerated.is_empty(), "not in the reference");
}

#[test]
fn oss_samples_match_the_reference() {
    let r = Vendor::Oss.region("cn-hangzhou").unwrap();
    let ep = &r.endpoints;
    assert_eq!(ep.public.as_deref(), Some("oss-cn-hangzhou.aliyuncs.com"));
    assert_eq!(
        ep.internal.as_deref(),
        Some("oss-cn-hangzhou-internal.aliyuncs.com")
    );
    assert_eq!(
        ep.dual_stack.as_deref(),
        Some("cn-hangzhou.oss.aliyuncs.com")
    );
    assert_eq!(
        ep.s3_compatible.as_deref(),
        Some("s3.oss-cn-hangzhou.aliyuncs.com")
    );
    assert_eq!(
        ep.s3_compatible_internal.as_deref(),
        Some("s3.oss-cn-hangzhou-internal.aliyuncs.com")
    );
    assert!(
        ep.accelerated
            .contains(&"oss-accelerate-overseas.aliyuncs.com".to_string())
    );
    assert!(r.custom_domain_required, "mainland bucket for new users");
    // GetBucketLocation answers `oss-cn-hangzhou`.
    assert_eq!(
        Vendor::Oss.region("oss-cn-hangzhou").unwrap().id,
        "cn-hangzhou"
    );
    let hk = Vendor::Oss.region("cn-hongkong").unwrap();
    assert_eq!(hk.geography, Geography::AsiaPacific);
    assert!(!hk.custom_domain_required);
    assert!(Vendor::Oss.region("cn-nanjing").unwrap().status.is_some());
    assert!(!Vendor::Oss.region("ap-southeast-6").unwrap().verified);
}

#[test]
fn cos_samples_match_the_reference() {
    let r = Vendor::Cos.region("ap-guangzhou").unwrap();
    let ep = &r.endpoints;
    assert_eq!(ep.public.as_deref(), Some("cos.ap-guangzhou.myqcloud.com"));
    assert_eq!(
        ep.fallback.as_deref(),
        Some("cos.ap-guangzhou.tencentcos.cn")
    );
    assert_eq!(
        ep.internal.as_deref(),
        Some("cos-internal.ap-guangzhou.tencentcos.cn")
    );
    assert_eq!(
        ep.accelerated,
        vec!["cos.accelerate.myqcloud.com".to_string()]
    );
    assert!(Vendor::Cos.table().bucket_needs_appid);
    assert_eq!(
        stowage_region::Region::bucket_host(
            Vendor::Cos,
            "examplebucket-1250000000",
            ep.public.as_deref().unwrap()
        )
        .as_deref(),
        Some("examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com")
    );
    assert!(!Vendor::Cos.region("ap-beijing-fsi").unwrap().verified);
}

#[test]
fn kodo_samples_match_the_reference() {
    let z0 = Vendor::Kodo.region("z0").unwrap();
    assert_eq!(z0.endpoints.public.as_deref(), Some("up-z0.qiniup.com"));
    assert_eq!(
        z0.endpoints.accelerated,
        vec!["upload.qiniup.com".to_string()]
    );
    assert_eq!(z0.endpoints.rs.as_deref(), Some("rs-z0.qiniuapi.com"));
    assert_eq!(z0.endpoints.rsf.as_deref(), Some("rsf-z0.qiniuapi.com"));
    assert_eq!(
        z0.endpoints.s3_compatible.as_deref(),
        Some("s3.cn-east-1.qiniucs.com")
    );
    let z1 = Vendor::Kodo.region("z1").unwrap();
    assert_eq!(
        z1.endpoints.accelerated,
        vec!["upload-z1.qiniup.com".to_string()]
    );
    // The S3-compatible region id finds the Kodo region.
    assert_eq!(Vendor::Kodo.region("us-north-1").unwrap().id, "na0");
    assert_eq!(
        Vendor::Kodo.table().services["uc"][0],
        "uc.qiniuapi.com".to_string()
    );
}

#[test]
fn unknown_region_names_the_known_ones() {
    let e = Vendor::Oss.region("cn-atlantis").unwrap_err();
    let text = e.to_string();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(
        text.contains("cn-atlantis") && text.contains("cn-hangzhou"),
        "{text}"
    );
    let e = "azure".parse::<Vendor>().unwrap_err();
    assert!(e.to_string().contains("obs, bos, ks3 or gcs"), "{e}");
    assert_eq!("google".parse::<Vendor>().unwrap(), Vendor::Gcs);
    assert_eq!("huawei".parse::<Vendor>().unwrap(), Vendor::Obs);
}

#[test]
fn every_agora_code_resolves_or_is_explicitly_unknown() {
    for v in &agora_table().vendors {
        for r in &v.regions {
            assert!(
                r.id.is_some() != r.unknown.is_some(),
                "vendor {} region {}: exactly one of id / unknown",
                v.code,
                r.code
            );
            match v.region(i64::from(r.code)) {
                Ok((entry, region)) => {
                    assert_eq!(entry.id.as_deref(), Some(region.id.as_str()));
                    assert!(entry.inferred());
                }
                Err(e) => {
                    let reason = r.unknown.as_deref().expect("only unknown codes fail");
                    assert!(e.to_string().contains(reason), "{e}");
                    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
                }
            }
        }
    }
}

#[test]
fn agora_vendor_codes() {
    let expect = [
        (0, Some(AgoraTarget::Vendor(Vendor::Kodo))),
        (1, Some(AgoraTarget::Vendor(Vendor::S3))),
        (2, Some(AgoraTarget::Vendor(Vendor::Oss))),
        (3, Some(AgoraTarget::Vendor(Vendor::Cos))),
        (4, Some(AgoraTarget::Vendor(Vendor::Ks3))),
        (5, Some(AgoraTarget::Azure)),
        (6, Some(AgoraTarget::Gcs)),
        (7, Some(AgoraTarget::Vendor(Vendor::Obs))),
        (8, Some(AgoraTarget::Vendor(Vendor::Bos))),
        (11, Some(AgoraTarget::S3Compatible)),
    ];
    for (code, target) in expect {
        let v = agora_vendor(code).unwrap();
        match (v.target(), target) {
            (Ok(t), Some(want)) => assert_eq!(t, want, "vendor {code}"),
            (Err(e), None) => {
                assert_eq!(e.kind(), &ErrorKind::Unsupported);
                let text = e.to_string();
                assert!(text.contains(&v.name), "{text}");
                assert!(
                    text.contains("Amazon S3 (1)"),
                    "names what is supported: {text}"
                );
            }
            (got, want) => panic!("vendor {code}: got {got:?}, want {want:?}"),
        }
    }
    for bad in [9, 10, 12, -1] {
        let e = agora_vendor(bad).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("unknown Agora vendor code {bad}")),
            "{text}"
        );
        assert!(text.contains("11 S3-compatible storage"), "{text}");
    }
}

#[test]
fn agora_region_samples() {
    let id = |vendor: i64, region: i64| {
        agora_vendor(vendor)
            .unwrap()
            .region(region)
            .map(|(_, r)| r.id.clone())
    };
    assert_eq!(id(1, 0).unwrap(), "us-east-1");
    assert_eq!(id(1, 15).unwrap(), "cn-north-1");
    assert_eq!(id(1, 25).unwrap(), "eu-south-1");
    assert_eq!(id(2, 0).unwrap(), "cn-hangzhou");
    assert_eq!(id(2, 7).unwrap(), "cn-hongkong");
    assert_eq!(id(2, 25).unwrap(), "cn-wulanchabu");
    assert_eq!(id(3, 0).unwrap(), "ap-beijing-1");
    assert_eq!(id(3, 16).unwrap(), "na-ashburn");
    assert_eq!(id(0, 3).unwrap(), "na0");
    for (vendor, code) in [(1, 17), (1, 23), (1, 26), (2, 18), (2, 26), (2, 27)] {
        let e = id(vendor, code).unwrap_err();
        assert!(e.to_string().contains("cannot be mapped"), "{e}");
    }
    // Huawei 0-15, Baidu 0-7 (0 only in the legacy table), Kingsoft 0-9 (two unmapped).
    assert_eq!(id(7, 0).unwrap(), "cn-north-1");
    assert_eq!(id(7, 1).unwrap(), "cn-north-4");
    assert_eq!(id(7, 14).unwrap(), "la-south-2");
    assert_eq!(id(7, 15).unwrap(), "sa-chile-1");
    assert_eq!(id(8, 0).unwrap(), "bj");
    assert_eq!(id(8, 6).unwrap(), "fwh");
    assert_eq!(id(8, 7).unwrap(), "fsh");
    assert_eq!(id(4, 3).unwrap(), "cn-beijing");
    assert_eq!(id(4, 5).unwrap(), "cn-hk-1");
    assert_eq!(id(4, 9).unwrap(), "sgp");
    for code in [0, 2] {
        let e = id(4, code).unwrap_err();
        assert!(e.to_string().contains("cannot be mapped"), "{e}");
    }
    assert!(id(7, 16).is_err() && id(8, 8).is_err() && id(4, 10).is_err());
    let e = id(1, 99).unwrap_err();
    assert!(
        e.to_string()
            .contains("region code 99 is not in the Amazon S3 table"),
        "{e}"
    );
    let e = id(3, 20).unwrap_err();
    assert!(e.to_string().contains("0, 1, 2"), "{e}");
}

#[test]
fn presets_agree_with_the_tables() {
    assert!(s3_preset(Vendor::S3).is_none(), "S3 needs no preset");
    for p in all_presets() {
        for r in &p.vendor.table().regions {
            let s = p.for_region(r);
            let table_host = r.endpoints.s3_compatible.as_deref().unwrap();
            assert_eq!(
                s.endpoint,
                format!("https://{table_host}"),
                "{} {}",
                p.vendor,
                r.id
            );
            if let (Some(a), Some(b)) = (&s.internal_endpoint, &r.endpoints.s3_compatible_internal)
            {
                assert_eq!(a, &format!("https://{b}"));
            }
            assert_eq!(s.integrity, "md5", "these vendors check Content-MD5 only");
        }
        assert!(!p.multipart_etag_is_md5);
    }
    let kodo = s3_preset(Vendor::Kodo).unwrap();
    assert!(kodo.force_path_style && kodo.bucket_name_may_differ);
    let s = kodo.for_region(Vendor::Kodo.region("z2").unwrap());
    assert_eq!(s.region, "cn-south-1");
    let cos = s3_preset(Vendor::Cos).unwrap();
    assert_eq!(cos.list_version, 1);
    let oss = s3_preset(Vendor::Oss).unwrap();
    assert!(!oss.force_path_style);
    let obs = s3_preset(Vendor::Obs).unwrap();
    let s = obs.for_region(Vendor::Obs.region("cn-north-4").unwrap());
    assert_eq!(
        (s.endpoint.as_str(), s.region.as_str(), s.force_path_style),
        (
            "https://obs.cn-north-4.myhuaweicloud.com",
            "cn-north-4",
            false
        )
    );
    let bos = s3_preset(Vendor::Bos).unwrap();
    let s = bos.for_region(Vendor::Bos.region("gz").unwrap());
    assert_eq!(
        (s.endpoint.as_str(), s.region.as_str(), s.force_path_style),
        ("https://s3.gz.bcebos.com", "gz", true)
    );
    let ks3 = s3_preset(Vendor::Ks3).unwrap();
    let s = ks3.for_region(Vendor::Ks3.region("cn-hk-1").unwrap());
    assert_eq!(s.endpoint, "https://ks3-cn-hk-1.ksyuncs.com");
    assert_eq!(
        s.internal_endpoint.as_deref(),
        Some("https://ks3-cn-hk-1-internal.ksyuncs.com")
    );
    let gcs = s3_preset(Vendor::Gcs).unwrap();
    let s = gcs.for_region(Vendor::Gcs.region("auto").unwrap());
    assert_eq!(
        (s.endpoint.as_str(), s.region.as_str(), s.force_path_style),
        ("https://storage.googleapis.com", "auto", true)
    );
    assert_eq!(Vendor::Gcs.table().regions.len(), 1, "one global endpoint");
    // Every Agora code that maps resolves to a region of the vendor's table.
    for (code, vendor) in [(4, Vendor::Ks3), (7, Vendor::Obs), (8, Vendor::Bos)] {
        for r in &agora_vendor(code).unwrap().regions {
            if let Some(id) = &r.id {
                assert!(vendor.region(id).is_ok(), "vendor {code} region {id}");
            }
        }
    }
    assert_eq!(
        oss.for_region(Vendor::Oss.region("cn-beijing").unwrap())
            .region,
        "cn-beijing"
    );
}
