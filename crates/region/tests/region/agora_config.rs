//! Agora `storageConfig` in: what a good one becomes, and a clear error for each bad input.

use serde_json::{Value, json};
use stowage_core::{ErrorKind, Scheme};
use stowage_region::{AgoraStorage, AgoraTarget, Vendor};

const SECRET: &str = "s3cr3t-DO-NOT-PRINT";
const TOKEN: &str = "sts-TOKEN-DO-NOT-PRINT";

fn config(vendor: i64, region: i64) -> Value {
    json!({
        "vendor": vendor,
        "region": region,
        "bucket": "recordings",
        "accessKey": "AKIDEXAMPLE",
        "secretKey": SECRET,
        "fileNamePrefix": ["directory1", "directory2"],
    })
}

fn parse(v: &Value) -> stowage_core::Result<AgoraStorage> {
    AgoraStorage::from_json(&v.to_string())
}

/// Parses and expects an InvalidInput error whose text contains every `needle`; also checks
/// the secret never leaks into it.
fn rejects(v: &Value, needles: &[&str]) {
    let e = parse(v).expect_err("should be rejected");
    let text = e.to_string();
    for n in needles {
        assert!(text.contains(n), "`{n}` not in: {text}");
    }
    assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");
    assert!(text.contains("Fix:"), "{text}");
}

#[test]
fn s3_config_becomes_url_region_and_credentials() {
    let mut v = config(1, 4);
    v["stsToken"] = json!(TOKEN);
    v["stsExpiration"] = json!(1_900_000_000);
    v["extensionParams"] = json!({"sse": "kms", "tag": "rec"});
    let s = parse(&v).unwrap();
    assert_eq!(s.target, AgoraTarget::Vendor(Vendor::S3));
    let region = s.region.as_ref().unwrap();
    assert_eq!(region.region.id, "eu-west-1");
    assert_eq!(region.label, "EU_WEST_1");
    assert_eq!(s.prefix, "directory1/directory2/");
    assert_eq!(s.url.scheme, Scheme::S3);
    assert_eq!(s.url.to_string(), "s3://recordings/directory1/directory2/");
    assert_eq!(s.credentials.access_key_id, "AKIDEXAMPLE");
    assert_eq!(s.credentials.secret_access_key(), SECRET);
    assert_eq!(s.credentials.session_token(), Some(TOKEN));
    assert_eq!(s.sts_expiration, Some(1_900_000_000));
    assert_eq!(s.sse.as_deref(), Some("kms"));
    let debug = format!("{s:?}");
    assert!(!debug.contains(SECRET) && !debug.contains(TOKEN), "{debug}");
}

#[test]
fn each_vendor_gets_its_scheme() {
    for (vendor, region, scheme, id) in [
        (0, 1, Scheme::Kodo, "z1"),
        (2, 3, Scheme::Oss, "cn-beijing"),
        (3, 9, Scheme::Cos, "ap-hongkong"),
    ] {
        let s = parse(&config(vendor, region)).unwrap();
        assert_eq!(s.url.scheme, scheme);
        assert_eq!(s.region.unwrap().region.id, id);
    }
}

#[test]
fn a_whole_start_request_is_accepted() {
    let body = json!({"cname": "c", "uid": "1", "clientRequest": {"token": "t", "storageConfig": config(2, 0)}});
    let s = parse(&body).unwrap();
    assert_eq!(s.region.unwrap().region.id, "cn-hangzhou");
    let wrapped = json!({"storageConfig": config(3, 2)});
    assert_eq!(
        parse(&wrapped).unwrap().region.unwrap().region.id,
        "ap-shanghai"
    );
}

#[test]
fn s3_compatible_vendor_needs_its_endpoint() {
    let mut v = config(11, 0);
    rejects(&v, &["vendor 11", "extensionParams.endpoint"]);
    v["extensionParams"] = json!({"endpoint": "https://s3.example.com"});
    let s = parse(&v).unwrap();
    assert_eq!(s.target, AgoraTarget::S3Compatible);
    assert!(s.region.is_none(), "region is ignored for vendor 11");
    assert_eq!(s.endpoint.as_deref(), Some("https://s3.example.com"));
    assert_eq!(s.url.scheme, Scheme::S3);
    v["extensionParams"] = json!({"endpoint": "s3.example.com"});
    rejects(&v, &["not a URL", "https://s3.example.com"]);
}

#[test]
fn unknown_vendor_code_is_a_clear_error() {
    rejects(
        &config(9, 0),
        &["unknown Agora vendor code 9", "1 Amazon S3"],
    );
}

#[test]
fn google_cloud_with_hmac_keys_is_an_s3_url_with_the_gcs_preset() {
    let s = parse(&config(6, 0)).unwrap();
    assert_eq!(s.target, AgoraTarget::Gcs);
    assert_eq!(s.url.scheme, Scheme::S3);
    assert_eq!(s.url.to_string(), "s3://recordings/directory1/directory2/");
    assert_eq!(s.s3_preset(), Some(Vendor::Gcs));
    assert!(s.region.is_none());
    assert!(s.gcs_api().unwrap().contains("XML API"));
    assert!(!format!("{s:?}").contains(SECRET));
}

#[test]
fn google_cloud_with_a_service_account_key_is_a_gs_url() {
    let mut v = config(6, 0);
    v["secretKey"] = json!(r#"{"type":"service_account","private_key":"k"}"#);
    let s = parse(&v).unwrap();
    assert_eq!(s.url.scheme, Scheme::Gcs);
    assert_eq!(s.url.bucket, s.bucket);
    assert_eq!(s.s3_preset(), None);
    assert!(s.gcs_api().unwrap().contains("JSON API"));
    let file = tempfile::NamedTempFile::new().unwrap();
    v["secretKey"] = json!(file.path().to_str().unwrap());
    assert_eq!(parse(&v).unwrap().url.scheme, Scheme::Gcs);
    assert_eq!(parse(&config(1, 0)).unwrap().gcs_api(), None);
}

#[test]
fn huawei_baidu_and_kingsoft_are_s3_urls_with_their_preset() {
    for (vendor, region, preset, id) in [
        (7, 1, Vendor::Obs, "cn-north-4"),
        (8, 3, Vendor::Bos, "gz"),
        (4, 8, Vendor::Ks3, "rus"),
    ] {
        let s = parse(&config(vendor, region)).unwrap();
        assert_eq!(s.target, AgoraTarget::Vendor(preset));
        assert_eq!(s.s3_preset(), Some(preset));
        assert_eq!(s.url.scheme, Scheme::S3);
        assert_eq!(s.region.as_ref().unwrap().region.id, id);
    }
    assert_eq!(parse(&config(1, 0)).unwrap().s3_preset(), None);
    rejects(&config(4, 2), &["cannot be mapped", "Qingdao"]);
    let mut sts = config(7, 0);
    sts["stsToken"] = json!("tok");
    rejects(&sts, &["only accepted for vendors 1, 2 and 3"]);
}

#[test]
fn azure_is_the_container_of_the_accesskey_account() {
    let mut v = config(5, 0);
    v["bucket"] = json!("recordings");
    let s = parse(&v).unwrap();
    assert_eq!(s.target, AgoraTarget::Azure);
    assert!(s.region.is_none(), "Azure's region code is ignored");
    assert_eq!(s.url.scheme, Scheme::Azure);
    assert_eq!(s.url.bucket, "recordings");
    assert!(
        s.url.to_string().starts_with("az://recordings/"),
        "{}",
        s.url
    );
    assert_eq!(
        s.credentials.access_key_id,
        v["accessKey"].as_str().unwrap()
    );
    v["extensionParams"] = json!({"endpoint": "https://acct.blob.core.windows.net"});
    rejects(&v, &["vendor 11"]);
}

#[test]
fn region_code_out_of_range_and_unknown_codes() {
    rejects(
        &config(1, 40),
        &["region code 40 is not in the Amazon S3 table"],
    );
    rejects(&config(3, 20), &["region code 20", "Tencent"]);
    rejects(&config(0, 5), &["region code 5", "Qiniu"]);
    rejects(&config(1, 17), &["cannot be mapped", "US_GOV_WEST_1"]);
    rejects(&config(2, 26), &["cannot be mapped", "UNVERIFIED"]);
}

#[test]
fn prefix_with_underscore_or_slash_is_rejected() {
    let mut v = config(1, 0);
    v["fileNamePrefix"] = json!(["my_dir"]);
    rejects(&v, &["fileNamePrefix[0]", "`_`", "a-z, A-Z and digits"]);
    v["fileNamePrefix"] = json!(["ok", "a/b"]);
    rejects(&v, &["fileNamePrefix[1]", "`/`", "separate elements"]);
    v["fileNamePrefix"] = json!(["ok", ""]);
    rejects(&v, &["fileNamePrefix[1] is empty"]);
    v["fileNamePrefix"] = json!("directory1/directory2");
    rejects(&v, &["must be an array of strings"]);
}

#[test]
fn prefix_length_limit_counts_the_slashes() {
    let mut v = config(1, 0);
    v["fileNamePrefix"] = json!(["a".repeat(128)]);
    assert_eq!(
        parse(&v).unwrap().prefix.len(),
        129,
        "128 characters and the final /"
    );
    v["fileNamePrefix"] = json!(["a".repeat(129)]);
    rejects(&v, &["129 characters", "at most 128"]);
    // 64 + "/" + 64 = 129.
    v["fileNamePrefix"] = json!(["a".repeat(64), "b".repeat(64)]);
    rejects(&v, &["129 characters"]);
    v["fileNamePrefix"] = json!(["a".repeat(64), "b".repeat(63)]);
    assert!(parse(&v).is_ok());
}

#[test]
fn missing_keys_are_named() {
    for key in ["vendor", "region", "bucket", "accessKey", "secretKey"] {
        let mut v = config(1, 0);
        v.as_object_mut().unwrap().remove(key);
        rejects(&v, &[&format!("storageConfig.{key} is missing")]);
    }
    let mut v = config(1, 0);
    v["secretKey"] = json!("");
    rejects(&v, &["storageConfig.secretKey is empty"]);
    v["secretKey"] = json!(12);
    rejects(&v, &["storageConfig.secretKey must be a string"]);
    v["vendor"] = json!("one");
    rejects(&v, &["storageConfig.vendor must be a whole number"]);
}

#[test]
fn vendor_specific_fields_are_checked() {
    let mut v = config(0, 0);
    v["stsToken"] = json!(TOKEN);
    rejects(&v, &["stsToken is only accepted for vendors 1, 2 and 3"]);
    let mut v = config(2, 0);
    v["extensionParams"] = json!({"sse": "kms"});
    rejects(&v, &["sse applies to Amazon S3"]);
    let mut v = config(1, 0);
    v["extensionParams"] = json!({"sse": "des"});
    rejects(&v, &["`kms` or `aes256`"]);
    let mut v = config(3, 0);
    v["extensionParams"] = json!({"tag": "x"});
    rejects(&v, &["tag applies to Amazon S3 and Alibaba OSS only"]);
}

#[test]
fn not_json_is_a_clear_error() {
    let e = AgoraStorage::from_json("{vendor: 1").unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("not valid JSON"), "{e}");
    let e = AgoraStorage::from_json("[1,2]").unwrap_err();
    assert!(e.to_string().contains("must be a JSON object"), "{e}");
}
