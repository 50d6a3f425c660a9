//! Stowage's local vendor emulators, runnable alone so other clients (the vendors' SDKs,
//! rclone, curl) can use them:
//!
//! ```text
//! stowage-testkit serve oss|cos [--port N] [--region R] [--bucket NAME]... [--access-key AK --secret-key SK] [--clock-offset SECONDS]
//! stowage-testkit serve kodo    [--port N] [--bucket NAME[:ZONE]]... [--access-key AK --secret-key SK]
//! ```
//!
//! Each prints its settings as `NAME=value` lines (endpoint, keys, region or zones) and
//! serves on 127.0.0.1 (see each module for when it stops).

mod kodo;
mod oss_cos;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let first_two: Vec<&str> = args.iter().take(2).map(String::as_str).collect();
    match first_two.as_slice() {
        ["serve", "oss" | "cos"] => oss_cos::run(&args),
        ["serve", "kodo"] => kodo::run(&args[2..]),
        _ => {
            eprintln!("{}\n{}", oss_cos::USAGE, kodo::USAGE);
            ExitCode::from(2)
        }
    }
}
