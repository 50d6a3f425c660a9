//! The library's words in the command line's: the library names settings and never a flag,
//! so its errors, doctor findings and placement notes get the flags that fix them here; and
//! the exit status of a command that passed or failed.

use std::process::ExitCode;

use anyhow::anyhow;
use stowage::check::CheckError;
use stowage::doctor::{Finding, Setting};
use stowage::{OpenError, SettingWords};

/// The settings the library's notes name, as flags.
pub const FLAG_WORDS: SettingWords<'static> = SettingWords {
    endpoint: "--endpoint",
    probe: "--probe-endpoints",
    set_from: "pass --from REGION",
    internal: "--internal",
    accelerate: "--accelerate",
};

/// The library's error with the flags that fix it.
pub fn open_error(e: OpenError) -> anyhow::Error {
    match e {
        OpenError::Store(e) => e.into(),
        e @ OpenError::UnknownRegion { .. } => {
            anyhow!("{e}. Use one of them, or give the endpoint yourself with --endpoint")
        }
        OpenError::RegionDiscovery { url, source } => anyhow!(
            "the bucket's region is needed to choose its endpoint (--from, --internal, --accelerate, --probe-endpoints) and asking {url} failed; pass --region to skip the question. {source}"
        ),
        OpenError::NoEndpointAnswers { detail } => anyhow!(
            "--probe-endpoints: {detail}. Fix: check this machine's network, DNS and firewall for these hosts, or give a reachable endpoint with --endpoint (or drop --probe-endpoints)"
        ),
        OpenError::NoCandidate => {
            anyhow!("the selector offered no endpoint; give one with --endpoint")
        }
        e @ OpenError::Endpoint(_) => anyhow!("{e}"),
    }
}

/// The library's error with the flags that fix it.
pub fn check_error(e: CheckError) -> anyhow::Error {
    match e {
        CheckError::NoManifest { key } => anyhow!(
            "no manifest at {key}: name what to verify against with --manifest FILE, --agora FILE (a query/stop response or webhook) or --dir DIR, or give the playlist's URL"
        ),
        CheckError::NoRepairSource => {
            anyhow!("--repair needs --from DIR or --from URL (the spool or the backup bucket)")
        }
        CheckError::NoSignedUrls { store } => anyhow!(
            "--playback-signed needs signed download URLs, which {store} does not have: pass --playback-base with the URL the bucket (or directory) is served at"
        ),
        CheckError::Open(e) => open_error(e),
        other => other.into(),
    }
}

/// A doctor finding with the flags for the setting it names.
pub fn finding(mut f: Finding) -> Finding {
    match f.setting {
        Some(Setting::Credentials) => {
            f.fix = Some("give --access-key and --secret-key, or the vendor's environment variables, or a profile".into());
        }
        Some(Setting::Region) => f.cause.push_str(" (--region)"),
        Some(Setting::From) => {
            f.cause = f
                .cause
                .replacen("is unknown", "is unknown (--from REGION)", 1);
        }
        Some(Setting::ReadOnly) => f.cause = "--read-only".into(),
        None => {}
    }
    f
}

/// Exit status 0 when `ok`, else 1.
pub fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
