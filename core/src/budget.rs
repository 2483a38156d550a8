//! The process-wide handshake budget: a token bucket per host, shared by every client, so a
//! mass drop cannot turn into a handshake flood.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket that hands out future slots: each reservation says how long to wait.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(per_second: u32, now: Instant) -> Self {
        let rate = f64::from(per_second.max(1));
        Bucket {
            rate,
            burst: rate,
            tokens: rate,
            last: now,
        }
    }

    /// Take one token; the returned wait is how long until that token exists.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

fn buckets() -> &'static Mutex<HashMap<String, Bucket>> {
    static BUCKETS: OnceLock<Mutex<HashMap<String, Bucket>>> = OnceLock::new();
    BUCKETS.get_or_init(Default::default)
}

/// Reserve a handshake slot for `host` (host:port); returns how long to wait before using it.
/// The first client to reach a host sets its rate.
pub(crate) fn reserve(host: &str, per_second: u32) -> Duration {
    let now = Instant::now();
    let mut map = buckets().lock().unwrap_or_else(|e| e.into_inner());
    map.entry(host.to_string())
        .or_insert_with(|| Bucket::new(per_second, now))
        .reserve(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_paced() {
        let now = Instant::now();
        let mut b = Bucket::new(10, now);
        for _ in 0..10 {
            assert_eq!(b.reserve(now), Duration::ZERO);
        }
        // The next ten are spread 100 ms apart.
        let waits: Vec<_> = (0..10).map(|_| b.reserve(now)).collect();
        assert!((waits[0].as_secs_f64() - 0.1).abs() < 1e-9);
        assert!((waits[9].as_secs_f64() - 1.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn refills_over_time() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2, t0);
        b.reserve(t0);
        b.reserve(t0);
        assert!(b.reserve(t0) > Duration::ZERO);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(b.reserve(later), Duration::ZERO);
    }
}
