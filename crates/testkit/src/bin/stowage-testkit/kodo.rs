//! `serve kodo`: the Qiniu Kodo emulator.
//!
//! ```text
//! stowage-testkit serve kodo [--port N] [--bucket NAME[:ZONE]]... [--access-key AK --secret-key SK]
//! ```
//!
//! prints `ENDPOINT=…`, `ACCESS_KEY=…`, `SECRET_KEY=…` and one `ZONE_<zone>=…` per zone
//! endpoint (one `NAME=value` a line), then serves until its standard input closes or it
//! gets a signal. Buckets default to zone `z0`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use stowage_testkit::kodo::{KodoEmulator, ZONES, auth::Account};

pub const USAGE: &str = "usage: stowage-testkit serve kodo [--port N] [--bucket NAME[:ZONE]]... [--access-key AK --secret-key SK]";

/// `stowage-testkit serve kodo …` (the arguments after `serve kodo`).
pub fn run(args: &[String]) -> ExitCode {
    match serve_kodo(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct KodoArgs {
    port: u16,
    buckets: Vec<(String, String)>,
    access_key: Option<String>,
    secret_key: Option<String>,
}

fn parse(args: &[String]) -> Result<KodoArgs, String> {
    let mut out = KodoArgs {
        port: 0,
        buckets: Vec::new(),
        access_key: None,
        secret_key: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--port" => {
                out.port = value
                    .parse()
                    .map_err(|_| format!("--port {value}: not a port number"))?;
            }
            "--bucket" => {
                let (name, zone) = value.split_once(':').unwrap_or((value, "z0"));
                out.buckets.push((name.to_owned(), zone.to_owned()));
            }
            "--access-key" => out.access_key = Some(value.clone()),
            "--secret-key" => out.secret_key = Some(value.clone()),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(out)
}

fn serve_kodo(args: &[String]) -> Result<(), String> {
    let args = parse(args)?;
    let emu = match (args.access_key, args.secret_key) {
        (Some(access_key), Some(secret_key)) => KodoEmulator::start_on(
            args.port,
            Account {
                access_key,
                secret_key,
            },
        ),
        (None, None) if args.port == 0 => KodoEmulator::start(),
        (None, None) => KodoEmulator::start_on(
            args.port,
            Account {
                access_key: "stowage-kodo-ak".into(),
                secret_key: format!("stowage-kodo-sk-{}", std::process::id()),
            },
        ),
        _ => return Err("--access-key and --secret-key go together".into()),
    }
    .map_err(|e| format!("cannot start the Kodo emulator: {e}"))?;
    for (name, zone) in &args.buckets {
        emu.create_bucket(name, zone);
    }
    print_settings(&emu).map_err(|e| e.to_string())?;
    // Serve until stdin closes (the caller exits or closes the pipe).
    let mut line = String::new();
    while std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?
        > 0
    {
        line.clear();
    }
    Ok(())
}

fn print_settings(emu: &KodoEmulator) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ENDPOINT={}", emu.endpoint())?;
    writeln!(out, "ACCESS_KEY={}", emu.access_key())?;
    writeln!(out, "SECRET_KEY={}", emu.secret_key())?;
    for zone in ZONES {
        if let Some(ep) = emu.zone_endpoint(zone) {
            writeln!(out, "ZONE_{zone}={ep}")?;
        }
    }
    out.flush()
}
