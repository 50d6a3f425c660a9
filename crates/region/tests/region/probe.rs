//! The latency probe and failover against real local endpoints: HTTP listeners on
//! 127.0.0.1 that wait before answering, one that never answers, and a closed port.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stowage_core::{Error, ErrorKind};
use stowage_region::{Candidate, EndpointKind, Probe, Prober, with_failover};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// An HTTP endpoint that answers every request with `status` after `delay`.
struct Endpoint {
    url: String,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn endpoint(delay: Duration, status: u16) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    Endpoint {
        url,
        requests,
        task,
    }
}

/// A port nothing listens on: bound, then released.
async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn candidate(url: &str) -> Candidate {
    Candidate {
        kind: EndpointKind::Public,
        host: url.trim_start_matches("http://").to_string(),
        url: url.to_string(),
    }
}

fn prober(ttl: Duration) -> Prober {
    Prober::new(Duration::from_secs(5), ttl).unwrap()
}

#[tokio::test]
async fn picks_the_fastest_live_endpoint_and_puts_the_dead_one_last() {
    let slow = endpoint(Duration::from_millis(1500), 200).await;
    let medium = endpoint(Duration::from_millis(700), 200).await;
    // S3 answers an unsigned HEAD with 403: still a live endpoint.
    let fast = endpoint(Duration::ZERO, 403).await;
    let dead = closed_port_url().await;
    let candidates = [
        candidate(&dead),
        candidate(&slow.url),
        candidate(&fast.url),
        candidate(&medium.url),
    ];
    let p = prober(Duration::from_secs(600));
    let ranked = p.rank(&candidates).await;
    let order: Vec<&str> = ranked.iter().map(|r| r.candidate.url.as_str()).collect();
    assert_eq!(order, [&fast.url, &medium.url, &slow.url, &dead]);
    assert!(matches!(ranked[0].probe, Probe::Alive { status: 403, .. }));
    match &ranked[3].probe {
        Probe::Dead { reason } => assert!(!reason.is_empty()),
        alive => panic!("closed port probed alive: {alive:?}"),
    }
    let best = p.fastest(&candidates).await.unwrap();
    assert_eq!(best.candidate.url, fast.url);
}

#[tokio::test]
async fn results_are_cached_for_the_ttl() {
    let ep = endpoint(Duration::ZERO, 200).await;
    let p = prober(Duration::from_secs(600));
    assert!(p.probe(&ep.url).await.latency().is_some());
    assert!(
        p.probe(&format!("{}/some/path", ep.url))
            .await
            .latency()
            .is_some()
    );
    assert_eq!(
        ep.requests.load(Ordering::SeqCst),
        1,
        "second probe from the cache"
    );

    let fresh = prober(Duration::ZERO);
    fresh.probe(&ep.url).await;
    fresh.probe(&ep.url).await;
    assert_eq!(
        ep.requests.load(Ordering::SeqCst),
        3,
        "a zero TTL probes every time"
    );
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_dead_after_the_timeout() {
    let hung = endpoint(Duration::from_secs(3600), 200).await;
    let p = Prober::new(Duration::from_millis(300), Duration::ZERO).unwrap();
    match p.probe(&hung.url).await {
        Probe::Dead { reason } => assert!(reason.contains("no answer within 300 ms"), "{reason}"),
        alive => panic!("{alive:?}"),
    }
}

#[tokio::test]
async fn all_dead_is_a_network_error_naming_each() {
    let a = closed_port_url().await;
    let b = closed_port_url().await;
    let e = prober(Duration::ZERO)
        .fastest(&[candidate(&a), candidate(&b)])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Network);
    let text = e.to_string();
    assert!(text.contains(&a) && text.contains(&b), "{text}");
}

#[tokio::test]
async fn failover_moves_to_the_next_candidate_on_a_network_failure() {
    let live = endpoint(Duration::ZERO, 200).await;
    let dead = closed_port_url().await;
    let candidates = [candidate(&dead), candidate(&live.url)];
    let p = prober(Duration::ZERO);
    let (status, used) = with_failover(&candidates, |c| {
        let p = &p;
        async move {
            match p.probe(&c.url).await {
                Probe::Alive { status, .. } => Ok(status),
                Probe::Dead { reason } => Err(Error::new(ErrorKind::Network, reason)),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(used.url, live.url);
}

#[tokio::test]
async fn failover_stops_on_an_error_another_endpoint_would_repeat() {
    let candidates = [candidate("http://a.invalid"), candidate("http://b.invalid")];
    let tried = AtomicUsize::new(0);
    let e = with_failover(&candidates, |_| {
        tried.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(Error::new(ErrorKind::AccessDenied, "denied")) }
    })
    .await
    .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::AccessDenied);
    assert_eq!(tried.load(Ordering::SeqCst), 1);
}

/// Real vendors answer over HTTPS only: a TLS endpoint whose certificate chains to a trusted
/// CA is alive (the handshake is part of the measured connect), one whose CA is not trusted
/// is dead, with the certificate named as the reason.
#[tokio::test]
async fn https_endpoints_are_alive_only_with_a_trusted_certificate() {
    let plain = endpoint(Duration::ZERO, 403).await;
    let front = stowage_testkit::tls_front::TlsFront::start(&plain.url).await;
    let candidates = [candidate(front.url())];
    let ca = stowage_core::tls::CaBundle::from_pem(front.ca_pem(), "test CA").unwrap();
    let trusting =
        Prober::with_ca_bundle(Duration::from_secs(5), Duration::ZERO, Some(&ca)).unwrap();
    let ranked = trusting.rank(&candidates).await;
    assert!(
        matches!(ranked[0].probe, Probe::Alive { status: 403, .. }),
        "{:?}",
        ranked[0].probe
    );
    assert_eq!(
        plain.requests.load(Ordering::SeqCst),
        1,
        "the HEAD went through TLS"
    );

    match prober(Duration::ZERO).probe(front.url()).await {
        Probe::Dead { reason } => assert!(reason.contains("certificate"), "{reason}"),
        alive => panic!("an untrusted certificate probed alive: {alive:?}"),
    }
    assert_eq!(
        plain.requests.load(Ordering::SeqCst),
        1,
        "no request after a refused handshake"
    );
}
