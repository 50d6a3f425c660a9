//! `serve oss|cos`: the OSS and COS emulators.
//!
//! ```text
//! stowage-testkit serve oss|cos [--port N] [--region R] [--bucket NAME]... [--access-key AK --secret-key SK]
//!                               [--clock-offset SECONDS]
//! ```
//!
//! starts the OSS or COS emulator on 127.0.0.1, prints `ENDPOINT=… REGION=… ACCESS_KEY=…
//! SECRET_KEY=…` (one per line) and serves until killed. Without `--access-key`, a random
//! key pair is made. Path-style addressing (`http://127.0.0.1:N/<bucket>/<key>`); the COS
//! emulator also serves `<bucket>.cos.<region>.myqcloud.com` hosts that resolve to it. COS
//! bucket names are `<name>-<appid>` (e.g. `recordings-1250000000`).

use std::io::Write;
use std::process::ExitCode;

use stowage_testkit::cos::CosEmulator;
use stowage_testkit::oss::{DEFAULT_REGION, OssEmulator};

pub const USAGE: &str = "usage: stowage-testkit serve oss|cos [--port N] [--region R] [--bucket NAME]... [--access-key AK --secret-key SK] [--clock-offset SECONDS]";

#[derive(Default)]
struct Options {
    /// `oss` or `cos`.
    service: String,
    port: u16,
    region: Option<String>,
    buckets: Vec<String>,
    access_key: Option<String>,
    secret_key: Option<String>,
    /// Moves the emulator's clock (requests more than 15 min off get RequestTimeTooSkewed).
    clock_offset: i64,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let (first, rest) = args.split_at(args.len().min(2));
    let service = match first {
        [serve, service] if serve == "serve" && (service == "oss" || service == "cos") => service,
        _ => return Err(USAGE.to_string()),
    };
    let mut opts = Options {
        service: service.clone(),
        ..Options::default()
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--port" => {
                opts.port = value
                    .parse()
                    .map_err(|_| format!("--port {value}: not a port number (0-65535)"))?
            }
            "--region" => opts.region = Some(value.clone()),
            "--bucket" => opts.buckets.push(value.clone()),
            "--clock-offset" => {
                opts.clock_offset = value
                    .parse()
                    .map_err(|_| format!("--clock-offset {value}: not a number of seconds"))?
            }
            "--access-key" => opts.access_key = Some(value.clone()),
            "--secret-key" => opts.secret_key = Some(value.clone()),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if opts.access_key.is_some() != opts.secret_key.is_some() {
        return Err("--access-key and --secret-key go together".to_string());
    }
    Ok(opts)
}

/// What `serve` needs of an emulator (the OSS and COS ones share this surface).
trait Emulator {
    fn endpoint(&self) -> &str;
    fn access_key(&self) -> &str;
    fn secret_key(&self) -> &str;
    fn create_bucket(&self, name: &str);
    fn add_credentials(&self, access_key: &str, secret_key: &str);
    fn set_clock_offset(&self, seconds: i64);
}

macro_rules! emulator {
    ($ty:ty) => {
        impl Emulator for $ty {
            fn endpoint(&self) -> &str {
                <$ty>::endpoint(self)
            }
            fn access_key(&self) -> &str {
                <$ty>::access_key(self)
            }
            fn secret_key(&self) -> &str {
                <$ty>::secret_key(self)
            }
            fn create_bucket(&self, name: &str) {
                <$ty>::create_bucket(self, name)
            }
            fn add_credentials(&self, access_key: &str, secret_key: &str) {
                <$ty>::add_credentials(self, access_key, secret_key)
            }
            fn set_clock_offset(&self, seconds: i64) {
                <$ty>::set_clock_offset(self, seconds)
            }
        }
    };
}
emulator!(OssEmulator);
emulator!(CosEmulator);

fn serve(opts: Options) -> std::io::Result<()> {
    let bind = format!("127.0.0.1:{}", opts.port);
    let (server, region): (Box<dyn Emulator>, &str) = match opts.service.as_str() {
        "cos" => {
            let region = opts
                .region
                .as_deref()
                .unwrap_or(stowage_testkit::cos::DEFAULT_REGION);
            (Box::new(CosEmulator::start_with(&bind, region)?), region)
        }
        _ => {
            let region = opts.region.as_deref().unwrap_or(DEFAULT_REGION);
            (Box::new(OssEmulator::start_with(&bind, region)?), region)
        }
    };
    server.set_clock_offset(opts.clock_offset);
    for bucket in &opts.buckets {
        server.create_bucket(bucket);
    }
    let (ak, sk) = match (&opts.access_key, &opts.secret_key) {
        (Some(ak), Some(sk)) => {
            server.add_credentials(ak, sk);
            (ak.as_str(), sk.as_str())
        }
        _ => (server.access_key(), server.secret_key()),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "ENDPOINT={}", server.endpoint())?;
    writeln!(out, "REGION={region}")?;
    writeln!(out, "ACCESS_KEY={ak}")?;
    writeln!(out, "SECRET_KEY={sk}")?;
    out.flush()?;
    drop(out);
    // The server runs on its own thread; this one only keeps the process alive.
    loop {
        std::thread::park();
    }
}

/// `stowage-testkit serve oss|cos …` (the whole argument list).
pub fn run(args: &[String]) -> ExitCode {
    match parse(args) {
        Ok(opts) => match serve(opts) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot start the emulator: {e}");
                ExitCode::FAILURE
            }
        },
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}
