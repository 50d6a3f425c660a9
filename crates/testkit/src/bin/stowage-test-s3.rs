//! A local S3 server (s3s-fs with signature checking) for benchmarks and manual tests:
//! prints `ENDPOINT=… ACCESS_KEY=… SECRET_KEY=… ROOT=…` (one per line) and serves until
//! killed or until its standard input closes. Buckets are directories under ROOT.

use std::io::{BufRead, Write};

fn main() -> std::io::Result<()> {
    let server = stowage_testkit::s3s_server::S3sServer::start()?;
    for bucket in std::env::args().skip(1) {
        server.create_bucket(&bucket)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "ENDPOINT={}", server.endpoint())?;
    writeln!(out, "ACCESS_KEY={}", server.access_key())?;
    writeln!(out, "SECRET_KEY={}", server.secret_key())?;
    writeln!(out, "ROOT={}", server.root().display())?;
    out.flush()?;
    drop(out);
    // Serve until stdin closes (the caller exits or closes the pipe).
    let mut line = String::new();
    while std::io::stdin().lock().read_line(&mut line)? > 0 {
        line.clear();
    }
    Ok(())
}
