//! Huawei OBS, Baidu BOS, Kingsoft KS3 and GCS's XML API through their S3-compatible APIs
//! (`--s3-preset` and Agora vendors 7, 8, 4, and 6 with HMAC keys), on the s3s server behind the recording proxy: each preset's
//! addressing and the headers every upload carries (Content-MD5, no aws-chunked body, no
//! x-amz-checksum trailer, SigV4 for the preset's signing region), and the proof.

use stowage_testkit::proxy::{FaultProxy, Recorded};
use stowage_testkit::s3s_server::S3sServer;

use crate::common::{ok, stderr, stdout, stowage_env};

fn creds(server: &S3sServer) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", server.access_key().to_string()),
        ("AWS_SECRET_ACCESS_KEY", server.secret_key().to_string()),
    ]
}

fn run(server: &S3sServer, args: &[&str]) -> std::process::Output {
    let env = creds(server);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    stowage_env(args, &pairs)
}

/// What every upload request of a preset must look like: Content-MD5 sent, a plain body
/// (no aws-chunked encoding, no trailing checksum), signed for `region`.
fn assert_preset_headers(puts: &[&Recorded], region: &str) {
    assert!(!puts.is_empty(), "no upload went through the proxy");
    for r in puts {
        assert!(r.header("content-md5").is_some(), "no Content-MD5: {r:?}");
        let sha = r.header("x-amz-content-sha256").unwrap_or_default();
        assert!(!sha.starts_with("STREAMING-"), "a streaming payload: {r:?}");
        assert!(
            r.header("x-amz-trailer").is_none(),
            "a checksum trailer: {r:?}"
        );
        assert!(
            !r.header("content-encoding")
                .unwrap_or_default()
                .contains("aws-chunked"),
            "aws-chunked: {r:?}"
        );
        let auth = r.header("authorization").unwrap_or_default();
        assert!(
            auth.contains(&format!("/{region}/s3/aws4_request")),
            "signed for another region: {auth}"
        );
    }
}

#[test]
fn bos_preset_is_path_style_with_content_md5_and_its_region() {
    let server = S3sServer::shared();
    let bucket = format!("bos-preset-{}", std::process::id());
    server.create_bucket(&bucket).unwrap();
    let proxy = FaultProxy::start(server.endpoint(), vec![]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seg.ts");
    std::fs::write(&file, b"\x47 bos segment").unwrap();
    let dest = format!("s3://{bucket}/rec/seg.ts");
    ok(run(
        server,
        &[
            "cp",
            file.to_str().unwrap(),
            &dest,
            "--s3-preset",
            "bos",
            "--region",
            "gz",
            "--endpoint",
            proxy.endpoint(),
        ],
    ));
    let recorded = proxy.recorded();
    let puts: Vec<&Recorded> = recorded.iter().filter(|r| r.method == "PUT").collect();
    assert_preset_headers(&puts, "gz");
    for r in &puts {
        assert!(
            r.target.starts_with(&format!("/{bucket}/rec/seg.ts")),
            "path style: {r:?}"
        );
        assert_eq!(
            r.header("host"),
            Some(proxy.addr().to_string().as_str()),
            "{r:?}"
        );
    }
    let stat = ok(run(
        server,
        &[
            "stat",
            &dest,
            "--s3-preset",
            "bos",
            "--region",
            "gz",
            "--endpoint",
            proxy.endpoint(),
        ],
    ));
    assert!(stat.contains("size:          13"), "{stat}");
}

/// OBS and KS3 are virtual-hosted on their own hosts; against a local server only path
/// style reaches it (`--path-style`), and the rest of the quirks must hold as they are.
#[test]
fn obs_and_ks3_presets_keep_their_quirks_and_uploads_are_proven() {
    let server = S3sServer::shared();
    for (preset, region) in [("obs", "cn-north-4"), ("ks3", "cn-beijing")] {
        let bucket = format!("{preset}-preset-{}", std::process::id());
        server.create_bucket(&bucket).unwrap();
        let proxy = FaultProxy::start(server.endpoint(), vec![]).unwrap();
        let spool = crate::common::sample_recording();
        let dest = format!("s3://{bucket}/rec/");
        let flags = [
            "--s3-preset",
            preset,
            "--region",
            region,
            "--endpoint",
            proxy.endpoint(),
            "--path-style",
        ];
        let mut args = vec!["upload", spool.to_str().unwrap(), &dest];
        args.extend_from_slice(&flags);
        let o = run(server, &args);
        assert!(
            o.status.success(),
            "{preset}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        let recorded = proxy.recorded();
        let puts: Vec<&Recorded> = recorded.iter().filter(|r| r.method == "PUT").collect();
        assert_preset_headers(&puts, region);
        let mut args = vec!["verify", &dest];
        args.extend_from_slice(&flags);
        let o = run(server, &args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{preset}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("0 unproven"), "{}", stdout(&o));
    }
}

#[test]
fn doctor_names_agora_vendors_4_7_8_and_their_regions() {
    let server = S3sServer::shared();
    let dir = tempfile::tempdir().unwrap();
    for (vendor, region, name, label, id) in [
        (7, 1, "Huawei Cloud (OBS)", "CN_North_4", "cn-north-4"),
        (8, 3, "Baidu AI Cloud (BOS)", "Guangzhou", "gz"),
        (4, 3, "Kingsoft Cloud (KS3)", "CN_Beijing", "cn-beijing"),
    ] {
        let bucket = format!("agora-{vendor}-{}", std::process::id());
        server.create_bucket(&bucket).unwrap();
        let path = dir.path().join(format!("{vendor}.json"));
        let json = format!(
            r#"{{"vendor":{vendor},"region":{region},"bucket":"{bucket}","accessKey":"{}","secretKey":"{}","fileNamePrefix":["rec"]}}"#,
            server.access_key(),
            server.secret_key()
        );
        std::fs::write(&path, json).unwrap();
        let o = stowage_env(
            &[
                "doctor",
                "--json",
                "--probe-mib",
                "1",
                "--agora",
                path.to_str().unwrap(),
                "--endpoint",
                server.endpoint(),
                "--path-style",
                "--from",
                "europe",
            ],
            &[],
        );
        let doc: serde_json::Value = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
        let checks = doc["checks"].as_array().unwrap();
        let check = |n: &str| {
            checks
                .iter()
                .find(|c| c["check"] == n)
                .unwrap_or_else(|| panic!("no {n}: {doc}"))
        };
        let agora = check("agora config")["detail"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            agora.contains(&format!("vendor {vendor} ({name})")),
            "{agora}"
        );
        assert!(
            agora.contains(&format!("region {region} {label} → {id}")),
            "{agora}"
        );
        assert_eq!(check("write")["verdict"], "pass", "{doc}");
        // The uploader in Europe, the bucket in China or Asia: the FAQ's warning.
        assert_eq!(check("distance")["verdict"], "warn", "{doc}");
        assert!(
            !doc.to_string().contains(server.secret_key()),
            "the secret leaked"
        );
    }
}

/// GCS's XML API (`--s3-preset gcs`, for HMAC keys) is path style on its one endpoint, signs
/// for "auto", sends Content-MD5 and a plain body, and what it uploads verifies.
#[test]
fn gcs_preset_is_path_style_signed_for_auto_and_uploads_are_proven() {
    let server = S3sServer::shared();
    let bucket = format!("gcs-preset-{}", std::process::id());
    server.create_bucket(&bucket).unwrap();
    let proxy = FaultProxy::start(server.endpoint(), vec![]).unwrap();
    let spool = crate::common::sample_recording();
    let dest = format!("s3://{bucket}/rec/");
    let flags = ["--s3-preset", "gcs", "--endpoint", proxy.endpoint()];
    let mut args = vec!["upload", spool.to_str().unwrap(), &dest];
    args.extend_from_slice(&flags);
    let o = run(server, &args);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let recorded = proxy.recorded();
    let puts: Vec<&Recorded> = recorded.iter().filter(|r| r.method == "PUT").collect();
    assert_preset_headers(&puts, "auto");
    for r in &puts {
        let path_style = r.target.starts_with(&format!("/{bucket}/rec/"));
        assert!(path_style, "path style: {r:?}");
    }
    let mut args = vec!["verify", &dest];
    args.extend_from_slice(&flags);
    let o = run(server, &args);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("0 unproven"), "{}", stdout(&o));
}

/// Agora vendor 6 with HMAC keys: doctor and endpoints name the vendor and the XML API, and
/// the doctor's write probe goes through the gcs preset (here to s3s, by `--endpoint`).
#[test]
fn doctor_and_endpoints_name_agora_vendor_6_with_hmac_keys_and_the_xml_api() {
    let server = S3sServer::shared();
    let dir = tempfile::tempdir().unwrap();
    let bucket = format!("agora-6-{}", std::process::id());
    server.create_bucket(&bucket).unwrap();
    let path = dir.path().join("6.json");
    let json = format!(
        r#"{{"vendor":6,"region":0,"bucket":"{bucket}","accessKey":"{}","secretKey":"{}","fileNamePrefix":["rec"]}}"#,
        server.access_key(),
        server.secret_key()
    );
    std::fs::write(&path, json).unwrap();
    let config = path.to_str().unwrap();
    let o = stowage_env(
        &[
            "doctor",
            "--json",
            "--probe-mib",
            "1",
            "--agora",
            config,
            "--endpoint",
            server.endpoint(),
        ],
        &[],
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    let checks = doc["checks"].as_array().unwrap();
    let check = |n: &str| {
        checks
            .iter()
            .find(|c| c["check"] == n)
            .unwrap_or_else(|| panic!("no {n}: {doc}"))
    };
    let agora = check("agora config")["detail"].as_str().unwrap();
    assert!(agora.contains("vendor 6 (Google Cloud (GCS))"), "{agora}");
    assert!(
        agora.contains("XML API") && agora.contains("HMAC"),
        "{agora}"
    );
    assert_eq!(check("write")["verdict"], "pass", "{doc}");
    assert_eq!(check("distance")["verdict"], "skip", "{doc}");
    assert!(!doc.to_string().contains(server.secret_key()), "{doc}");
    let o = stowage_env(&["endpoints", "--agora", config], &[]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("vendor 6 (Google Cloud (GCS))"), "{err}");
    assert!(err.contains("XML API") && err.contains("HMAC"), "{err}");
    assert!(!err.contains(server.secret_key()), "{err}");
}
