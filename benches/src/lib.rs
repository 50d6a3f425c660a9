//! Shared helpers for the benchmarks in `benches/`.

use std::time::{Duration, Instant};

/// Runs `f` `runs` times and returns the best wall time (least disturbed by the machine).
pub fn best_of<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// MiB/s for `bytes` moved in `d`.
pub fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64().max(1e-9)
}
