//! `stowage endpoints` end to end: tables, Agora storageConfig files, the latency probe
//! against a local endpoint, and bucket-region discovery against moto.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;

use serde_json::Value;
use stowage_testkit::moto::{self, MotoServer};

use crate::common::{fails, ok, stowage_env};

fn stowage(args: &[&str], env: &[(&str, &str)]) -> Output {
    stowage_env(args, env)
}

fn json(o: Output) -> Value {
    serde_json::from_str(&ok(o)).expect("JSON output")
}

fn write_config(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn cross_region_prints_the_warning_and_the_fix() {
    let out = ok(stowage(
        &[
            "endpoints",
            "--vendor",
            "oss",
            "--region",
            "cn-beijing",
            "--from",
            "us-east-1",
        ],
        &[],
    ));
    assert!(
        out.contains("1. public       https://oss-cn-beijing.aliyuncs.com"),
        "{out}"
    );
    assert!(out.contains("warning: cross-region upload"), "{out}");
    assert!(out.contains("files not uploaded by then are lost"), "{out}");
    assert!(
        out.contains("Fix: create the bucket in a region near the uploader"),
        "{out}"
    );
    assert!(out.contains("api-cn-north-1.agora.io"), "{out}");
}

#[test]
fn co_located_json_lists_internal_first() {
    let v = json(stowage(
        &[
            "endpoints",
            "--vendor",
            "cos",
            "--region",
            "ap-guangzhou",
            "--from",
            "ap-guangzhou",
            "--bucket",
            "examplebucket-1250000000",
            "--json",
        ],
        &[],
    ));
    let kinds: Vec<&str> = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["internal", "public", "fallback"]);
    assert_eq!(v["distance"], "same-region");
    assert_eq!(
        v["agora_rest"]["domains"][0], "api.sd-rtn.com",
        "caller in mainland China"
    );
    assert_eq!(
        v["s3_compatible"]["settings"]["endpoint"],
        "https://cos.ap-guangzhou.myqcloud.com"
    );
}

#[test]
fn unknown_region_and_vendor_are_clear_errors() {
    let err = fails(stowage(
        &["endpoints", "--vendor", "oss", "--region", "mars-1"],
        &[],
    ));
    assert!(
        err.contains("unknown Aliyun OSS region `mars-1`") && err.contains("cn-hangzhou"),
        "{err}"
    );
    let err = fails(stowage(
        &["endpoints", "--vendor", "azure", "--region", "x"],
        &[],
    ));
    assert!(err.contains("unknown vendor `azure`"), "{err}");
}

#[test]
fn agora_storage_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(
        &dir,
        "good.json",
        r#"{"vendor":2,"region":3,"bucket":"rec","accessKey":"AK","secretKey":"TOPSECRET","fileNamePrefix":["app","day1"]}"#,
    );
    let out = ok(stowage(
        &["endpoints", "--agora", &good, "--from", "europe"],
        &[],
    ));
    assert!(
        out.contains("region code 3 = CN_Beijing → cn-beijing"),
        "{out}"
    );
    assert!(out.contains("recording URL: oss://rec/app/day1/"), "{out}");
    assert!(
        out.contains("https://rec.oss-cn-beijing.aliyuncs.com"),
        "{out}"
    );
    assert!(!out.contains("TOPSECRET"));
    let v = json(stowage(&["endpoints", "--agora", &good, "--json"], &[]));
    assert_eq!(v["agora"]["region_label"], "CN_Beijing");
    assert_eq!(v["region"]["id"], "cn-beijing");
    assert!(!v.to_string().contains("TOPSECRET"));
}

#[test]
fn agora_bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"vendor":9,"region":0,"bucket":"b","accessKey":"a","secretKey":"TOPSECRET"}"#,
            "unknown Agora vendor code 9",
        ),
        (
            r#"{"vendor":1,"region":30,"bucket":"b","accessKey":"a","secretKey":"TOPSECRET"}"#,
            "region code 30 is not in the Amazon S3 table",
        ),
        (
            r#"{"vendor":1,"region":0,"bucket":"b","accessKey":"a"}"#,
            "storageConfig.secretKey is missing",
        ),
        (
            r#"{"vendor":1,"region":0,"bucket":"b","accessKey":"a","secretKey":"TOPSECRET","fileNamePrefix":["a_b"]}"#,
            "contains `_`",
        ),
        (
            r#"{"vendor":6,"region":0,"bucket":"b","accessKey":"a","secretKey":"TOPSECRET"}"#,
            "Google Cloud Storage has no regional endpoints",
        ),
    ];
    for (i, (body, needle)) in cases.iter().enumerate() {
        let path = write_config(&dir, &format!("bad{i}.json"), body);
        let err = fails(stowage(&["endpoints", "--agora", &path], &[]));
        assert!(err.contains(needle), "{needle} not in: {err}");
        assert!(err.contains("Fix:"), "{err}");
        assert!(!err.contains("TOPSECRET"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A local HTTP endpoint answering every request with 200, on its own thread.
fn local_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = sock.read(&mut buf);
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    url
}

#[test]
fn probe_orders_a_live_local_endpoint_first() {
    let local = local_endpoint();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let v = json(stowage(
        &[
            "endpoints",
            "--vendor",
            "s3",
            "--region",
            "eu-west-1",
            "--endpoint",
            &dead,
            "--endpoint",
            &local,
            "--probe",
            "--probe-timeout-ms",
            "2000",
            "--json",
        ],
        &[],
    ));
    let endpoints = v["endpoints"].as_array().unwrap();
    assert_eq!(endpoints[0]["url"], local.as_str());
    assert_eq!(endpoints[0]["kind"], "custom");
    assert_eq!(endpoints[0]["probe"]["state"], "alive");
    let dead_entry = endpoints
        .iter()
        .find(|e| e["url"] == dead.as_str())
        .unwrap();
    assert_eq!(dead_entry["probe"]["state"], "dead");
}

/// Creates `bucket` in `region` on moto (which does not check signatures) with a raw PUT.
#[test]
fn discover_asks_the_bucket_for_its_region() {
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = format!("discover-{}", std::process::id());
    server.create_bucket_in(&bucket, "ap-northeast-1").unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", server.endpoint()),
        ("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", moto::SECRET_KEY),
    ];
    let url = format!("s3://{bucket}");
    let v = json(stowage(
        &[
            "endpoints",
            "--discover",
            &url,
            "--from",
            "europe",
            "--json",
        ],
        &env,
    ));
    assert_eq!(v["region"]["id"], "ap-northeast-1");
    assert_eq!(v["cross_region"], true);
    let err = fails(stowage(
        &["endpoints", "--discover", "s3://no-such-bucket-here"],
        &env,
    ));
    assert!(err.contains("bucket not found"), "{err}");
}

#[test]
fn list_prints_the_vendor_table() {
    let out = ok(stowage(&["endpoints", "--vendor", "kodo", "--list"], &[]));
    assert!(
        out.contains("z0") && out.contains("up-z0.qiniup.com"),
        "{out}"
    );
    assert!(out.contains("(no native host known)"), "Hanoi: {out}");
    let v = json(stowage(
        &["endpoints", "--vendor", "s3", "--list", "--json"],
        &[],
    ));
    let regions = v["regions"].as_array().unwrap();
    let cn = regions.iter().find(|r| r["id"] == "cn-north-1").unwrap();
    assert_eq!(cn["endpoints"]["public"], "s3.cn-north-1.amazonaws.com.cn");
}
