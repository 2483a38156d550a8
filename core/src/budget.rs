//! The process-wide handshake budget per host, shared by every client, so a mass drop cannot
//! turn into a handshake flood.
//!
//! The promise, as the code keeps it, for a budget of `rate` per second:
//! - at most `rate` handshakes start in any one-second window;
//! - at most `burst` (a tenth of `rate`, at least 1) start at the same instant;
//! - beyond the burst they are paced, one every `1 / rate` seconds.
//!
//! So 2,000 clients dropped together reach a 50/s host as 5 at once, then one every 20 ms.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::time::Time;

const WINDOW: Duration = Duration::from_secs(1);

/// The budget's key for a URL: `host:port`, the port explicit.
pub fn host_key(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    format!("{host}:{port}")
}

/// The slots handed out for one host: each reservation says how long to wait for its slot.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: u32,
    /// Time between paced slots (`1 / rate`).
    spacing: Duration,
    /// How far ahead of the pacing a slot may be taken (the burst, less one, times `spacing`).
    tolerance: Duration,
    /// The pacing's next slot if nobody had burst ahead (GCRA's theoretical arrival time).
    paced: Time,
    /// The last `rate` slots handed out, oldest first (the one-second window's memory).
    recent: VecDeque<Time>,
}

impl Bucket {
    pub fn new(per_second: u32, now: Time) -> Self {
        let rate = per_second.max(1);
        let spacing = WINDOW / rate;
        let burst = (rate / 10).max(1);
        Bucket {
            rate,
            spacing,
            tolerance: spacing * (burst - 1),
            paced: now,
            recent: VecDeque::with_capacity(rate.min(1024) as usize),
        }
    }

    /// The most handshakes that start at one instant.
    #[cfg(test)]
    pub fn burst(&self) -> u32 {
        (self.rate / 10).max(1)
    }

    /// Take the next slot; the returned wait is how long until it starts.
    pub fn reserve(&mut self, now: Time) -> Duration {
        // Pacing: no earlier than the paced slot minus the burst's allowance.
        let mut slot = now.max(self.paced - self.tolerance);
        // Window: the slot `rate` places back must be at least a second before this one.
        if self.recent.len() as u32 >= self.rate {
            if let Some(&oldest) = self.recent.front() {
                slot = slot.max(oldest + WINDOW);
            }
        }
        // Slots are handed out in order, so `recent` stays sorted.
        if let Some(&last) = self.recent.back() {
            slot = slot.max(last);
        }
        self.paced = self.paced.max(slot) + self.spacing;
        self.recent.push_back(slot);
        while self.recent.len() as u32 > self.rate {
            self.recent.pop_front();
        }
        slot.since(now)
    }
}

/// The buckets of every host: one table per process (see [`shared`]), or one per simulation.
#[derive(Debug, Default)]
pub struct Budgets(Mutex<HashMap<String, Bucket>>);

impl Budgets {
    /// Reserve a handshake slot for `host` (host:port) at `now`; returns how long to wait before
    /// using it. The first client to reach a host sets its rate.
    pub fn reserve(&self, host: &str, per_second: u32, now: Time) -> Duration {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(host.to_string())
            .or_insert_with(|| Bucket::new(per_second, now))
            .reserve(now)
    }
}

/// The process-wide table every client shares.
pub fn shared() -> Arc<Budgets> {
    static BUDGETS: OnceLock<Arc<Budgets>> = OnceLock::new();
    BUDGETS.get_or_init(Arc::default).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Start times of `n` reservations all made at `now`.
    fn starts(b: &mut Bucket, now: Time, n: usize) -> Vec<Duration> {
        (0..n).map(|_| b.reserve(now)).collect()
    }

    /// The most slots in any half-open window `[t, t + 1 s)`.
    fn busiest_second(slots: &[Duration]) -> usize {
        slots
            .iter()
            .map(|&t| slots.iter().filter(|&&s| s >= t && s < t + WINDOW).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_mass_drop_gets_the_burst_then_paced_slots() {
        let now = Time::ZERO;
        let mut b = Bucket::new(50, now);
        let slots = starts(&mut b, now, 2000);
        assert_eq!(b.burst(), 5);
        assert!(slots[..5].iter().all(|d| d.is_zero()), "{:?}", &slots[..6]);
        assert!(slots[5] > Duration::ZERO);
        assert!(busiest_second(&slots) <= 50, "{}", busiest_second(&slots));
        // 2,000 at 50/s: the last starts about 40 s later.
        let last = slots[1999].as_secs_f64();
        assert!((39.0..=40.0).contains(&last), "{last}");
        // Never more than the burst within one spacing.
        let same_instant = slots.iter().filter(|d| d.is_zero()).count();
        assert_eq!(same_instant, 5);
    }

    #[test]
    fn the_window_holds_for_small_rates_and_idle_time_refills() {
        let t0 = Time::ZERO;
        let mut b = Bucket::new(3, t0);
        assert_eq!(b.burst(), 1);
        let slots = starts(&mut b, t0, 9);
        assert!(busiest_second(&slots) <= 3);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.reserve(later), Duration::ZERO);
    }

    #[test]
    fn arrivals_spread_over_time_are_never_delayed_below_the_rate() {
        let t0 = Time::ZERO;
        let mut b = Bucket::new(10, t0);
        // One every 150 ms is under 10/s: no waiting at all.
        for i in 0..20 {
            let now = t0 + Duration::from_millis(150 * i);
            assert_eq!(b.reserve(now), Duration::ZERO, "arrival {i}");
        }
    }
}
