//! `stowage verify` on real recorder output (tests/corpus/, sources in its README): each
//! shape put in a bucket by an independent client (aws-cli to moto and to the in-process S3
//! server, Tencent's Python SDK to the COS emulator), verified complete, then one segment
//! deleted and another altered and verified as exactly that (exit 1). Also what URLs mean
//! (a playlist's URL is that playlist, a prefix is a directory) on the local store, s3s and
//! moto, and how short the verdict of a 2 000-segment recording is.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use stowage_testkit::cos::CosEmulator;
use stowage_testkit::moto::{self, MotoServer};
use stowage_testkit::s3s_server::S3sServer;

use crate::common::{ok, stderr, stdout, stowage_env};

/// One recorder's output: its directory in the corpus, the playlist a user would name, and
/// the segments the damage test deletes and alters.
struct Shape {
    dir: &'static str,
    playlist: &'static str,
    missing: &'static str,
    altered: &'static str,
}

const SID: &str = "a3f1c9d2e4b5061728394a5b6c7d8e9f";

fn shapes() -> Vec<Shape> {
    let agora = |dir, room: &str, missing: &str, altered: &str| Shape {
        dir,
        playlist: leak(format!("{SID}_{room}.m3u8")),
        missing: leak(format!("{SID}_{room}_{missing}.ts")),
        altered: leak(format!("{SID}_{room}_{altered}.ts")),
    };
    vec![
        agora(
            "agora-default",
            "room1",
            "20261124153015040",
            "20261124153100000",
        ),
        Shape {
            dir: "agora-correct-extinf",
            playlist: leak(format!("{SID}_room2__uid_s_123__uid_e_video.m3u8")),
            missing: leak(format!(
                "{SID}_room2__uid_s_123__uid_e_video_20261124160015200.ts"
            )),
            altered: leak(format!(
                "{SID}_room2__uid_s_123__uid_e_video_20261124160000000.ts"
            )),
        },
        agora(
            "agora-backup-failover",
            "room3",
            "20261124170045000",
            "20261124170000000",
        ),
        Shape {
            dir: "ffmpeg-vod",
            playlist: "vod.m3u8",
            missing: "vod1.ts",
            altered: "vod2.ts",
        },
        Shape {
            dir: "ffmpeg-event",
            playlist: "event.m3u8",
            missing: "event0.ts",
            altered: "event3.ts",
        },
        Shape {
            dir: "livekit-egress-event",
            playlist: "playlist.m3u8",
            missing: "playlist_00002.ts",
            altered: "playlist_00000.ts",
        },
        Shape {
            dir: "nginx-rtmp-live",
            playlist: "stream.m3u8",
            missing: "stream-47.ts",
            altered: "stream-44.ts",
        },
    ]
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus")
        .join(dir)
}

fn file_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// A bucket, reached the way a user would: `stowage` with its URL and settings, and an
/// independent client to put files in and break them.
trait Bucket {
    /// The `stowage` URL of `key` (or of the directory `key`).
    fn url(&self, key: &str) -> String;
    /// Runs `stowage` with this bucket's settings.
    fn stowage(&self, args: &[&str]) -> Output;
    /// Puts every file of `dir` under `prefix` (ending in `/`).
    fn upload(&self, dir: &Path, prefix: &str);
    fn delete(&self, key: &str);
    fn overwrite(&self, key: &str, bytes: &[u8]);
}

/// An S3 server reached with aws-cli for uploads and damage.
struct AwsS3 {
    endpoint: String,
    bucket: String,
    access_key: String,
    secret_key: String,
}

impl AwsS3 {
    fn env(&self) -> [(&str, &str); 4] {
        [
            ("AWS_ACCESS_KEY_ID", self.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.as_str()),
            ("AWS_REGION", moto::REGION),
            ("AWS_DEFAULT_REGION", moto::REGION),
        ]
    }

    fn aws(&self, args: &[&str]) {
        let o = Command::new("aws")
            .args(args)
            .args(["--endpoint-url", &self.endpoint])
            .envs(self.env())
            // Plain Content-MD5 bodies, as every S3-compatible server takes them.
            .env("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
            .output()
            .expect("the AWS CLI (`aws`) must be installed: scripts/test installs it");
        assert!(o.status.success(), "aws {args:?}: {}", stderr(&o));
    }

    fn on_moto(tag: &str) -> AwsS3 {
        let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
        let b = AwsS3 {
            endpoint: server.endpoint().to_string(),
            bucket: unique(tag),
            access_key: moto::ACCESS_KEY.into(),
            secret_key: moto::SECRET_KEY.into(),
        };
        b.aws(&["s3", "mb", &format!("s3://{}", b.bucket)]);
        b
    }

    fn on_s3s(tag: &str) -> AwsS3 {
        let server = S3sServer::shared();
        let b = AwsS3 {
            endpoint: server.endpoint().to_string(),
            bucket: unique(tag),
            access_key: server.access_key().into(),
            secret_key: server.secret_key().into(),
        };
        server.create_bucket(&b.bucket).unwrap();
        b
    }
}

impl Bucket for AwsS3 {
    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn stowage(&self, args: &[&str]) -> Output {
        let all: Vec<&str> = args
            .iter()
            .copied()
            .chain(["--endpoint", &self.endpoint])
            .collect();
        stowage_env(&all, &self.env())
    }

    fn upload(&self, dir: &Path, prefix: &str) {
        let to = self.url(prefix);
        self.aws(&[
            "s3",
            "cp",
            "--recursive",
            "--quiet",
            dir.to_str().unwrap(),
            &to,
        ]);
    }

    fn delete(&self, key: &str) {
        self.aws(&["s3", "rm", "--quiet", &self.url(key)]);
    }

    fn overwrite(&self, key: &str, bytes: &[u8]) {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), bytes).unwrap();
        self.aws(&[
            "s3",
            "cp",
            "--quiet",
            tmp.path().to_str().unwrap(),
            &self.url(key),
        ]);
    }
}

/// The COS emulator, with Tencent's Python SDK uploading.
struct CosSdk {
    server: CosEmulator,
    bucket: String,
}

impl CosSdk {
    fn start() -> CosSdk {
        let server = CosEmulator::start().expect("COS emulator");
        let bucket = format!("{}-1250000000", unique("corpus"));
        server.create_bucket(&bucket);
        CosSdk { server, bucket }
    }

    fn env(&self) -> [(&str, &str); 4] {
        [
            ("TENCENTCLOUD_SECRET_ID", self.server.access_key()),
            ("TENCENTCLOUD_SECRET_KEY", self.server.secret_key()),
            ("COS_ENDPOINT", self.server.endpoint()),
            ("COS_REGION", self.server.region()),
        ]
    }

    fn store(&self) -> stowage_cos::CosStore {
        let mut cfg = stowage_cos::CosConfig::new(&self.bucket);
        cfg.endpoint = Some(self.server.endpoint().to_string());
        cfg.addressing = stowage_cos::Addressing::PathStyle;
        cfg.credentials = Some(stowage_core::Credentials::new(
            self.server.access_key(),
            self.server.secret_key(),
        ));
        stowage_cos::CosStore::new(cfg).expect("store")
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Runtime::new().expect("runtime").block_on(f)
    }
}

impl Bucket for CosSdk {
    fn url(&self, key: &str) -> String {
        format!("cos://{}/{key}", self.bucket)
    }

    fn stowage(&self, args: &[&str]) -> Output {
        stowage_env(args, &self.env())
    }

    fn upload(&self, dir: &Path, prefix: &str) {
        let addr = self.server.addr();
        let env = [
            ("COS_UP_IP", addr.ip().to_string()),
            ("COS_UP_PORT", addr.port().to_string()),
            ("COS_UP_REGION", self.server.region().to_string()),
            ("COS_UP_BUCKET", self.bucket.clone()),
            ("COS_UP_SECRET_ID", self.server.access_key().to_string()),
            ("COS_UP_SECRET_KEY", self.server.secret_key().to_string()),
            ("COS_UP_DIR", dir.display().to_string()),
            ("COS_UP_PREFIX", prefix.to_string()),
        ];
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk/cos_put_dir.py");
        let o = Command::new("python3")
            .arg(&script)
            .envs(env)
            .output()
            .expect("python3");
        assert!(
            o.status.success(),
            "{} (exit {:?}; scripts/test installs cos-python-sdk-v5)\n{}\n{}",
            script.display(),
            o.status.code(),
            stdout(&o),
            stderr(&o)
        );
    }

    fn delete(&self, key: &str) {
        use stowage_core::ObjectStore as _;
        Self::block_on(self.store().delete(key)).expect("delete");
    }

    fn overwrite(&self, key: &str, bytes: &[u8]) {
        use stowage_core::ObjectStore as _;
        let body = stowage_core::PutBody::Bytes(bytes::Bytes::copy_from_slice(bytes));
        Self::block_on(self.store().put(key, body, &Default::default())).expect("put");
    }
}

fn unique(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{tag}-{}-{n}", std::process::id())
}

/// The same bytes with one flipped: same size, other content.
fn altered(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    bytes
}

/// Every shape, uploaded under `root/`, verified complete three ways, then damaged and
/// verified as exactly that damage.
fn verify_every_shape(b: &dyn Bucket, root: &str) {
    for shape in shapes() {
        let dir = corpus(shape.dir);
        let prefix = format!("{root}/{}", shape.dir);
        b.upload(&dir, &format!("{prefix}/"));
        let n = file_count(&dir);
        let playlist = b.url(&format!("{prefix}/{}", shape.playlist));
        let local = dir.to_str().unwrap();
        for url in [playlist.clone(), b.url(&prefix)] {
            let out = ok(b.stowage(&["verify", &url, "--dir", local]));
            assert!(
                out.contains(&format!("complete: {n} of {n} objects intact")),
                "{} by {url}:\n{out}",
                shape.dir
            );
        }
        // The playlist alone: everything it names is there, but nothing proves the bytes.
        let out = ok(b.stowage(&["verify", &playlist]));
        assert!(out.contains("complete: 0 of "), "{}:\n{out}", shape.dir);
        assert!(out.contains("--dir DIR compares"), "{}:\n{out}", shape.dir);

        b.delete(&format!("{prefix}/{}", shape.missing));
        let key = format!("{prefix}/{}", shape.altered);
        b.overwrite(&key, &altered(&dir.join(shape.altered)));
        let o = b.stowage(&["verify", &playlist, "--dir", local, "--json"]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", shape.dir, stderr(&o));
        let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
        exactly_the_damage(&report, &prefix, &shape);
    }
}

/// The report names the deleted segment as missing (and the playlists naming it), the
/// altered one as changed, and nothing else.
fn exactly_the_damage(report: &Value, prefix: &str, shape: &Shape) {
    let missing = format!("{prefix}/{}", shape.missing);
    let altered = format!("{prefix}/{}", shape.altered);
    let mut seen = BTreeSet::new();
    for p in report["problems"].as_array().unwrap() {
        let kind = p["problem"].as_str().unwrap();
        let key = p["key"].as_str().or(p["segment"].as_str()).unwrap();
        match kind {
            "missing" | "playlist_names_missing" => assert_eq!(key, missing, "{report}"),
            "content_mismatch" => assert_eq!(key, altered, "{report}"),
            other => panic!("{}: unexpected {other}: {report}", shape.dir),
        }
        seen.insert(kind);
    }
    assert!(
        seen.contains("missing") && seen.contains("content_mismatch"),
        "{}: {report}",
        shape.dir
    );
    assert_eq!(report["verdict"], "incomplete", "{report}");
}

#[test]
fn every_corpus_shape_uploaded_by_aws_cli_to_moto_verifies() {
    verify_every_shape(&AwsS3::on_moto("corpus"), "rec");
}

#[test]
fn every_corpus_shape_uploaded_by_aws_cli_to_the_s3s_server_verifies() {
    verify_every_shape(&AwsS3::on_s3s("corpus"), "rec");
}

#[test]
fn every_corpus_shape_uploaded_by_the_cos_sdk_verifies() {
    verify_every_shape(&CosSdk::start(), "rec");
}

/// A local directory bucket, filled with `stowage cp` (the local store has no other
/// client).
struct Local {
    root: tempfile::TempDir,
}

impl Bucket for Local {
    fn url(&self, key: &str) -> String {
        format!("file://{}/{key}", self.root.path().display())
    }

    fn stowage(&self, args: &[&str]) -> Output {
        stowage_env(args, &[])
    }

    fn upload(&self, dir: &Path, prefix: &str) {
        ok(self.stowage(&["cp", dir.to_str().unwrap(), &self.url(prefix)]));
    }

    fn delete(&self, key: &str) {
        std::fs::remove_file(self.root.path().join(key)).unwrap();
    }

    fn overwrite(&self, key: &str, bytes: &[u8]) {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), bytes).unwrap();
        ok(self.stowage(&["cp", tmp.path().to_str().unwrap(), &self.url(key)]));
    }
}

/// `rec/room1` is a directory (a sibling `rec/room10/…` is no part of it); a playlist's URL
/// names that playlist, with `--dir`, `--agora` and `--repair` working in its directory.
fn urls_mean_what_a_user_means(b: &dyn Bucket) {
    let room1 = corpus("agora-default");
    b.upload(&room1, "rec/room1/");
    b.upload(&corpus("nginx-rtmp-live"), "rec/room10/");
    let n = file_count(&room1);
    let local = room1.to_str().unwrap();
    let playlist = format!("{SID}_room1.m3u8");
    let out = ok(b.stowage(&["verify", &b.url("rec/room1"), "--dir", local]));
    assert!(
        out.contains(&format!("complete: {n} of {n} objects intact")) && !out.contains("orphan"),
        "{out}"
    );
    let playlist_url = b.url(&format!("rec/room1/{playlist}"));
    let out = ok(b.stowage(&["verify", &playlist_url, "--dir", local]));
    assert!(
        out.contains(&format!("complete: {n} of {n} objects intact")) && !out.contains(".m3u8/"),
        "{out}"
    );

    // An Agora stop response names the playlist by its bare name: it is in that directory.
    let answer = tempfile::NamedTempFile::new().unwrap();
    let json =
        format!(r#"{{"serverResponse":{{"fileListMode":"string","fileList":"{playlist}"}}}}"#);
    std::fs::write(answer.path(), json).unwrap();
    let agora = answer.path().to_str().unwrap();
    let out = ok(b.stowage(&["verify", &playlist_url, "--agora", agora]));
    assert!(out.contains("complete: 0 of 6 objects intact"), "{out}");

    // --repair from the spool, addressed by the playlist's URL.
    let lost = format!("{SID}_room1_20261124153030040.ts");
    b.delete(&format!("rec/room1/{lost}"));
    let args = [
        "verify",
        &playlist_url,
        "--dir",
        local,
        "--repair",
        "--from",
        local,
    ];
    let o = b.stowage(&args);
    let repaired = stderr(&o);
    assert!(
        repaired.contains(&format!("repaired  rec/room1/{lost}")),
        "{repaired}\n{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains(&format!("complete: {n} of {n} objects intact")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn urls_mean_what_a_user_means_on_the_local_store() {
    let root = tempfile::tempdir().unwrap();
    // The bucket's root, as its first write would mark it, so that URLs below it name keys.
    std::fs::create_dir_all(root.path().join(".stowage/meta")).unwrap();
    urls_mean_what_a_user_means(&Local { root });
}

#[test]
fn urls_mean_what_a_user_means_on_s3s() {
    urls_mean_what_a_user_means(&AwsS3::on_s3s("urls"));
}

#[test]
fn urls_mean_what_a_user_means_on_moto() {
    urls_mean_what_a_user_means(&AwsS3::on_moto("urls"));
}

/// Agora's default playlist for `segments` 15-second slices: no comma after EXTINF, the
/// legacy cache tag, a leading discontinuity; names carry each slice's start time.
pub fn agora_recording(dir: &Path, segments: usize) {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-ALLOW-CACHE:YES\n#EXT-X-TARGETDURATION:18\n#EXT-X-DISCONTINUITY\n#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20261124000000000\n",
    );
    let start = time::macros::datetime!(2026-11-24 00:00:00 UTC);
    for i in 0..segments {
        let t = start + time::Duration::seconds(15 * i as i64);
        let name = format!(
            "{SID}_room9_{}.ts",
            stowage_hls::agora::format_compact_utc(t)
        );
        let mut ts = vec![0u8; 376];
        ts[0] = 0x47;
        ts[188] = 0x47;
        ts[1..9].copy_from_slice(&(i as u64).to_be_bytes());
        std::fs::write(dir.join(&name), ts).unwrap();
        text.push_str(&format!("#EXTINF:15.000000\n{name}\n"));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(dir.join(format!("{SID}_room9.m3u8")), text).unwrap();
}

/// Uploaded by Stowage, a clean 2 000-segment Agora recording verifies in two lines: the
/// warning for the 2 000 EXTINF lines without a comma, and the verdict. `--strict` fails it.
#[test]
fn a_clean_2000_segment_agora_recording_verifies_in_a_few_lines() {
    let spool = tempfile::tempdir().unwrap();
    agora_recording(spool.path(), 2_000);
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    ok(stowage_env(
        &[
            "upload",
            spool.path().to_str().unwrap(),
            &url,
            "--prefix",
            "rec",
        ],
        &[],
    ));
    let out = ok(stowage_env(&["verify", &format!("{url}/rec")], &[]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let comma = format!(
        "warning   rec/{SID}_room9.m3u8: 2000 EXTINF lines without the comma (first at line 8); ffmpeg and hls.js accept it"
    );
    assert!(lines[0].starts_with(&comma), "{out}");
    assert!(
        lines[1].starts_with("complete: 2001 of 2001 objects intact")
            && lines[1]
                .contains("1 playlist, 30000.000 s of media; 0 problems, 1 warning, 0 unproven"),
        "{out}"
    );
    let strict = stowage_env(&["verify", &format!("{url}/rec"), "--strict"], &[]);
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
    assert!(stdout(&strict).contains("WARNINGS: 2001 of 2001 objects intact"));
}
