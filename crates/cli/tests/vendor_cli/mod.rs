//! Helpers the OSS and COS command-line tests share: running the binary without the
//! vendor's settings from the outer environment, the sample recording, and reading a
//! directory back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with the `cleared` variables removed from the outer environment, plus
/// `env`.
pub fn stowage_without(cleared: &[&str], args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stowage"));
    cmd.args(args);
    for var in cleared {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run stowage")
}

/// The command's stdout, after asserting that it succeeded.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "stowage failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn sample_recording() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/recording")
}

/// The files directly in `dir`, by name, with their bytes, sorted.
pub fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}
