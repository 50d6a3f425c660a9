//! The latency probe: one fresh connection and one small request (`HEAD /`) per endpoint,
//! timed to the response headers, cached for a TTL. Any HTTP answer counts as alive (S3
//! answers an unsigned `HEAD /` with 403, and that is still a working endpoint); a refused
//! connection, a TLS failure or no answer within the timeout is dead.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use stowage_core::tls::CaBundle;
use stowage_core::{Error, ErrorKind, Result};

use crate::select::Candidate;

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Probe {
    Alive {
        #[serde(rename = "latency_ms", serialize_with = "as_millis")]
        latency: Duration,
        status: u16,
    },
    Dead {
        reason: String,
    },
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Probe {
    pub fn latency(&self) -> Option<Duration> {
        match self {
            Probe::Alive { latency, .. } => Some(*latency),
            Probe::Dead { .. } => None,
        }
    }
}

/// A candidate with its probe.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    #[serde(flatten)]
    pub candidate: Candidate,
    pub probe: Probe,
}

/// Probes endpoints and remembers the answers for `ttl`.
pub struct Prober {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Probe)>>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("timeout", &self.timeout)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Prober {
    /// A prober that gives up on an endpoint after `timeout` and trusts a result for `ttl`.
    pub fn new(timeout: Duration, ttl: Duration) -> Result<Self> {
        Prober::with_ca_bundle(timeout, ttl, None)
    }

    /// [`Prober::new`], also trusting `ca`'s certificates (a private CA, `--ca-bundle`).
    pub fn with_ca_bundle(timeout: Duration, ttl: Duration, ca: Option<&CaBundle>) -> Result<Self> {
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match ca {
            None => builder
                .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Other,
                        format!("cannot load the system's TLS root certificates: {e}"),
                    )
                })?,
            Some(ca) => builder.with_tls_config(tls_config_trusting(ca)?),
        };
        let https = builder.https_or_http().enable_http1().build();
        // No idle connections: every probe pays for its own connect, which is what it measures.
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(https);
        Ok(Prober {
            client,
            timeout,
            ttl,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Probes `url` (scheme and host; the path is ignored), or returns a fresh cached result.
    pub async fn probe(&self, url: &str) -> Probe {
        let base = origin(url);
        if let Some(hit) = self.cached(&base) {
            return hit;
        }
        let result = self.probe_now(&base).await;
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(base, (Instant::now(), result.clone()));
        result
    }

    fn cached(&self, base: &str) -> Option<Probe> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (at, probe) = cache.get(base)?;
        (at.elapsed() < self.ttl).then(|| probe.clone())
    }

    async fn probe_now(&self, base: &str) -> Probe {
        let request = match http::Request::head(format!("{base}/"))
            .header(http::header::USER_AGENT, "stowage-endpoint-probe")
            .body(Empty::<Bytes>::new())
        {
            Ok(r) => r,
            Err(e) => {
                return Probe::Dead {
                    reason: format!("not a usable URL: {e}"),
                };
            }
        };
        let start = Instant::now();
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Probe::Alive {
                latency: start.elapsed(),
                status: response.status().as_u16(),
            },
            Ok(Err(e)) => Probe::Dead {
                reason: error_chain(&e),
            },
            Err(_) => Probe::Dead {
                reason: format!("no answer within {} ms", self.timeout.as_millis()),
            },
        }
    }

    /// Probes every candidate at once; live ones fastest first, then dead ones in their order.
    pub async fn rank(&self, candidates: &[Candidate]) -> Vec<Ranked> {
        let probes = futures::future::join_all(candidates.iter().map(|c| self.probe(&c.url))).await;
        let mut ranked: Vec<Ranked> = candidates
            .iter()
            .cloned()
            .zip(probes)
            .map(|(candidate, probe)| Ranked { candidate, probe })
            .collect();
        // Stable: equal latencies and all dead ones keep the selector's order.
        ranked.sort_by_key(|r| r.probe.latency().unwrap_or(Duration::MAX));
        ranked
    }

    /// The fastest live candidate, or a network error naming why each one failed.
    pub async fn fastest(&self, candidates: &[Candidate]) -> Result<Ranked> {
        let ranked = self.rank(candidates).await;
        if let Some(best) = ranked.iter().find(|r| r.probe.latency().is_some()) {
            return Ok(best.clone());
        }
        Err(all_dead(&ranked))
    }
}

fn all_dead(ranked: &[Ranked]) -> Error {
    let reasons: Vec<String> = ranked
        .iter()
        .map(|r| match &r.probe {
            Probe::Dead { reason } => format!("{}: {reason}", r.candidate.url),
            Probe::Alive { .. } => format!("{}: alive", r.candidate.url),
        })
        .collect();
    Error::new(
        ErrorKind::Network,
        format!(
            "no endpoint answered ({})",
            if reasons.is_empty() {
                "no candidates".to_string()
            } else {
                reasons.join("; ")
            }
        ),
    )
}

/// A TLS client configuration with the system's roots and `ca`'s certificates.
fn tls_config_trusting(ca: &CaBundle) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for cert in CertificateDer::pem_slice_iter(ca.pem()) {
        let cert = cert.map_err(|e| {
            Error::invalid_input(format!(
                "the CA bundle {} is not valid PEM: {e}",
                ca.source()
            ))
        })?;
        roots.add(cert).map_err(|e| {
            Error::invalid_input(format!(
                "the CA bundle {} holds a certificate rustls cannot use as a root: {e}",
                ca.source()
            ))
        })?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Other, format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// `scheme://host[:port]` of a URL (a bare host gets `https://`).
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Runs `op` on each candidate in order until one succeeds. A retryable failure (network,
/// server error, throttling) moves on to the next candidate; any other error is returned at
/// once, since another endpoint of the same bucket would refuse the same way.
pub async fn with_failover<'a, T, F, Fut>(
    candidates: &'a [Candidate],
    mut op: F,
) -> Result<(T, &'a Candidate)>
where
    F: FnMut(&'a Candidate) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut last = None;
    for c in candidates {
        match op(c).await {
            Ok(v) => return Ok((v, c)),
            Err(e) if e.is_retryable() => {
                tracing::warn!(endpoint = %c.url, error = %e, "endpoint failed; trying the next one");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::invalid_input("no endpoint to try")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_keeps_scheme_and_authority_only() {
        assert_eq!(
            origin("https://b.s3.amazonaws.com/key?x=1"),
            "https://b.s3.amazonaws.com"
        );
        assert_eq!(origin("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(
            origin("oss-cn-hangzhou.aliyuncs.com/"),
            "https://oss-cn-hangzhou.aliyuncs.com"
        );
    }
}
