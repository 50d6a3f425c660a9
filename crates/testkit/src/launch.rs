//! Starting an emulator program (moto, Azurite, fake-gcs-server) for the tests: on a free
//! loopback port, killed when the test process exits however it exits, its log kept for
//! the error message when it does not answer. `scripts/test` starts them once instead and
//! names them in environment variables, which [`Server::shared_or_spawn`] reads first.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::NamedTempFile;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Wraps a command line so that the program runs in the background and is killed once
/// stdin closes (the test process exiting). sh gives background jobs /dev/null as stdin,
/// hence fd 3. sh itself exits when the program does, so a crash is noticed at once.
/// `$1` is the port, `$2` the log file; `program` is checked on PATH first.
fn launcher(program: &str, command_line: &str) -> String {
    format!(
        r#"command -v {program} >/dev/null || {{ echo "{program}: not found on PATH" >"$2"; exit 127; }}
exec 3<&0
{command_line} >"$2" 2>&1 &
pid=$!
{{ read -r _ignored <&3; kill "$pid" 2>/dev/null; }} &
wait "$pid""#
    )
}

/// What a spawned program needs kept alive: dropping it ends the program.
#[derive(Debug)]
pub struct Spawned {
    _child: Child,
    _stdin: ChildStdin,
    _log: NamedTempFile,
}

/// How to start one emulator.
pub struct Emulator<'a> {
    /// Its name in messages and log file names.
    pub name: &'a str,
    /// The program looked up on PATH.
    pub program: &'a str,
    /// The command line, with `"$1"` where the port goes.
    pub command_line: &'a str,
    /// How to install it, for the error message.
    pub install_hint: &'a str,
    /// Variables set for it.
    pub env: &'a [(&'a str, &'a str)],
}

impl Emulator<'_> {
    /// The server named by `endpoint_env` (checked to answer), or a new one.
    pub fn connect_or_spawn(
        &self,
        endpoint_env: &str,
    ) -> Result<(String, Option<Spawned>), String> {
        match std::env::var(endpoint_env) {
            Ok(endpoint) => {
                let endpoint = endpoint.trim_end_matches('/').to_string();
                let addr = endpoint_addr(&endpoint)
                    .map_err(|e| format!("{endpoint_env}={endpoint:?}: {e}"))?;
                wait_until_answering(addr, || Ok(())).map_err(|e| {
                    format!(
                        "{} at {endpoint_env}={endpoint} is not answering: {e}",
                        self.name
                    )
                })?;
                Ok((endpoint, None))
            }
            Err(_) => self
                .spawn()
                .map(|(endpoint, spawned)| (endpoint, Some(spawned))),
        }
    }

    /// Starts the program on a free loopback port and waits until it answers HTTP.
    pub fn spawn(&self) -> Result<(String, Spawned), String> {
        let hint = self.install_hint;
        let spawn_err = |e: io::Error| format!("cannot start {} ({hint}): {e}", self.program);
        let port = free_port().map_err(spawn_err)?;
        let log = tempfile::Builder::new()
            .prefix(&format!("stowage-{}-", self.name))
            .suffix(".log")
            .tempfile()
            .map_err(spawn_err)?;
        let mut command = Command::new("sh");
        command
            .args(["-c", &launcher(self.program, self.command_line), self.name])
            .arg(port.to_string())
            .arg(log.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in self.env {
            command.env(k, v);
        }
        let mut child = command.spawn().map_err(spawn_err)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let program = self.program;
        let exited = |child: &mut Child| match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(io::Error::other(format!("{program} exited ({status})"))),
            Err(e) => Err(e),
        };
        if let Err(e) = wait_until_answering(addr, || exited(&mut child)) {
            let _ = child.kill();
            return Err(format!(
                "{e}; {hint}; log {}:\n{}",
                log.path().display(),
                log_tail(log.as_file())
            ));
        }
        let Some(stdin) = child.stdin.take() else {
            return Err(format!("{} launcher has no stdin pipe", self.name)); // unreachable: piped above
        };
        Ok((
            format!("http://{addr}"),
            Spawned {
                _child: child,
                _stdin: stdin,
                _log: log,
            },
        ))
    }
}

/// `http://host:port` to a socket address.
pub fn endpoint_addr(endpoint: &str) -> io::Result<SocketAddr> {
    let authority = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    let authority = authority.split('/').next().unwrap_or(authority);
    authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "resolves to no address"))
}

/// A loopback port that was free a moment ago (the program binds it itself).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Polls until `addr` answers an HTTP request, `still_alive` fails, or the timeout passes.
pub fn wait_until_answering(
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

/// Sends `GET /` and returns the status line, proving an HTTP server is there.
pub fn http_status(addr: SocketAddr) -> io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
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

/// The last few KiB of a log, for error messages.
pub fn log_tail(mut log: &File) -> String {
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

    #[test]
    fn a_missing_program_is_named_with_its_install_hint() {
        let e = Emulator {
            name: "nothing",
            program: "stowage-no-such-program",
            command_line: "stowage-no-such-program --port \"$1\"",
            install_hint: "install it with the hint",
            env: &[],
        }
        .spawn()
        .unwrap_err();
        assert!(e.contains("install it with the hint"), "{e}");
        assert!(e.contains("not found on PATH"), "{e}");
    }
}
