//! `stowage.toml`: where to listen, the NCS secret (from the environment or a file, never
//! inline), where state lives, how jobs run, and which bucket each recording lands in.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"
//! # tls_cert = "/etc/stowage/cert.pem"   # HTTPS here (NCS posts only to https URLs),
//! # tls_key = "/etc/stowage/key.pem"     # or terminate TLS in front
//! state = "/var/lib/stowage/serve.sqlite"
//!
//! [ncs]
//! secret_env = "AGORA_NCS_SECRET"     # or secret_file = "/run/credentials/stowage/ncs"
//!
//! [jobs]
//! workers = 4
//! grace = "30m"             # no 31/32 this long after the first event: verify anyway
//!
//! [[recordings]]
//! app = "main"              # optional: POST /agora/ncs/main
//! channel = "class-*"       # optional: cname pattern, `*` any run of characters
//! bucket = "s3://recordings"
//! prefix = "agora"
//! backup = "s3://recordings-backup"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use stowage_core::duration::parse_duration;
use stowage_core::{Error, Result};

/// A secret whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The whole configuration, resolved (the secret read, durations parsed).
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    /// HTTPS with this certificate and key (PEM); plain HTTP without.
    pub tls: Option<crate::TlsFiles>,
    /// The SQLite file holding events, per-recording state, reports and the embedded queue.
    pub state: PathBuf,
    pub secret: Secret,
    pub jobs: Jobs,
    /// Where each recording's compact result is POSTed, if anywhere.
    pub post_url: Option<String>,
    pub routes: Vec<Route>,
}

/// How jobs run.
#[derive(Debug, Clone)]
pub struct Jobs {
    pub workers: usize,
    /// A recording whose first event is this old without 31/32 is verified anyway.
    pub grace: Duration,
    /// How often the sweeper looks.
    pub sweep_every: Duration,
    /// Event 32 (files in Agora's backup cloud, re-sent to the bucket later): verify this long
    /// after it rather than at once.
    pub backuped_delay: Duration,
    /// The share of recordings verified a second time, `reverify_after` later.
    pub reverify_sample: f64,
    pub reverify_after: Duration,
    /// A leased job not finished in this time goes back to the queue (NATS: AckWait).
    pub visibility_timeout: Duration,
    /// Attempts before a job is dead-lettered.
    pub max_attempts: u32,
    /// Objects checked at once within one verification.
    pub concurrency: usize,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            workers: 4,
            grace: Duration::from_secs(30 * 60),
            sweep_every: Duration::from_secs(60),
            backuped_delay: Duration::ZERO,
            reverify_sample: 0.0,
            reverify_after: Duration::from_secs(24 * 3600),
            visibility_timeout: Duration::from_secs(300),
            max_attempts: 5,
            concurrency: 16,
        }
    }
}

/// Which bucket a recording lands in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Matches the `<app>` of `POST /agora/ncs/<app>` (NCS bodies carry no app id).
    pub app: Option<String>,
    /// A cname pattern; `*` stands for any run of characters.
    pub channel: Option<String>,
    /// The bucket's URL (s3://bucket, oss://bucket, file:///srv/bucket, …).
    pub bucket: String,
    /// The key prefix recordings are under (Agora's `fileNamePrefix`, joined with `/`).
    pub prefix: String,
    /// Where repairs come from: a bucket holding the same keys.
    pub backup: Option<String>,
}

impl Route {
    /// True when this route takes a recording of `app` (the URL's) and channel `cname`.
    pub fn matches(&self, app: Option<&str>, cname: Option<&str>) -> bool {
        let app_ok = match (&self.app, app) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            (Some(_), None) => false,
        };
        let channel_ok = match (&self.channel, cname) {
            (None, _) => true,
            (Some(pattern), Some(c)) => glob(pattern, c),
            (Some(_), None) => false,
        };
        app_ok && channel_ok
    }
}

impl Config {
    /// The first route that takes this recording.
    pub fn route(&self, app: Option<&str>, cname: Option<&str>) -> Option<&Route> {
        self.routes.iter().find(|r| r.matches(app, cname))
    }

    /// Reads and resolves a TOML file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::local_io(path, e))?;
        Config::parse(&text, |name| std::env::var(name).ok())
            .map_err(|e| Error::invalid_input(format!("{}: {}", path.display(), e.message())))
    }

    /// Parses TOML text; `env` looks up variables (the secret's).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| Error::invalid_input(format!("not a valid stowage.toml: {e}")))?;
        let secret = match (&raw.ncs.secret_env, &raw.ncs.secret_file) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_input(
                    "[ncs] sets both secret_env and secret_file: keep one",
                ));
            }
            (_, Some(file)) => {
                let text = std::fs::read_to_string(file).map_err(|e| Error::local_io(file, e))?;
                text.trim_end_matches(['\r', '\n']).to_string()
            }
            (env_name, None) => {
                let name = env_name.as_deref().unwrap_or(DEFAULT_SECRET_ENV);
                env(name).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "the NCS secret is not set: export {name} (the secret of the Notifications service in Agora's Console), or point [ncs] secret_file at a file holding it"
                    ))
                })?
            }
        };
        if secret.is_empty() {
            return Err(Error::invalid_input("the NCS secret is empty"));
        }
        let d = Jobs::default();
        let j = raw.jobs;
        let jobs = Jobs {
            workers: j.workers.unwrap_or(d.workers),
            grace: dur(j.grace.as_deref(), d.grace, "grace")?,
            sweep_every: dur(j.sweep_every.as_deref(), d.sweep_every, "sweep_every")?,
            backuped_delay: dur(
                j.backuped_delay.as_deref(),
                d.backuped_delay,
                "backuped_delay",
            )?,
            reverify_sample: j.reverify_sample.unwrap_or(d.reverify_sample),
            reverify_after: dur(
                j.reverify_after.as_deref(),
                d.reverify_after,
                "reverify_after",
            )?,
            visibility_timeout: dur(
                j.visibility_timeout.as_deref(),
                d.visibility_timeout,
                "visibility_timeout",
            )?,
            max_attempts: j.max_attempts.unwrap_or(d.max_attempts).max(1),
            concurrency: j.concurrency.unwrap_or(d.concurrency).max(1),
        };
        if !(0.0..=1.0).contains(&jobs.reverify_sample) {
            return Err(Error::invalid_input(
                "[jobs] reverify_sample is a share between 0 and 1",
            ));
        }
        let mut routes = Vec::new();
        for r in raw.recordings {
            check_bucket_url(&r.bucket)?;
            if let Some(b) = &r.backup {
                check_bucket_url(b)?;
            }
            routes.push(Route {
                app: r.app,
                channel: r.channel,
                bucket: r.bucket,
                prefix: r.prefix.unwrap_or_default().trim_matches('/').to_string(),
                backup: r.backup,
            });
        }
        if routes.is_empty() {
            return Err(Error::invalid_input(
                "no [[recordings]] section: name the bucket recordings land in (bucket = \"s3://…\")",
            ));
        }
        let tls = tls_files(raw.server.tls_cert, raw.server.tls_key)?;
        Ok(Config {
            listen: raw.server.listen.unwrap_or_else(|| "127.0.0.1:8080".into()),
            tls,
            state: raw
                .server
                .state
                .unwrap_or_else(|| PathBuf::from("stowage-serve.sqlite")),
            secret: Secret::new(secret.into_bytes()),
            jobs,
            post_url: raw.report.post_url,
            routes,
        })
    }
}

/// Both files or neither: a certificate without its key (or the reverse) is a mistake to
/// name, not a reason to serve plain HTTP.
pub fn tls_files(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<crate::TlsFiles>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(crate::TlsFiles { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::invalid_input(
            "a TLS certificate without its key: name the key too (tls_key, --tls-key)",
        )),
        (None, Some(_)) => Err(Error::invalid_input(
            "a TLS key without its certificate: name the certificate too (tls_cert, --tls-cert)",
        )),
    }
}

/// The variable the secret is read from when `[ncs]` names none.
pub const DEFAULT_SECRET_ENV: &str = "AGORA_NCS_SECRET";

/// A bucket URL names a bucket; its prefix goes in `prefix` (a `file://` URL is a directory).
fn check_bucket_url(url: &str) -> Result<()> {
    let parsed = stowage_core::StorageUrl::parse(url)?;
    if parsed.scheme != stowage_core::Scheme::File && !parsed.key.trim_matches('/').is_empty() {
        return Err(Error::invalid_input(format!(
            "bucket = \"{url}\" names a key inside the bucket: set bucket = \"{}://{}\" and prefix = \"{}\"",
            parsed.scheme.as_str(),
            parsed.bucket,
            parsed.key.trim_matches('/')
        )));
    }
    Ok(())
}

/// `*` matches any run of characters (none included); everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

fn dur(v: Option<&str>, default: Duration, name: &str) -> Result<Duration> {
    match v {
        None => Ok(default),
        Some(s) => parse_duration(s).map_err(|_| {
            Error::invalid_input(format!(
                "[jobs] {name} = \"{s}\" is not a duration (write 90s, 30m, 2h, 500ms)"
            ))
        }),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    ncs: RawNcs,
    #[serde(default)]
    jobs: RawJobs,
    #[serde(default)]
    report: RawReport,
    #[serde(default)]
    recordings: Vec<RawRoute>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    state: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNcs {
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawJobs {
    workers: Option<usize>,
    grace: Option<String>,
    sweep_every: Option<String>,
    backuped_delay: Option<String>,
    reverify_sample: Option<f64>,
    reverify_after: Option<String>,
    visibility_timeout: Option<String>,
    max_attempts: Option<u32>,
    concurrency: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawReport {
    post_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    app: Option<String>,
    channel: Option<String>,
    bucket: String,
    prefix: Option<String>,
    backup: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
[server]
listen = "127.0.0.1:0"
state = "/tmp/x.sqlite"
[ncs]
secret_env = "MY_SECRET"
[jobs]
workers = 2
grace = "90s"
reverify_sample = 0.5
[[recordings]]
app = "a1"
channel = "class-*"
bucket = "s3://rec"
prefix = "/agora/x/"
backup = "s3://rec-backup"
[[recordings]]
bucket = "file:///srv/bucket"
"#;

    #[test]
    fn parses_routes_jobs_and_the_secret_from_the_environment() {
        let c = Config::parse(TOML, |n| (n == "MY_SECRET").then(|| "s3cr3t".into())).unwrap();
        assert_eq!(c.secret.expose(), b"s3cr3t");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(c.jobs.workers, 2);
        assert_eq!(c.jobs.grace, Duration::from_secs(90));
        assert_eq!(c.routes[0].prefix, "agora/x");
        let r = c.route(Some("a1"), Some("class-7")).unwrap();
        assert_eq!(r.bucket, "s3://rec");
        assert_eq!(
            c.route(Some("a2"), Some("class-7")).unwrap().bucket,
            "file:///srv/bucket"
        );
        assert_eq!(c.route(None, None).unwrap().bucket, "file:///srv/bucket");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let e = Config::parse(TOML, |_| None).unwrap_err();
        assert!(e.to_string().contains("export MY_SECRET"), "{e}");
        let bad = "[ncs]\n[[recordings]]\nbucket = \"s3://rec/agora\"\n";
        let e = Config::parse(bad, |_| Some("s".into())).unwrap_err();
        assert!(e.to_string().contains("prefix = \"agora\""), "{e}");
        let e = Config::parse("[[recordings]]\nbucket=\"s3://b\"\nbukket=1\n", |_| {
            Some("s".into())
        })
        .unwrap_err();
        assert!(e.to_string().contains("bukket"), "{e}");
        let e = Config::parse(
            "[jobs]\ngrace=\"soon\"\n[[recordings]]\nbucket=\"s3://b\"\n",
            |_| Some("s".into()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a duration"), "{e}");
    }

    #[test]
    fn globs_and_durations() {
        assert!(glob("class-*", "class-"));
        assert!(glob("*-room-*", "a-room-b"));
        assert!(!glob("class-*", "lesson-1"));
        assert!(glob("exact", "exact"));
        assert!(!glob("a*b*c", "acb"));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert!(parse_duration("x").is_err());
    }
}
