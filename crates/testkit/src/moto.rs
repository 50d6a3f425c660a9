//! moto's S3 server: an implementation independent of s3s, so the S3 store is checked
//! against two servers that were not written together.
//!
//! `scripts/test` starts one and sets `STOWAGE_MOTO_ENDPOINT`; otherwise the first caller
//! spawns `moto_server`, which is killed when the test process exits.

use std::io::{self, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::OnceLock;

use crate::launch::{Emulator, Spawned};

/// moto accepts any credentials; these are the conventional ones.
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";

/// Environment variable naming an already running moto server, e.g. `http://127.0.0.1:5123`.
pub const ENDPOINT_ENV: &str = "STOWAGE_MOTO_ENDPOINT";

const MOTO: Emulator<'static> = Emulator {
    name: "moto",
    program: "moto_server",
    command_line: r#"moto_server -H 127.0.0.1 -p "$1""#,
    install_hint: "moto_server >= 5.2.5 is needed: pip install 'moto[server]>=5.2.5'",
    env: &[],
};

/// A moto server, either found through [`ENDPOINT_ENV`] or spawned by us.
#[derive(Debug)]
pub struct MotoServer {
    endpoint: String,
    // Held (never used) so that moto lives exactly as long as this process.
    _spawned: Option<Spawned>,
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
    /// every test reports the same error without waiting for the start again.
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
        let (endpoint, spawned) = MOTO.connect_or_spawn(ENDPOINT_ENV)?;
        Ok(MotoServer {
            endpoint,
            _spawned: spawned,
        })
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
        let addr = crate::launch::endpoint_addr(moto.endpoint()).unwrap();
        let reply = request(addr, "GET", "/", &[], b"").unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(reply.body.contains("ListAllMyBucketsResult"), "{reply:?}");
    }
}
