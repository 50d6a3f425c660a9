//! What the CLI test binaries share.

use std::process::{Command, Output};

/// Runs the `stowage` binary with no AWS settings from the outer environment (no keys,
/// region, profile, endpoint or config files), plus `env`.
pub fn stowage_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stowage"));
    cmd.args(args);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/stowage-test-config");
    cmd.env(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/stowage-test-credentials",
    );
    cmd.envs(env.iter().copied());
    cmd.output().expect("run stowage")
}
