//! Retry with exponential backoff and full jitter, for errors that say they are retryable.

use std::future::Future;
use std::time::Duration;

use crate::error::Result;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No waiting between attempts (tests).
    pub fn immediate(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    /// The pause before attempt `attempt + 1` (attempt counts from 1), with full jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        cap.mul_f64(jitter_fraction())
    }

    /// Runs `op` until it succeeds, fails with a non-retryable error, or attempts run out.
    /// The last error is returned as it was.
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < self.max_attempts => {
                    let pause = self.backoff(attempt);
                    tracing::warn!(%what, attempt, error = %e, ?pause, "retrying");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A fraction in [0.5, 1.0) from the clock's low bits: enough spread to de-synchronise
/// retries without pulling in an RNG.
fn jitter_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    0.5 + f64::from(nanos % 1000) / 2000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind};
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_retryable_until_success() {
        let calls = AtomicU32::new(0);
        let v = RetryPolicy::immediate(4)
            .run("op", |_| async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(Error::new(ErrorKind::ServerError, "boom"))
                } else {
                    Ok(7)
                }
            })
            .await
            .unwrap();
        assert_eq!((v, calls.load(Ordering::SeqCst)), (7, 3));
    }

    #[tokio::test]
    async fn stops_at_non_retryable_and_at_max_attempts() {
        let calls = AtomicU32::new(0);
        let e = RetryPolicy::immediate(4)
            .run("op", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Error::new(ErrorKind::AccessDenied, "no"))
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind().clone(), calls.load(Ordering::SeqCst)),
            (ErrorKind::AccessDenied, 1)
        );
        calls.store(0, Ordering::SeqCst);
        RetryPolicy::immediate(3)
            .run("op", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Error::new(ErrorKind::Network, "reset"))
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        assert!(p.backoff(1) <= Duration::from_millis(100));
        assert!(p.backoff(3) >= Duration::from_millis(200));
        assert!(p.backoff(12) <= Duration::from_secs(1));
    }
}
