//! moto's S3 server: an implementation independent of s3s, so the S3 store is checked
//! against two servers that were not written together.
//!
//! `scripts/test` starts one and sets `STOWAGE_MOTO_ENDPOINT`; otherwise the first caller
//! spawns `moto_server`, which is killed when the test process exits.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::NamedTempFile;

/// moto accepts any credentials; these are the conventional ones.
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";

/// Environment variable naming an already running moto server, e.g. `http://127.0.0.1:5123`.
pub const ENDPOINT_ENV: &str = "STOWAGE_MOTO_ENDPOINT";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const INSTALL_HINT: &str = "moto_server >= 5.2.5 is needed: pip install 'moto[server]>=5.2.5'";

/// Starts moto in the background and waits for stdin to close (the test process exiting,
/// however it exits), then kills it. sh gives background jobs /dev/null as stdin, hence fd 3.
/// sh itself exits when moto does, so a crashed moto is noticed at once.
const LAUNCHER: &str = r#"command -v moto_server >/dev/null || { echo "moto_server: not found on PATH" >"$2"; exit 127; }
exec 3<&0
moto_server -H 127.0.0.1 -p "$1" >"$2" 2>&1 &
pid=$!
{ read -r _ignored <&3; kill "$pid" 2>/dev/null; } &
wait "$pid""#;

/// A moto server, either found through [`ENDPOINT_ENV`] or spawned by us.
#[derive(Debug)]
pub struct MotoServer {
    endpoint: String,
    // Held (never used) so that moto lives exactly as long as this process.
    _spawned: Option<Spawned>,
}

#[derive(Debug)]
struct Spawned {
    _child: Child,
    _stdin: ChildStdin,
    _log: NamedTempFile,
}

impl MotoServer {
    /// Creates `bucket` in `region` with a plain CreateBucket request (moto checks no
    /// signature), so tests can give buckets regions without an S3 client.
    pub fn create_bucket_in(&self, bucket: &str, region: &str) -> io::Result<()> {
        let addr = self.endpoint().trim_start_matches("http://").to_string();
        let body = format!(
            "<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        );
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut sock = TcpStream::connect(&addr)?;
        sock.write_all(request.as_bytes())?;
        let mut reply = String::new();
        sock.read_to_string(&mut reply)?;
        if reply.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "moto refused the bucket: {reply}"
            )))
        }
    }

    /// The process-wide moto server, started on first use. A failure is remembered, so
    /// every test reports the same error without retrying for 20 s each.
    pub fn shared() -> Result<&'static MotoServer, String> {
        static SHARED: OnceLock<Result<MotoServer, String>> = OnceLock::new();
        SHARED
            .get_or_init(MotoServer::connect_or_spawn)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Base URL, e.g. `http://127.0.0.1:5123` (no trailing slash).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn connect_or_spawn() -> Result<MotoServer, String> {
        match std::env::var(ENDPOINT_ENV) {
            Ok(endpoint) => MotoServer::connect(endpoint.trim_end_matches('/')),
            Err(_) => MotoServer::spawn(),
        }
    }

    fn connect(endpoint: &str) -> Result<MotoServer, String> {
        let addr =
            endpoint_addr(endpoint).map_err(|e| format!("{ENDPOINT_ENV}={endpoint:?}: {e}"))?;
        wait_until_answering(addr, || Ok(()))
            .map_err(|e| format!("moto at {ENDPOINT_ENV}={endpoint} is not answering: {e}"))?;
        Ok(MotoServer {
            endpoint: endpoint.to_owned(),
            _spawned: None,
        })
    }

    fn spawn() -> Result<MotoServer, String> {
        let spawn_err = |e: io::Error| format!("cannot start moto_server ({INSTALL_HINT}): {e}");
        let port = free_port().map_err(spawn_err)?;
        let log = tempfile::Builder::new()
            .prefix("stowage-moto-")
            .suffix(".log")
            .tempfile()
            .map_err(spawn_err)?;
        let mut child = Command::new("sh")
            .args(["-c", LAUNCHER, "stowage-moto"])
            .arg(port.to_string())
            .arg(log.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(spawn_err)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let exited = |child: &mut Child| match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(io::Error::other(format!("moto_server exited ({status})"))),
            Err(e) => Err(e),
        };
        if let Err(e) = wait_until_answering(addr, || exited(&mut child)) {
            let _ = child.kill();
            return Err(format!(
                "{e}; {INSTALL_HINT}; log {}:\n{}",
                log.path().display(),
                log_tail(log.as_file())
            ));
        }
        let Some(stdin) = child.stdin.take() else {
            return Err("moto launcher has no stdin pipe".to_owned()); // unreachable: piped above
        };
        let spawned = Spawned {
            _child: child,
            _stdin: stdin,
            _log: log,
        };
        Ok(MotoServer {
            endpoint: format!("http://{addr}"),
            _spawned: Some(spawned),
        })
    }
}

/// `http://host:port` to a socket address.
fn endpoint_addr(endpoint: &str) -> io::Result<SocketAddr> {
    let authority = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "resolves to no address"))
}

/// A loopback port that was free a moment ago (moto binds it itself).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Polls until `addr` answers an HTTP request, `still_alive` fails, or the timeout passes.
fn wait_until_answering(
    addr: SocketAddr,
    mut still_alive: impl FnMut() -> io::Result<()>,
) -> io::Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let last = match http_status(addr) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        still_alive()?;
        if Instant::now() >= deadline {
            let msg = format!(
                "no HTTP answer from {addr} within {STARTUP_TIMEOUT:?} (last error: {last})"
            );
            return Err(io::Error::new(io::ErrorKind::TimedOut, msg));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `GET /moto-api/` and returns the status line, proving an HTTP server is there.
fn http_status(addr: SocketAddr) -> io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /moto-api/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let head = String::from_utf8_lossy(&head[..n]);
    match head.lines().next() {
        Some(line) if line.starts_with("HTTP/1.") => Ok(line.to_owned()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not an HTTP answer: {head:?}"),
        )),
    }
}

/// The last few KiB of moto's log, for error messages.
fn log_tail(mut log: &File) -> String {
    const TAIL: u64 = 4096;
    let len = log.metadata().map_or(0, |m| m.len());
    let mut tail = String::new();
    let read = log
        .seek(SeekFrom::Start(len.saturating_sub(TAIL)))
        .and_then(|_| {
            let mut bytes = Vec::new();
            log.read_to_end(&mut bytes)?;
            tail = String::from_utf8_lossy(&bytes).into_owned();
            Ok(())
        });
    match read {
        Ok(()) if tail.trim().is_empty() => "(empty)".to_owned(),
        Ok(()) => tail,
        Err(e) => format!("(unreadable: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::test_http::request;

    #[test]
    fn shared_moto_answers_s3_requests() {
        let moto = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
        assert!(std::ptr::eq(moto, MotoServer::shared().unwrap()));
        let addr = endpoint_addr(moto.endpoint()).unwrap();
        let reply = request(addr, "GET", "/", &[], b"").unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(reply.body.contains("ListAllMyBucketsResult"), "{reply:?}");
    }

    #[test]
    fn log_tail_reads_the_end() {
        let mut log = tempfile::tempfile().unwrap();
        assert_eq!(log_tail(&log), "(empty)");
        write!(log, "{}END", "x".repeat(10_000)).unwrap();
        let tail = log_tail(&log);
        assert!(
            tail.ends_with("END") && tail.len() == 4096,
            "{}",
            tail.len()
        );
    }

    #[test]
    fn unreachable_endpoint_times_out_with_a_clear_error() {
        let dead = SocketAddr::from(([127, 0, 0, 1], free_port().unwrap()));
        let err = wait_until_answering(dead, || Err(io::Error::other("gave up"))).unwrap_err();
        assert_eq!(err.to_string(), "gave up");
    }
}
