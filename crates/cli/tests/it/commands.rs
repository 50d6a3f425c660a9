//! The `stowage` binary end to end: local buckets, the in-process S3 server, moto, and
//! the AWS CLI reading back what stowage uploaded.

use std::process::{Command, Output};

use serde_json::Value;
use stowage_testkit::moto::{self, MotoServer};
use stowage_testkit::s3s_server::S3sServer;

use crate::common::{files_in, ok, sample_recording, stderr, stdout, stowage_env};

fn stowage(args: &[&str]) -> Output {
    stowage_env(args, &[])
}

#[test]
fn checksum_json_prints_each_vendor_form() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("check.txt");
    std::fs::write(&f, b"123456789").unwrap();
    let out = ok(stowage(&["checksum", "--json", f.to_str().unwrap()]));
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["crc64ecma"], "11051210869376104954");
    assert_eq!(v["crc64nvme"], "rosUhgp5mIg=");
    assert_eq!(v["md5"], "25f9e794323b453885f5181f1b624d0b");
    assert_eq!(v["sha1"], "f7c3bc1d808e04732adf679965ccc34ca7ae3441");
    assert_eq!(
        v["sha256"],
        "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"
    );
    assert_eq!(v["qetag"].as_str().map(str::len), Some(28));
    assert_eq!(v["size"], 9);
    let one = ok(stowage(&[
        "checksum",
        "--algo",
        "crc64ecma",
        f.to_str().unwrap(),
    ]));
    assert!(one.starts_with("11051210869376104954  "), "{one}");
}

#[test]
fn checksum_of_a_missing_file_names_it() {
    let o = stowage(&["checksum", "/nonexistent/seg.ts"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent/seg.ts"), "{}", stderr(&o));
}

#[test]
fn recording_round_trip_through_a_local_bucket() {
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}/rec", bucket.path().display());
    ok(stowage(&["cp", sample_recording().to_str().unwrap(), &url]));
    let listed: Value = serde_json::from_str(&ok(stowage(&["ls", "--json", &url]))).unwrap();
    let listed = listed.as_array().expect("array");
    let local = files_in(&sample_recording());
    assert_eq!(listed.len(), local.len());
    for (entry, (name, bytes)) in listed.iter().zip(&local) {
        assert_eq!(entry["key"], name.as_str());
        assert_eq!(entry["size"], bytes.len());
    }
    // stat returns the checksums the local store keeps, as `stowage checksum` computes them.
    let (name, _) = &local[0];
    let stat: Value =
        serde_json::from_str(&ok(stowage(&["stat", "--json", &format!("{url}/{name}")]))).unwrap();
    let src = sample_recording().join(name);
    let sums: Value =
        serde_json::from_str(ok(stowage(&["checksum", "--json", src.to_str().unwrap()])).trim())
            .unwrap();
    // The local store keeps both CRC-64s, of exactly these bytes, and no other digest.
    for algo in ["crc64ecma", "crc64nvme"] {
        assert!(stat["checksums"][algo].is_string(), "{stat}");
        assert_eq!(stat["checksums"][algo], sums[algo], "{algo}");
    }
    for algo in ["md5", "sha1", "sha256", "qetag"] {
        assert!(stat["checksums"][algo].is_null(), "{algo} kept: {stat}");
    }
    assert_eq!(
        stat["content_type"],
        if name.ends_with(".m3u8") {
            "application/vnd.apple.mpegurl"
        } else {
            "video/mp2t"
        }
    );
    // And back out again.
    let back = tempfile::tempdir().unwrap();
    ok(stowage(&[
        "cp",
        &format!("{url}/"),
        back.path().to_str().unwrap(),
    ]));
    assert_eq!(files_in(back.path()), local);
}

/// A local bucket is addressed like an S3 one: a URL below its root names a prefix, a
/// manifest or an object (its checksums included), not a new bucket.
#[test]
fn deep_local_urls_name_keys_inside_the_bucket() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    for (name, bytes) in files_in(&sample_recording()) {
        std::fs::write(spool.join(name), bytes).unwrap();
    }
    let bucket = tmp.path().join("bucket");
    let root_url = format!("file://{}", bucket.display());
    let spool_arg = spool.to_str().unwrap();
    ok(stowage(&[
        "upload", spool_arg, &root_url, "--prefix", "rec/demo",
    ]));
    let demo = format!("{root_url}/rec/demo");
    let manifest = format!("{demo}/stowage-manifest.json");
    for args in [
        vec!["verify", demo.as_str()],
        vec!["verify", &format!("{demo}/")],
        vec!["verify", manifest.as_str()],
        vec!["verify", root_url.as_str(), "--prefix", "rec/demo"],
    ] {
        let out = ok(stowage(&args));
        assert!(
            out.contains("complete: 4 of 4 objects intact"),
            "{args:?}: {out}"
        );
    }
    // A look-alike prefix beside it is not listed as part of the recording's directory.
    let stray = tmp.path().join("stray.json");
    std::fs::write(&stray, b"{}").unwrap();
    ok(stowage(&[
        "cp",
        stray.to_str().unwrap(),
        &format!("{root_url}/rec/demo2/x.json"),
    ]));
    assert!(
        !bucket.join("rec/demo2/.stowage").exists(),
        "a copy below the root goes into the bucket, not into a new one"
    );
    let stray_stat: Value = serde_json::from_str(&ok(stowage(&[
        "stat",
        "--json",
        &format!("{root_url}/rec/demo2/x.json"),
    ])))
    .unwrap();
    assert_eq!(stray_stat["key"], "rec/demo2/x.json");
    let listed: Value = serde_json::from_str(&ok(stowage(&["ls", "--json", &demo]))).unwrap();
    let keys: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("rec/demo/")), "{keys:?}");

    let (segment, bytes) = files_in(&spool)
        .into_iter()
        .find(|(n, _)| n.ends_with(".ts"))
        .unwrap();
    let stat: Value = serde_json::from_str(&ok(stowage(&[
        "stat",
        "--json",
        &format!("{demo}/{segment}"),
    ])))
    .unwrap();
    assert_eq!(stat["key"], format!("rec/demo/{segment}"));
    assert_eq!(stat["size"], bytes.len());
    assert!(
        stat["checksums"]["crc64nvme"].is_string(),
        "stored checksums found: {stat}"
    );

    std::fs::remove_file(bucket.join("rec/demo").join(&segment)).unwrap();
    let o = stowage(&["verify", &demo]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("missing   rec/demo/{segment}")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn round_trip_through_s3_with_flags() {
    let server = S3sServer::shared();
    server.create_bucket("cli-flags").unwrap();
    let creds = [
        "--endpoint",
        server.endpoint(),
        "--access-key",
        server.access_key(),
        "--secret-key",
        server.secret_key(),
    ];
    let sample = sample_recording();
    let mut args = vec!["cp", sample.to_str().unwrap(), "s3://cli-flags/rec/"];
    args.extend(creds);
    let report: Value = {
        let mut a = args.clone();
        a.push("--json");
        serde_json::from_str(&ok(stowage(&a))).unwrap()
    };
    assert_eq!(report["failed"], 0);
    assert_eq!(report["copied"], files_in(&sample_recording()).len());
    let mut ls = vec!["ls", "s3://cli-flags/rec/"];
    ls.extend(creds);
    let listing = ok(stowage(&ls));
    assert!(
        listing.contains("rec/38f8e3cfdc474cd56fc1ceba380d7e1a_demo-channel.m3u8"),
        "{listing}"
    );
    let back = tempfile::tempdir().unwrap();
    let mut cp_back = vec!["cp", "s3://cli-flags/rec/", back.path().to_str().unwrap()];
    cp_back.extend(creds);
    ok(stowage(&cp_back));
    assert_eq!(files_in(back.path()), files_in(&sample_recording()));
}

#[test]
fn wrong_secret_is_explained_without_the_secret() {
    let server = S3sServer::shared();
    server.create_bucket("cli-wrong").unwrap();
    let o = stowage(&[
        "ls",
        "s3://cli-wrong/",
        "--endpoint",
        server.endpoint(),
        "--access-key",
        server.access_key(),
        "--secret-key",
        "not-the-secret-xyz",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("signature mismatch") && err.contains("secretKey"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret-xyz"), "{err}");
}

#[test]
fn missing_credentials_say_where_to_put_them() {
    let server = S3sServer::shared();
    let o = stowage(&["ls", "s3://any-bucket/", "--endpoint", server.endpoint()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no credentials found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn credentials_come_from_the_environment() {
    let server = S3sServer::shared();
    server.create_bucket("cli-env").unwrap();
    let env = [
        ("AWS_ACCESS_KEY_ID", server.access_key()),
        ("AWS_SECRET_ACCESS_KEY", server.secret_key()),
        ("AWS_ENDPOINT_URL", server.endpoint()),
    ];
    let f = sample_recording().join("38f8e3cfdc474cd56fc1ceba380d7e1a_demo-channel.m3u8");
    ok(stowage_env(
        &["cp", f.to_str().unwrap(), "s3://cli-env/p.m3u8"],
        &env,
    ));
    let stat: Value = serde_json::from_str(&ok(stowage_env(
        &["stat", "--json", "s3://cli-env/p.m3u8"],
        &env,
    )))
    .unwrap();
    assert_eq!(stat["size"], std::fs::metadata(&f).unwrap().len());
    assert_eq!(stat["content_type"], "application/vnd.apple.mpegurl");
}

#[test]
fn bad_urls_and_missing_buckets_are_named() {
    let o = stowage(&["ls", "ftp://bucket/x"]);
    assert!(
        !o.status.success() && stderr(&o).contains("unknown storage URL scheme"),
        "{}",
        stderr(&o)
    );
    let o = stowage(&["ls", "/nonexistent/bucket/dir"]);
    assert!(
        !o.status.success() && stderr(&o).contains("bucket not found"),
        "{}",
        stderr(&o)
    );
    // COS bucket names end with the APPID; this is refused before any request.
    let o = stowage(&["ls", "cos://bucket/x"]);
    assert!(
        !o.status.success() && stderr(&o).contains("<name>-<APPID>"),
        "{}",
        stderr(&o)
    );
}

/// A region no table knows would only surface as a DNS failure on a made-up host: it is
/// named first, with the known regions and the way out (--endpoint).
#[test]
fn unknown_regions_are_named_before_any_request() {
    let keys = ["--access-key", "a", "--secret-key", "not-shown"];
    for (url, vendor, a_known_one) in [
        ("s3://b/x", "Amazon S3", "eu-central-1"),
        ("oss://b/x", "Aliyun OSS", "cn-hangzhou"),
        ("cos://b-1250000000/x", "Tencent COS", "ap-guangzhou"),
        ("kodo://b/x", "Qiniu Kodo", "z0"),
    ] {
        let mut args = vec!["ls", url, "--region", "mars-1"];
        args.extend(keys);
        let err = stderr(&stowage(&args));
        assert!(
            err.contains(&format!("unknown {vendor} region `mars-1`")),
            "{err}"
        );
        assert!(
            err.contains(a_known_one) && err.contains("--endpoint"),
            "{err}"
        );
        assert!(!err.contains("not-shown"), "{err}");
    }
    // Behind an endpoint of the user's own, any region name goes (a private cloud's).
    let o = stowage(&[
        "ls",
        "s3://b/x",
        "--region",
        "mars-1",
        "--endpoint",
        "http://127.0.0.1:1",
        "--access-key",
        "a",
        "--secret-key",
        "b",
    ]);
    assert!(
        !stderr(&o).contains("unknown Amazon S3 region"),
        "{}",
        stderr(&o)
    );
}

/// The AWS CLI (an independent client) downloads from moto exactly what stowage uploaded.
#[test]
fn aws_cli_reads_what_stowage_uploaded_to_moto() {
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let env = [
        ("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", moto::SECRET_KEY),
        ("AWS_REGION", moto::REGION),
        ("AWS_DEFAULT_REGION", moto::REGION),
    ];
    let aws = |args: &[&str]| {
        let o = Command::new("aws")
            .args(args)
            .args(["--endpoint-url", server.endpoint()])
            .envs(env.iter().copied())
            .output()
            .expect("the AWS CLI (`aws`) must be installed: scripts/test installs it");
        assert!(o.status.success(), "aws {args:?}: {}", stderr(&o));
    };
    aws(&["s3", "mb", "s3://cli-interop"]);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.mp4");
    let data = stowage_testkit::conformance::pseudo_random(70 << 20, 42); // multipart
    std::fs::write(&big, &data).unwrap();
    for src in [big.clone(), sample_recording()] {
        ok(stowage_env(
            &[
                "cp",
                src.to_str().unwrap(),
                "s3://cli-interop/up/",
                "--endpoint",
                server.endpoint(),
            ],
            &env,
        ));
    }
    let down = tempfile::tempdir().unwrap();
    aws(&[
        "s3",
        "cp",
        "--recursive",
        "s3://cli-interop/up/",
        down.path().to_str().unwrap(),
    ]);
    let got = std::fs::read(down.path().join("big.mp4")).unwrap();
    assert!(
        got == data,
        "aws s3 cp downloaded different bytes for the multipart object"
    );
    let mut expected = files_in(&sample_recording());
    expected.push(("big.mp4".into(), data));
    expected.sort();
    assert_eq!(files_in(down.path()), expected);
}

#[test]
fn playlist_validate_reports_rules_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let agora = dir.path().join("agora.m3u8");
    std::fs::write(&agora, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:5\n#EXTINF:6.332000\na_20190920125142485.ts\n#EXT-X-ENDLIST\n").unwrap();
    let o = stowage(&["playlist", "validate", "--json", agora.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let rules: Vec<&str> = v[0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"extinf-comma") && rules.contains(&"target-duration"),
        "{rules:?}"
    );
    let good = sample_recording().join("38f8e3cfdc474cd56fc1ceba380d7e1a_demo-channel.m3u8");
    let o = stowage(&["playlist", "validate", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stdout(&o));
    let broken = dir.path().join("broken.m3u8");
    std::fs::write(&broken, "#EXTM3U\n#EXTINF:x,\na.ts\n").unwrap();
    let o = stowage(&["playlist", "validate", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("broken.m3u8:2: error [parse] line 2: expected a decimal duration"),
        "{}",
        stdout(&o)
    );
    // Not UTF-8: the line and byte offset, and the rule, instead of "cannot read".
    let latin1 = dir.path().join("latin1.m3u8");
    std::fs::write(
        &latin1,
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,caf\xe9\na.ts\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    let o = stowage(&["playlist", "validate", latin1.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "latin1.m3u8:3: error [utf-8] not UTF-8 at line 3, byte offset 47 (byte 0xE9)"
        ) && stdout(&o).contains("RFC 8216 §4.1 requires playlists to be UTF-8"),
        "{}",
        stdout(&o)
    );
    let merged = dir.path().join("merged.m3u8");
    let o = stowage(&[
        "playlist",
        "merge",
        latin1.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not UTF-8 at line 3, byte offset 47"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn playlist_merge_writes_a_vod_playlist_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n{body}")).unwrap();
        p
    };
    let a = write(
        "sidA_c.m3u8",
        "#EXTINF:2.0,\nsidA_c_20261124100000000.ts\n#EXTINF:2.0,\nsidA_c_20261124100002000.ts\n",
    );
    let resend = write(
        "sidA_c_22194679897_0.m3u8",
        "#EXTINF:2.0,\nsidA_c_20261124100000000.ts\n",
    );
    let b = write("sidB_c.m3u8", "#EXTINF:2.0,\nsidB_c_20261124100100000.ts\n");
    let out = dir.path().join("merged.m3u8");
    let report: Value = serde_json::from_str(&ok(stowage(&[
        "playlist",
        "merge",
        "--json",
        b.to_str().unwrap(),
        resend.to_str().unwrap(),
        a.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])))
    .unwrap();
    assert_eq!(
        report["report"]["order"],
        serde_json::json!(["sidA_c.m3u8", "sidB_c.m3u8"])
    );
    assert_eq!(report["report"]["segments"], 3);
    assert_eq!(report["report"]["junctions"], 1);
    let merged = std::fs::read_to_string(&out).unwrap();
    assert!(
        merged.contains("#EXT-X-PLAYLIST-TYPE:VOD")
            && merged.contains(
                "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:01:00.000Z"
            ),
        "{merged}"
    );
    ok(stowage(&["playlist", "validate", out.to_str().unwrap()]));
}

#[test]
fn playlist_url_for_vendors_and_domains() {
    let u = ok(stowage(&[
        "playlist",
        "url",
        "--vendor",
        "oss",
        "--region",
        "cn-hangzhou",
        "--bucket",
        "rec",
        "a b/x.m3u8",
    ]));
    assert_eq!(
        u.trim(),
        "https://rec.oss-cn-hangzhou.aliyuncs.com/a%20b/x.m3u8"
    );
    let u = ok(stowage(&[
        "playlist",
        "url",
        "--domain",
        "cdn.example.com",
        "x.m3u8",
    ]));
    assert_eq!(u.trim(), "https://cdn.example.com/x.m3u8");
    let o = stowage(&[
        "playlist", "url", "--vendor", "kodo", "--region", "z0", "--bucket", "b", "x.m3u8",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("--domain"),
        "{}",
        stderr(&o)
    );
}

/// `kill -9` at 20 random moments of an upload (through a proxy that slows every request),
/// then one run to the end: every object arrives intact, once, and no multipart upload is
/// left behind.
#[test]
fn upload_survives_kill_nine_at_twenty_points() {
    use stowage_testkit::proxy::{Fault, FaultProxy, FaultRule, Match, Times};
    let server = S3sServer::shared();
    server.create_bucket("cli-kill").unwrap();
    let slow = FaultRule::new(
        Match::Any,
        Fault::Delay(std::time::Duration::from_millis(40)),
        Times::Always,
    );
    let proxy = FaultProxy::start(server.endpoint(), vec![slow]).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for i in 0..80 {
        let name = format!("sid_chan_20261124{:06}000.ts", 100000 + i * 2);
        let bytes = stowage_testkit::conformance::pseudo_random(96 << 10, i as u64 + 1);
        std::fs::write(spool.path().join(&name), &bytes).unwrap();
        expected.push((name, bytes));
    }
    let mut playlist = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    for (n, _) in &expected {
        playlist.push_str(&format!("#EXTINF:2.0,\n{n}\n"));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    expected.push(("sid_chan.m3u8".into(), playlist.clone().into_bytes()));
    expected.push((
        "sid_chan_0.mp4".into(),
        stowage_testkit::conformance::pseudo_random(30 << 20, 77),
    ));
    std::fs::write(spool.path().join("sid_chan.m3u8"), playlist).unwrap();
    std::fs::write(
        spool.path().join("sid_chan_0.mp4"),
        &expected.last().unwrap().1,
    )
    .unwrap();

    let args = [
        "upload",
        spool.path().to_str().unwrap(),
        "s3://cli-kill/rec",
        "--endpoint",
        proxy.endpoint(),
        "--access-key",
        server.access_key(),
        "--secret-key",
        server.secret_key(),
        "--multipart-threshold-mib",
        "8",
        "--part-size-mib",
        "5",
        "--part-concurrency",
        "2",
        "--concurrency",
        "2",
    ];
    let mut x: u64 = 0x5eed;
    let mut killed_mid_way = 0;
    for _ in 0..20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = Command::new(crate::common::stowage_bin())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50 + x % 450));
        if child.try_wait().unwrap().is_none() {
            killed_mid_way += 1;
        }
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
    }
    assert!(
        killed_mid_way >= 10,
        "only {killed_mid_way} of 20 kills hit a running upload"
    );
    ok(stowage(&args));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt
        .block_on(stowage_s3::S3Store::new(stowage_s3::S3Config {
            bucket: "cli-kill".into(),
            region: Some("us-east-1".into()),
            endpoint: Some(server.endpoint().into()),
            force_path_style: true,
            credentials: Some(stowage_core::Credentials::new(
                server.access_key(),
                server.secret_key(),
            )),
            profile: None,
            max_attempts: 3,
            integrity: Default::default(),
            ca_bundle: None,
        }))
        .unwrap();
    rt.block_on(async {
        use stowage_core::ObjectStore;
        let listed: Vec<String> = (&store as &dyn ObjectStore)
            .list_all("rec/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        let mut want: Vec<String> = expected.iter().map(|(n, _)| format!("rec/{n}")).collect();
        want.push("rec/stowage-manifest.json".into());
        want.sort();
        assert_eq!(listed, want);
        for (n, bytes) in &expected {
            let got = store
                .get(&format!("rec/{n}"), None)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert!(got[..] == bytes[..], "{n} differs after the kills");
        }
        assert!(
            store.list_multipart_uploads("").await.unwrap().is_empty(),
            "a multipart upload was left behind"
        );
    });
}

#[test]
fn verify_exit_codes_say_complete_incomplete_or_could_not_run() {
    let spool = tempfile::tempdir().unwrap();
    for (name, _) in files_in(&sample_recording()) {
        std::fs::copy(sample_recording().join(&name), spool.path().join(&name)).unwrap();
    }
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    ok(stowage(&[
        "upload",
        spool.path().to_str().unwrap(),
        &url,
        "--prefix",
        "rec",
    ]));
    let out = ok(stowage(&["verify", &url, "--prefix", "rec"]));
    assert!(out.contains("complete: 4 of 4 objects intact"), "{out}");
    let seg = "38f8e3cfdc474cd56fc1ceba380d7e1a_demo-channel_20261124153002000.ts";
    std::fs::remove_file(bucket.path().join("rec").join(seg)).unwrap();
    let o = stowage(&["verify", &url, "--prefix", "rec", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["problem"] == "missing" && p["key"] == format!("rec/{seg}")),
        "{report}"
    );
    let repaired = ok(stowage(&[
        "verify",
        &url,
        "--prefix",
        "rec",
        "--repair",
        "--from",
        spool.path().to_str().unwrap(),
    ]));
    assert!(
        repaired.contains("complete: 4 of 4 objects intact"),
        "{repaired}"
    );
    // Every byte read back, and the recording played through an HTTP endpoint like a browser.
    use stowage_testkit::http_static::{StaticOptions, StaticServer};
    let web = StaticServer::start(bucket.path(), StaticOptions::default()).unwrap();
    let base = web.url();
    let played = ok(stowage(&[
        "verify",
        &url,
        "--prefix",
        "rec",
        "--download",
        "--playback-base",
        &base,
    ]));
    assert!(
        played.contains("complete: 4 of 4 objects intact"),
        "{played}"
    );
    let no_cors = StaticOptions {
        cors: false,
        ..StaticOptions::default()
    };
    let web = StaticServer::start(bucket.path(), no_cors).unwrap();
    let base = web.url();
    let o = stowage(&["verify", &url, "--prefix", "rec", "--playback-base", &base]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("playback  rec/38f8e3cfdc474cd56fc1ceba380d7e1a_demo-channel.m3u8: Access-Control-Allow-Origin is absent"),
        "{}",
        stdout(&o)
    );
    let o = stowage(&["verify", "/nonexistent/bucket", "--prefix", "rec"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A prefix with no manifest says what else to verify against.
    let o = stowage(&["verify", &url, "--prefix", "no-such-recording"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no manifest at no-such-recording/stowage-manifest.json")
            && stderr(&o).contains("--agora FILE"),
        "{}",
        stderr(&o)
    );
    // An unreachable bucket is not called "no manifest".
    let o = stowage(&[
        "verify",
        "s3://b/rec",
        "--endpoint",
        "http://127.0.0.1:1",
        "--access-key",
        "a",
        "--secret-key",
        "b",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("reading the manifest") && !err.contains("no manifest"),
        "{err}"
    );
}

#[test]
fn verify_a_playlist_url_on_s3() {
    let server = S3sServer::shared();
    server.create_bucket("cli-verify").unwrap();
    let creds = [
        "--endpoint",
        server.endpoint(),
        "--access-key",
        server.access_key(),
        "--secret-key",
        server.secret_key(),
    ];
    let spool = tempfile::tempdir().unwrap();
    for (name, _) in files_in(&sample_recording()) {
        std::fs::copy(sample_recording().join(&name), spool.path().join(&name)).unwrap();
    }
    let mut up = vec![
        "upload",
        spool.path().to_str().unwrap(),
        "s3://cli-verify/rec",
    ];
    up.extend(creds);
    ok(stowage(&up));
    let mut v = vec![
        "verify",
        "s3://cli-verify/rec/38f8e3cfdc474cd56fc1ceba380d7e1a_demo-channel.m3u8",
    ];
    v.extend(creds);
    let out = ok(stowage(&v));
    // Only names and sizes are known from a playlist: complete, content unproven, and why.
    assert!(
        out.contains("complete: 0 of 4 objects intact")
            && out.contains("1 playlist, 6.000 s of media; 0 problems, 0 warnings, 4 unproven"),
        "{out}"
    );
    assert!(out.contains("unproven  3 objects ("), "{out}");
    // With the spool: the playlist's URL is that playlist, the recording its directory.
    let mut with_dir = v.clone();
    with_dir.extend(["--dir", spool.path().to_str().unwrap()]);
    let out = ok(stowage(&with_dir));
    assert!(out.contains("complete: 4 of 4 objects intact"), "{out}");
    let mut whole = vec!["verify", "s3://cli-verify/rec", "--json"];
    whole.extend(creds);
    let report: Value = serde_json::from_str(&ok(stowage(&whole))).unwrap();
    assert_eq!(
        (report["checked"].as_u64(), report["intact"].as_u64()),
        (Some(4), Some(4)),
        "{report}"
    );
    assert!(
        report["requests"].as_u64().unwrap() <= 3,
        "ETags in the listing prove the content: {report}"
    );
}
