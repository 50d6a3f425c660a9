//! `stowage cp`, `ls` and `stat` with `kodo://bucket/key` URLs, on the Kodo emulator.

use std::process::{Command, Output};

use serde_json::Value;
use stowage_testkit::kodo::KodoEmulator;

use crate::common::ok;

/// Runs the binary against `emu` with the key pair in Qiniu's environment variables.
fn stowage(emu: &KodoEmulator, secret: &str, args: &[&str]) -> Output {
    Command::new(crate::common::stowage_bin())
        .args(args)
        .args(["--endpoint", emu.endpoint()])
        .env("QINIU_ACCESS_KEY", emu.access_key())
        .env("QINIU_SECRET_KEY", secret)
        .output()
        .expect("run stowage")
}

#[test]
fn cp_ls_stat_and_back_through_kodo_urls() {
    let emu = KodoEmulator::start().unwrap();
    emu.create_bucket("rec", "z0");
    let sk = emu.secret_key().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seg0.ts");
    std::fs::write(&src, b"mpeg-ts bytes").unwrap();
    ok(stowage(
        &emu,
        &sk,
        &["cp", src.to_str().unwrap(), "kodo://rec/live/seg0.ts"],
    ));
    assert_eq!(
        emu.object("rec", "live/seg0.ts").as_deref(),
        Some(&b"mpeg-ts bytes"[..])
    );

    let listed: Value = serde_json::from_str(&ok(stowage(
        &emu,
        &sk,
        &["ls", "--json", "kodo://rec/live/"],
    )))
    .unwrap();
    assert_eq!(listed[0]["key"], "live/seg0.ts");
    assert_eq!(listed[0]["size"], 13);

    let stat: Value = serde_json::from_str(&ok(stowage(
        &emu,
        &sk,
        &["stat", "--json", "kodo://rec/live/seg0.ts"],
    )))
    .unwrap();
    let local: Value = serde_json::from_str(
        ok(Command::new(crate::common::stowage_bin())
            .args(["checksum", "--json", src.to_str().unwrap()])
            .output()
            .unwrap())
        .trim(),
    )
    .unwrap();
    assert_eq!(stat["checksums"]["qetag"], local["qetag"]);
    assert_eq!(stat["content_type"], "video/mp2t");

    let back = dir.path().join("back.ts");
    ok(stowage(
        &emu,
        &sk,
        &["cp", "kodo://rec/live/seg0.ts", back.to_str().unwrap()],
    ));
    assert_eq!(std::fs::read(&back).unwrap(), b"mpeg-ts bytes");
}

#[test]
fn a_wrong_secret_names_the_fix_and_hides_the_secret() {
    let emu = KodoEmulator::start().unwrap();
    emu.create_bucket("rec", "z0");
    let o = stowage(&emu, "wrong-secret-abcdef", &["stat", "kodo://rec/a.ts"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("signature mismatch") && err.contains("secretKey"),
        "{err}"
    );
    assert!(!err.contains("wrong-secret-abcdef"), "{err}");
    let o = stowage(&emu, emu.secret_key(), &["ls", "kodo://nope/"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("bucket not found"),
        "{err}"
    );
}

/// The playback check through Kodo's private download URLs: each object gets its own
/// `e=…&token=…`; the same objects through the bare download domain are refused.
#[test]
fn verify_plays_a_private_kodo_recording_through_signed_urls() {
    let emu = KodoEmulator::start().unwrap();
    emu.create_bucket("rec", "z0");
    let sk = emu.secret_key().to_owned();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/recording");
    let spool = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, spool.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let spool_dir = spool.path().to_str().unwrap();
    ok(stowage(
        &emu,
        &sk,
        &["upload", spool_dir, "kodo://rec/live"],
    ));

    let played = ok(stowage(
        &emu,
        &sk,
        &["verify", "kodo://rec/live", "--playback-signed"],
    ));
    assert!(
        played.contains("complete: 4 of 4 objects intact"),
        "{played}"
    );

    let bare = format!("{}/dl/rec", emu.endpoint());
    let o = stowage(
        &emu,
        &sk,
        &["verify", "kodo://rec/live", "--playback-base", &bare],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("playback") && out.contains("HTTP 40"), "{out}");

    let o = stowage(
        &emu,
        &sk,
        &[
            "verify",
            "kodo://rec/live",
            "--playback-signed",
            "--playback-base",
            &bare,
        ],
    );
    assert_eq!(o.status.code(), Some(2), "the two ways conflict");
}
