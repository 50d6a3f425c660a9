//! What the CLI tests share: running the binary with a clean environment, reading its
//! output, the sample recording, and reading a directory back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The AWS settings a developer's shell may hold; no test may see them.
const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
];

/// The binary under test: Cargo's, or `STOWAGE_TEST_BIN` when set. Worktrees that share
/// one target directory share its `target/debug/stowage` too, which another worktree's build
/// may replace while these tests run; pointing the variable at a copy of this worktree's
/// build keeps the run honest.
pub fn stowage_bin() -> PathBuf {
    std::env::var_os("STOWAGE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_stowage")))
}

/// Runs the binary with the `cleared` variables removed from the outer environment, plus
/// `env`.
pub fn stowage_without(cleared: &[&str], args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(stowage_bin());
    cmd.args(args);
    for var in cleared {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run stowage")
}

/// Runs the binary with no AWS settings from the outer environment (no keys, region,
/// profile, endpoint or config files), plus `env`.
pub fn stowage_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let no_files = [
        ("AWS_CONFIG_FILE", "/nonexistent/stowage-test-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/stowage-test-credentials",
        ),
    ];
    let all: Vec<(&str, &str)> = no_files.iter().chain(env).copied().collect();
    stowage_without(AWS_VARS, args, &all)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command's stdout, after asserting that it succeeded.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "stowage failed\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// The command's stderr, after asserting that it failed.
pub fn fails(o: Output) -> String {
    assert!(
        !o.status.success(),
        "stowage should fail\nstdout: {}",
        stdout(&o)
    );
    stderr(&o)
}

pub fn sample_recording() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/recording")
}

/// The files directly in `dir`, by name, with their bytes, sorted.
pub fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Runs the binary for one vendor: its environment cleared, plus `env`.
pub type Runner<'a> = &'a dyn Fn(&[&str], &[(&str, &str)]) -> Output;

/// The sample recording copied up under `prefix_url` (ending in `/`) with `flags`, listed,
/// one object's stored CRC-64 compared with `stowage checksum`'s, and copied back down with
/// the settings from `env` only. Returns the sample's files.
pub fn round_trip_with_flags_then_env(
    stowage: Runner<'_>,
    prefix_url: &str,
    flags: &[&str],
    env: &[(&str, &str)],
) -> Vec<(String, Vec<u8>)> {
    let with_flags = |args: &[&str]| {
        let all: Vec<&str> = args.iter().chain(flags).copied().collect();
        ok(stowage(&all, &[]))
    };
    let sample = sample_recording();
    with_flags(&["cp", sample.to_str().unwrap(), prefix_url]);

    let listed: serde_json::Value =
        serde_json::from_str(&with_flags(&["ls", "--json", prefix_url])).unwrap();
    let local = files_in(&sample);
    assert_eq!(listed.as_array().expect("array").len(), local.len());

    let (name, bytes) = &local[0];
    let object_url = format!("{prefix_url}{name}");
    let stat: serde_json::Value =
        serde_json::from_str(&with_flags(&["stat", "--json", &object_url])).unwrap();
    assert_eq!(stat["size"], bytes.len());
    let source = sample.join(name);
    let sums = ok(stowage(
        &["checksum", "--json", source.to_str().unwrap()],
        &[],
    ));
    let sums: serde_json::Value = serde_json::from_str(sums.trim()).unwrap();
    assert_eq!(stat["checksums"]["crc64ecma"], sums["crc64ecma"], "{stat}");

    let back = tempfile::tempdir().unwrap();
    ok(stowage(
        &["cp", prefix_url, back.path().to_str().unwrap()],
        env,
    ));
    assert_eq!(files_in(back.path()), local);
    local
}
