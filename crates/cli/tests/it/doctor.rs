//! `stowage doctor` on good and broken buckets: fs, the S3 servers and the vendor emulators.

use std::process::Output;

use serde_json::Value;
use stowage_testkit::moto::{self, MotoServer};
use stowage_testkit::s3s_server::S3sServer;

use crate::common::{stderr, stdout, stowage_env};

fn stowage(args: &[&str]) -> Output {
    stowage_env(args, &[])
}

/// `stowage doctor --json` against `endpoint`; returns the exit code and each check's verdict
/// and detail.
fn doctor(url: &str, extra: &[&str]) -> (Option<i32>, Vec<(String, String, String)>) {
    let mut args = vec![url];
    args.extend_from_slice(extra);
    doctor_args(&args)
}

fn doctor_args(extra: &[&str]) -> (Option<i32>, Vec<(String, String, String)>) {
    let mut args = vec!["doctor", "--json", "--probe-mib", "1"];
    args.extend_from_slice(extra);
    let o = stowage(&args);
    let doc: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    let checks = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (
                s("check"),
                s("verdict"),
                format!("{} {}", s("detail"), s("fix")),
            )
        })
        .collect();
    (o.status.code(), checks)
}

fn verdict_of<'a>(checks: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    checks
        .iter()
        .find(|c| c.0 == name)
        .map(|c| (c.1.as_str(), c.2.as_str()))
        .unwrap_or_else(|| panic!("no {name} check in {checks:?}"))
}

#[test]
fn doctor_passes_a_good_local_bucket_and_a_good_s3_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let (code, checks) = doctor(&url, &[]);
    assert_eq!(code, Some(0), "{checks:?}");
    for name in ["configuration", "access", "write", "latency", "throughput"] {
        assert_eq!(verdict_of(&checks, name).0, "pass", "{checks:?}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != ".stowage")
            .count(),
        0,
        "probe objects left behind"
    );

    let server = S3sServer::shared();
    server.create_bucket("doctor-good").unwrap();
    let (ak, sk) = (server.access_key(), server.secret_key());
    let creds = [
        "--endpoint",
        server.endpoint(),
        "--access-key",
        ak,
        "--secret-key",
        sk,
    ];
    let (code, checks) = doctor("s3://doctor-good/rec", &creds);
    assert_eq!(code, Some(0), "{checks:?}");
    assert_eq!(verdict_of(&checks, "clock").0, "pass", "{checks:?}");
    assert!(
        verdict_of(&checks, "write").1.contains("checksum"),
        "{checks:?}"
    );
}

#[test]
fn doctor_names_each_configuration_failure() {
    use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};
    let server = S3sServer::shared();
    server.create_bucket("doctor-bad").unwrap();
    let (ep, ak, sk) = (server.endpoint(), server.access_key(), server.secret_key());
    let run = |endpoint: &str, bucket: &str, ak: &str, sk: &str| {
        let creds = [
            "--endpoint",
            endpoint,
            "--access-key",
            ak,
            "--secret-key",
            sk,
        ];
        doctor(&format!("s3://{bucket}/rec"), &creds)
    };

    let (code, checks) = run(ep, "doctor-bad", "AKIDUNKNOWN", sk);
    assert_eq!(code, Some(1));
    let (v, text) = verdict_of(&checks, "access");
    assert_eq!(v, "fail");
    assert!(text.to_lowercase().contains("accesskey"), "{text}");

    let (code, checks) = run(ep, "doctor-bad", ak, "wrong-secret-value-1234");
    assert_eq!(code, Some(1));
    let (v, text) = verdict_of(&checks, "access");
    assert_eq!(v, "fail");
    assert!(text.to_lowercase().contains("secret"), "{text}");
    assert!(
        !text.contains("wrong-secret-value-1234"),
        "secret leaked: {text}"
    );

    let (code, checks) = run(ep, "doctor-no-such-bucket", ak, sk);
    assert_eq!(code, Some(1));
    let (v, text) = verdict_of(&checks, "access");
    assert_eq!(v, "fail");
    assert!(text.contains("bucket"), "{text}");

    let (code, checks) = run(ep, "Bad_Bucket", ak, sk);
    assert_eq!(code, Some(1));
    assert_eq!(verdict_of(&checks, "configuration").0, "fail");

    // Read-only credentials: listing works, the probe put is refused.
    let read_only = FaultRule::new(
        Match::request("PUT", "/doctor-bad/"),
        Fault::s3_error(403, "AccessDenied", "Access Denied"),
        Times::Always,
    );
    let proxy = FaultProxy::start(ep, vec![read_only]).unwrap();
    let (code, checks) = run(proxy.endpoint(), "doctor-bad", ak, sk);
    assert_eq!(code, Some(1));
    assert_eq!(verdict_of(&checks, "access").0, "pass");
    let (v, text) = verdict_of(&checks, "write");
    assert_eq!(v, "fail");
    assert!(text.to_lowercase().contains("permission"), "{text}");

    // An expired STS token.
    let expired = FaultRule::new(
        Match::Any,
        Fault::s3_error(400, "ExpiredToken", "The provided token has expired."),
        Times::Always,
    );
    let proxy = FaultProxy::start(ep, vec![expired]).unwrap();
    let (code, checks) = run(proxy.endpoint(), "doctor-bad", ak, sk);
    assert_eq!(code, Some(1));
    let (v, text) = verdict_of(&checks, "access");
    assert_eq!(v, "fail");
    assert!(text.to_lowercase().contains("token"), "{text}");

    // A server whose clock is an hour behind ours.
    let an_hour_ago = httpdate::fmt_http_date(
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    let skewed = FaultRule::new(
        Match::request("HEAD", "/"),
        Fault::Status {
            status: 200,
            body: String::new(),
            headers: vec![("date".into(), an_hour_ago)],
        },
        Times::First(1),
    );
    let proxy = FaultProxy::start(ep, vec![skewed]).unwrap();
    let (code, checks) = run(proxy.endpoint(), "doctor-bad", ak, sk);
    assert_eq!(code, Some(1));
    let (v, text) = verdict_of(&checks, "clock");
    assert_eq!(v, "fail");
    assert!(text.starts_with("local clock 360"), "{text}"); // 3600 s, ± the request's second
    assert!(text.contains("s ahead of the server"), "{text}");
}

#[test]
fn doctor_reads_agora_storage_config_and_checks_region_distance_and_token() {
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = format!("doctor-eu-{}", std::process::id());
    server.create_bucket_in(&bucket, "eu-west-1").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = |region: u32, extra: &str| {
        let path = dir.path().join(format!("storage-{region}.json"));
        let json = format!(
            r#"{{"vendor":1,"region":{region},"bucket":"{bucket}","accessKey":"{}","secretKey":"{}","fileNamePrefix":["rec","day1"]{extra}}}"#,
            moto::ACCESS_KEY,
            moto::SECRET_KEY
        );
        std::fs::write(&path, json).unwrap();
        path.to_string_lossy().into_owned()
    };
    let ep = server.endpoint();

    // Agora code 4 is EU_WEST_1: right region; the recorder in Singapore is far from it.
    let eu = config(4, "");
    let (code, checks) = doctor_agora(&eu, &["--endpoint", ep, "--from", "ap-southeast-1"]);
    assert_eq!(code, Some(0), "{checks:?}");
    let (v, text) = verdict_of(&checks, "agora config");
    assert_eq!(v, "pass");
    assert!(text.contains("prefix \"rec/day1/\""), "{text}");
    assert_eq!(
        verdict_of(&checks, "region"),
        ("pass", "the bucket is in eu-west-1 ")
    );
    let (v, text) = verdict_of(&checks, "distance");
    assert_eq!(v, "warn");
    assert!(text.contains("lost"), "the FAQ's warning: {text}");

    // Code 0 is US_EAST_1: the bucket is elsewhere.
    let us = config(0, "");
    let (code, checks) = doctor_agora(&us, &["--endpoint", ep]);
    assert_eq!(code, Some(1));
    let (v, text) = verdict_of(&checks, "region");
    assert_eq!(v, "fail");
    assert!(
        text.contains("the bucket is in eu-west-1, the configuration says us-east-1"),
        "{text}"
    );

    // An STS token that expired an hour ago.
    let expired = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
    let sts = config(
        4,
        &format!(r#","stsToken":"tok","stsExpiration":{expired}"#),
    );
    let (code, checks) = doctor_agora(&sts, &["--endpoint", ep]);
    assert_eq!(code, Some(1));
    let (v, text) = verdict_of(&checks, "sts token");
    assert_eq!(v, "fail");
    assert!(text.contains("expired"), "{text}");

    // An unknown Agora region code stops at the configuration.
    let bad = config(17, "");
    let (code, checks) = doctor_agora(&bad, &["--endpoint", ep]);
    assert_eq!(code, Some(1));
    assert_eq!(verdict_of(&checks, "agora config").0, "fail", "{checks:?}");
}

fn doctor_agora(path: &str, extra: &[&str]) -> (Option<i32>, Vec<(String, String, String)>) {
    let mut args = vec!["--agora", path];
    args.extend_from_slice(extra);
    doctor_args(&args)
}

/// The doctor on the vendor emulators: a good configuration passes every check it can run,
/// a wrong secret fails at access with the fix and without the secret, and the bucket's
/// region is discovered (OSS `GET /?location`, COS `HEAD /`, Kodo `uc`).
#[test]
fn doctor_on_the_oss_cos_and_kodo_emulators() {
    let oss = stowage_testkit::oss::OssEmulator::shared();
    oss.create_bucket("doctor-oss");
    let kodo = stowage_testkit::kodo::KodoEmulator::start().unwrap();
    kodo.create_bucket("doctor-kodo", "z2");
    let cos = stowage_testkit::cos::CosEmulator::shared();
    cos.create_bucket("doctor-1250000000");
    let cases = [
        (
            "oss://doctor-oss/rec",
            oss.endpoint(),
            oss.access_key(),
            oss.secret_key(),
            stowage_testkit::oss::DEFAULT_REGION,
        ),
        (
            "kodo://doctor-kodo/rec",
            kodo.endpoint(),
            kodo.access_key(),
            kodo.secret_key(),
            "z2",
        ),
        (
            "cos://doctor-1250000000/rec",
            cos.endpoint(),
            cos.access_key(),
            cos.secret_key(),
            stowage_testkit::cos::DEFAULT_REGION,
        ),
    ];
    for (url, ep, ak, sk, region) in cases {
        let run = |secret: &str| {
            let args = [
                "--endpoint",
                ep,
                "--region",
                region,
                "--access-key",
                ak,
                "--secret-key",
                secret,
            ];
            doctor(url, &args)
        };
        let (code, checks) = run(sk);
        assert_eq!(code, Some(0), "{url}: {checks:?}");
        for name in ["configuration", "access", "write", "latency", "throughput"] {
            assert_eq!(
                verdict_of(&checks, name).0,
                "pass",
                "{url} {name}: {checks:?}"
            );
        }
        assert_eq!(
            verdict_of(&checks, "region"),
            ("pass", format!("the bucket is in {region} ").as_str()),
            "{url}"
        );

        let wrong = "wrong-secret-value-5678";
        let (code, checks) = run(wrong);
        assert_eq!(code, Some(1), "{url}: {checks:?}");
        let (v, text) = verdict_of(&checks, "access");
        assert_eq!(v, "fail", "{url}: {checks:?}");
        assert!(text.to_lowercase().contains("secret"), "{url}: {text}");
        assert!(!text.contains(wrong), "{url}: secret leaked: {text}");
    }
}
