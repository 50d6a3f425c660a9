//! Qiniu's official Python SDK (`pip install qiniu`) against the Kodo emulator, next to
//! Stowage: the SDK's form and resumable uploads carry the hash `qiniu.etag` computes and
//! Stowage computes; the SDK stats and lists what Stowage wrote with the same hashes;
//! Stowage reads back what the SDK wrote; a wrong secret is refused for both.
//! The script is tests/sdk/kodo_crosscheck.py; scripts/test installs the package.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stowage_core::checksum::checksum_file;
use stowage_core::retry::RetryPolicy;
use stowage_core::upload::{UploadConfig, multipart_upload_file};
use stowage_core::{ChecksumAlgo, Credentials, ErrorKind, ObjectStore, PutBody, PutOptions};
use stowage_kodo::{KodoConfig, KodoStore};
use stowage_testkit::conformance::pseudo_random;
use stowage_testkit::kodo::KodoEmulator;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk/kodo_crosscheck.py")
}

fn require_qiniu_package() {
    let probe = Command::new("python3")
        .args(["-c", "import qiniu"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): install Python 3, then `pip install qiniu`")
        });
    assert!(
        probe.status.success(),
        "Qiniu's Python SDK is missing: run `python3 -m pip install qiniu` (scripts/test does)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
}

async fn store(emu: &KodoEmulator, bucket: &str, secret: &str) -> KodoStore {
    let mut cfg = KodoConfig::new(bucket);
    cfg.endpoint = Some(emu.endpoint().to_owned());
    cfg.credentials = Some(Credentials::new(emu.access_key(), secret));
    cfg.https = false;
    KodoStore::new(cfg).await.unwrap()
}

async fn local_qetag(path: &Path) -> String {
    let (_, c) = checksum_file(path, &[ChecksumAlgo::Qetag]).await.unwrap();
    c.qetag.unwrap()
}

/// Stowage uploads a segment (form upload) and a 9 MiB file in 4 MiB parts.
async fn stowage_uploads(s: &KodoStore, dir: &Path) -> Vec<(String, PathBuf)> {
    let seg = dir.join("seg.ts");
    std::fs::write(&seg, pseudo_random(2_500_000, 21)).unwrap();
    let body = PutBody::file(&seg).await.unwrap();
    s.put("stowage/seg.ts", body, &PutOptions::default())
        .await
        .unwrap();
    let big = dir.join("v.mp4");
    std::fs::write(&big, pseudo_random(9 << 20, 22)).unwrap();
    let cfg = UploadConfig {
        multipart_threshold: 4 << 20,
        part_size: 4 << 20,
        concurrency: 2,
        part_retry: RetryPolicy::immediate(2),
    };
    multipart_upload_file(s, "stowage/v.mp4", &big, &PutOptions::default(), &cfg, None)
        .await
        .unwrap();
    vec![
        ("stowage/seg.ts".into(), seg),
        ("stowage/v.mp4".into(), big),
    ]
}

fn run_sdk(emu: &KodoEmulator, bucket: &str, dir: &Path, objects: &[(String, PathBuf)]) -> Value {
    let mut cmd = Command::new("python3");
    cmd.arg(script())
        .args(["--endpoint", emu.endpoint(), "--bucket", bucket])
        .args([
            "--access-key",
            emu.access_key(),
            "--secret-key",
            emu.secret_key(),
        ])
        .arg("--workdir")
        .arg(dir);
    for (key, path) in objects {
        cmd.arg("--stowage-object")
            .arg(format!("{key}={}", path.display()));
    }
    let out = cmd.output().expect("run the SDK cross-check script");
    assert!(
        out.status.success(),
        "kodo_crosscheck.py failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "script output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_agrees_with_the_emulator_and_stowage() {
    require_qiniu_package();
    let emu = KodoEmulator::start().unwrap();
    emu.create_bucket("xcheck", "z0");
    let s = store(&emu, "xcheck", emu.secret_key()).await;
    let dir = tempfile::tempdir().unwrap();
    let objects = stowage_uploads(&s, dir.path()).await;
    let report = run_sdk(&emu, "xcheck", dir.path(), &objects);

    // What the SDK uploaded: its hash = qiniu.etag = Stowage's qetag = what Stowage reads.
    let uploads = report["sdk_uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 2, "{report}");
    for u in uploads {
        let key = u["key"].as_str().unwrap();
        let path = PathBuf::from(u["path"].as_str().unwrap());
        let ours = local_qetag(&path).await;
        assert_eq!(u["status"], 200, "{u}");
        assert_eq!(u["local_etag"], ours.as_str(), "qiniu.etag vs Stowage: {u}");
        assert_eq!(u["returned_hash"], ours.as_str(), "emulator hash: {u}");
        let head = s.head(key).await.unwrap();
        assert_eq!(head.checksums.qetag.as_deref(), Some(ours.as_str()));
        let got = s.get(key, None).await.unwrap().bytes().await.unwrap();
        assert!(
            got[..] == std::fs::read(&path).unwrap()[..],
            "{key} differs"
        );
    }
    // What Stowage uploaded, as the SDK sees it.
    let seen = report["stowage_objects"].as_array().unwrap();
    assert_eq!(seen.len(), objects.len());
    for (o, (key, path)) in seen.iter().zip(&objects) {
        let ours = local_qetag(path).await;
        assert_eq!(o["key"], key.as_str());
        assert_eq!(o["stat_status"], 200, "{o}");
        for field in ["local_etag", "stat_hash", "listed_hash"] {
            assert_eq!(o[field], ours.as_str(), "{field} of {key}: {o}");
        }
        assert_eq!(o["stat_fsize"], std::fs::metadata(path).unwrap().len());
    }
    // A wrong secret: refused for the SDK and for Stowage.
    let wrong = &report["wrong_secret"];
    assert_eq!(
        (
            wrong["stat_status"].as_u64(),
            wrong["upload_status"].as_u64()
        ),
        (Some(401), Some(401)),
        "{wrong}"
    );
    assert!(emu.object("xcheck", "sdk/refused.ts").is_none());
    let bad = store(&emu, "xcheck", "wrong-secret-xyz").await;
    let e = bad
        .head("stowage/seg.ts")
        .await
        .expect_err("wrong secret accepted");
    assert_eq!(e.kind(), &ErrorKind::SignatureMismatch, "{e}");
    assert!(!e.to_string().contains("wrong-secret-xyz"));
}
