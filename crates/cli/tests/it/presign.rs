//! `stowage presign URL` and `stowage verify --playback-signed` on every store with signed
//! download URLs: S3 (the in-process s3s server, which checks SigV4 query signatures), OSS
//! and COS (the emulators, which check the vendors' query signatures), Kodo (its emulator),
//! and the local store, which has none. Each URL printed is fetched with a plain HTTP
//! client, without credentials.

use std::path::Path;
use std::process::Output;

use crate::common::stowage_env;
use serde_json::Value;
use stowage_testkit::cos::CosEmulator;
use stowage_testkit::kodo::KodoEmulator;
use stowage_testkit::oss::OssEmulator;
use stowage_testkit::s3s_server::S3sServer;

/// Every variable of the outer environment that could name a key, region or endpoint.
const VENDOR_VARS: &[&str] = &[
    "OSS_ACCESS_KEY_ID",
    "OSS_ACCESS_KEY_SECRET",
    "OSS_SESSION_TOKEN",
    "OSS_REGION",
    "OSS_ENDPOINT",
    "OSS_SIGNATURE_VERSION",
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_SESSION_TOKEN",
    "COS_SECRET_ID",
    "COS_SECRET_KEY",
    "COS_SESSION_TOKEN",
    "COS_REGION",
    "COS_ENDPOINT",
    "QINIU_ACCESS_KEY",
    "QINIU_SECRET_KEY",
];

/// How to reach one server: `--endpoint`, `--region`, `--access-key`, `--secret-key`.
struct Flags(Vec<String>);

impl Flags {
    fn new(endpoint: &str, region: &str, access_key: &str, secret_key: &str) -> Flags {
        Flags(
            [
                "--endpoint",
                endpoint,
                "--region",
                region,
                "--access-key",
                access_key,
                "--secret-key",
                secret_key,
            ]
            .map(str::to_string)
            .to_vec(),
        )
    }

    fn s3(server: &S3sServer) -> Flags {
        Flags::new(
            server.endpoint(),
            "us-east-1",
            server.access_key(),
            server.secret_key(),
        )
    }

    fn oss(server: &OssEmulator) -> Flags {
        Flags::new(
            server.endpoint(),
            server.region(),
            server.access_key(),
            server.secret_key(),
        )
    }

    fn cos(server: &CosEmulator) -> Flags {
        Flags::new(
            server.endpoint(),
            server.region(),
            server.access_key(),
            server.secret_key(),
        )
    }

    /// Runs `stowage args… flags…` with the vendors' variables cleared.
    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(self.0.iter().map(String::as_str));
        let cleared: Vec<(&str, &str)> = VENDOR_VARS.iter().map(|v| (*v, "")).collect();
        stowage_env(&all, &cleared)
    }
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "stowage failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// GET without credentials: (status, body).
fn fetch(url: &str) -> (u16, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let reply = reqwest::get(url).await.expect("GET the signed URL");
        let status = reply.status().as_u16();
        (status, reply.bytes().await.expect("body").to_vec())
    })
}

fn sample_recording() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/recording"
    ))
}

const PLAYLIST: &str = "38f8e3cfdc474cd56fc1ceba380d7e1a_demo-channel.m3u8";

fn playlist_bytes() -> Vec<u8> {
    std::fs::read(sample_recording().join(PLAYLIST)).unwrap()
}

/// `stowage upload` of the sample recording into `dest` (a copy of the spool, since the
/// upload journals into it).
fn upload(flags: &Flags, dest: &str) {
    let spool = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample_recording()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, spool.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    ok(flags.run(&["upload", spool.path().to_str().unwrap(), dest]));
}

/// The printed URL serves the object; `--json` gives the same kind of URL with its lifetime.
fn presign_fetches(flags: &Flags, object: &str, secret: &str) {
    let url = ok(flags.run(&["presign", object, "--expires", "2h"]));
    let url = url.trim();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.contains(secret), "the secret is in the URL");
    assert_eq!(fetch(url), (200, playlist_bytes()), "{url}");

    let json: Value = serde_json::from_str(&ok(flags.run(&["presign", object, "--json"]))).unwrap();
    assert_eq!(json["expires_in"], 3600, "the default is an hour");
    assert_eq!(json["key"], format!("live/{PLAYLIST}"));
    assert_eq!(fetch(json["url"].as_str().unwrap()).0, 200);
}

#[test]
fn presign_s3_object() {
    let server = S3sServer::shared();
    server.create_bucket("cli-presign").unwrap();
    let flags = Flags::s3(server);
    upload(&flags, "s3://cli-presign/live");
    let object = format!("s3://cli-presign/live/{PLAYLIST}");
    presign_fetches(&flags, &object, server.secret_key());

    let o = flags.run(&["presign", &object, "--expires", "8d"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("7 days") && err.contains("s3://cli-presign"),
        "{err}"
    );

    let o = flags.run(&["presign", "s3://cli-presign/live/"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("names no object"),
        "{err}"
    );
}

#[test]
fn presign_oss_and_cos_objects() {
    let oss = OssEmulator::shared();
    oss.create_bucket("cli-presign");
    let flags = Flags::oss(oss);
    upload(&flags, "oss://cli-presign/live");
    presign_fetches(
        &flags,
        &format!("oss://cli-presign/live/{PLAYLIST}"),
        oss.secret_key(),
    );

    let cos = CosEmulator::shared();
    cos.create_bucket("cli-presign-1250000000");
    let flags = Flags::cos(cos);
    upload(&flags, "cos://cli-presign-1250000000/live");
    presign_fetches(
        &flags,
        &format!("cos://cli-presign-1250000000/live/{PLAYLIST}"),
        cos.secret_key(),
    );
}

#[test]
fn presign_kodo_object_is_its_private_url() {
    let emu = KodoEmulator::start().unwrap();
    emu.create_bucket("rec", "z0");
    let env = [
        ("QINIU_ACCESS_KEY", emu.access_key()),
        ("QINIU_SECRET_KEY", emu.secret_key()),
    ];
    let with_endpoint = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--endpoint", emu.endpoint()]);
        stowage_env(&all, &env)
    };
    let playlist = sample_recording().join(PLAYLIST);
    ok(with_endpoint(&[
        "cp",
        playlist.to_str().unwrap(),
        "kodo://rec/live/a.m3u8",
    ]));
    let url = ok(with_endpoint(&[
        "presign",
        "kodo://rec/live/a.m3u8",
        "--expires",
        "10m",
    ]));
    let url = url.trim();
    assert!(url.contains("e=") && url.contains("token="), "{url}");
    assert!(!url.contains(emu.secret_key()));
    assert_eq!(fetch(url), (200, playlist_bytes()), "{url}");
}

#[test]
fn presign_of_a_local_file_says_what_has_signed_urls() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.m3u8");
    std::fs::write(&file, "#EXTM3U\n").unwrap();
    let o = stowage_env(&["presign", file.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("S3, OSS, COS, Kodo and Azure"), "{err}");
}

/// Uploaded with `stowage upload`, then played through signed URLs: complete once the
/// bucket has a CORS rule for web players; without it, the playback problem is named.
fn verify_plays_through_signed_urls(flags: &Flags, bucket_url: &str, set_cors: &dyn Fn(bool)) {
    upload(flags, bucket_url);
    set_cors(true);
    let played = ok(flags.run(&["verify", bucket_url, "--playback-signed"]));
    assert!(
        played.contains("complete: 4 of 4 objects intact"),
        "{played}"
    );

    set_cors(false);
    let o = flags.run(&["verify", bucket_url, "--playback-signed"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("Access-Control-Allow-Origin is absent"),
        "{out}"
    );
}

#[test]
fn verify_playback_signed_on_s3() {
    let server = S3sServer::start().unwrap();
    server.create_bucket("rec").unwrap();
    let flags = Flags::s3(&server);
    verify_plays_through_signed_urls(&flags, "s3://rec/live", &|on| {
        server.set_cors_allow_any_origin(on)
    });
}

#[test]
fn verify_playback_signed_on_oss() {
    let server = OssEmulator::start().unwrap();
    server.create_bucket("rec");
    let flags = Flags::oss(&server);
    verify_plays_through_signed_urls(&flags, "oss://rec/live", &|on| {
        server.set_cors_allow_any_origin(on)
    });
}

#[test]
fn verify_playback_signed_on_cos() {
    let server = CosEmulator::start().unwrap();
    server.create_bucket("rec-1250000000");
    let flags = Flags::cos(&server);
    verify_plays_through_signed_urls(&flags, "cos://rec-1250000000/live", &|on| {
        server.set_cors_allow_any_origin(on)
    });
}

/// A local directory has no signed URLs: the error names the way that works.
#[test]
fn verify_playback_signed_on_a_directory_names_playback_base() {
    let bucket = tempfile::tempdir().unwrap();
    let dest = format!("file://{}", bucket.path().display());
    let spool = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample_recording()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, spool.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    ok(stowage_env(
        &[
            "upload",
            spool.path().to_str().unwrap(),
            &dest,
            "--prefix",
            "live",
        ],
        &[],
    ));
    let o = stowage_env(
        &["verify", &dest, "--prefix", "live", "--playback-signed"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--playback-signed needs signed download URLs")
            && err.contains("--playback-base"),
        "{err}"
    );
}
