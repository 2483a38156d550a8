//! The reconnect delay curve: exponential, capped, jittered. Pure functions of the attempt.

use std::time::Duration;

/// How long to wait between attempts.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Upper bound on the delay (applied before jitter).
    pub max: Duration,
    /// Growth per failed attempt (≥ 1).
    pub factor: f64,
    /// Fraction of each delay that is randomised away, 0.0–1.0: a delay `d` becomes a uniform
    /// pick in `[d × (1 − jitter), d]`, so a fleet dropped together does not return together.
    pub jitter: f64,
    /// A link must stay open this long before the curve starts again from `initial`.
    pub stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            factor: 2.0,
            jitter: 0.5,
            stable_after: Duration::from_secs(5),
        }
    }
}

/// Longest `Retry-After` we honour, so a misconfigured server cannot park a client for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Backoff {
    /// The un-jittered delay before retry number `retry` (1-based). Never panics, whatever the
    /// fields hold: a curve that overflows, or a factor that is not a number, stops at `max`.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(1024) as i32;
        let secs = self.initial.as_secs_f64() * self.factor.powi(exp);
        // NaN (no ordering) and infinity take the cap, like any value past it.
        if secs.partial_cmp(&self.max.as_secs_f64()) != Some(std::cmp::Ordering::Less) {
            return self.max;
        }
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(self.max)
    }

    /// The delay before retry number `retry`, jittered with `unit` drawn uniformly from [0, 1).
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let base = self.base_delay(retry);
        let keep = 1.0 - self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
        if keep.is_nan() || keep >= 1.0 {
            return base;
        }
        // Scaling down cannot overflow; the fallback only covers a base too large for an f64
        // round trip (near `Duration::MAX`).
        Duration::try_from_secs_f64(base.as_secs_f64() * keep).unwrap_or(base)
    }

    /// The delay to use when the server asked for at least `floor` (Retry-After, close 1013).
    pub fn delay_with_floor(&self, retry: u32, unit: f64, floor: Option<Duration>) -> Duration {
        let d = self.delay(retry, unit);
        match floor {
            Some(f) => d.max(f.min(MAX_RETRY_AFTER)),
            None => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grows_by_factor_and_caps() {
        let b = Backoff::default();
        assert_eq!(b.base_delay(1), ms(1000));
        assert_eq!(b.base_delay(2), ms(2000));
        assert_eq!(b.base_delay(4), ms(8000));
        assert_eq!(b.base_delay(5), ms(10000));
        assert_eq!(b.base_delay(500), ms(10000));
    }

    #[test]
    fn jitter_stays_in_window() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 0.0), ms(1000));
        assert_eq!(b.delay(1, 1.0), ms(500));
        let mid = b.delay(3, 0.5);
        assert!(mid >= ms(2000) && mid <= ms(4000));
        let none = Backoff { jitter: 0.0, ..b };
        assert_eq!(none.delay(2, 0.9), ms(2000));
    }

    #[test]
    fn retry_after_is_a_floor_with_a_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay_with_floor(1, 0.0, Some(ms(3000))), ms(3000));
        assert_eq!(b.delay_with_floor(4, 0.0, Some(ms(10))), ms(8000));
        assert_eq!(
            b.delay_with_floor(1, 0.0, Some(Duration::from_secs(86400))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn extreme_curves_never_panic_or_overflow() {
        let max = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
            ..Backoff::default()
        };
        for retry in [0, 1, 2, 64, 65, 1000, u32::MAX] {
            assert_eq!(max.base_delay(retry), Duration::MAX, "{retry}");
            let d = max.delay(retry, 0.99);
            assert!(d > Duration::from_secs(u64::MAX / 4), "{retry}: {d:?}");
            assert!(max.delay_with_floor(retry, 0.5, Some(Duration::MAX)) >= MAX_RETRY_AFTER);
        }
        // A factor so large that its powers are infinite, and factors that are not numbers.
        for factor in [f64::MAX, f64::INFINITY, f64::NAN, 1e308] {
            let b = Backoff {
                factor,
                ..Backoff::default()
            };
            for retry in [1, 2, 3, 64, u32::MAX] {
                let d = b.delay(retry, 0.5);
                assert!(d <= b.max, "{factor} {retry}: {d:?}");
            }
        }
        // Jitter out of range (unvalidated) still gives a delay within the curve.
        for jitter in [f64::NAN, -1.0, 2.0, f64::INFINITY] {
            let b = Backoff {
                jitter,
                ..Backoff::default()
            };
            assert!(b.delay(3, 0.7) <= ms(4000));
        }
        // Zero initial: zero, not a panic.
        let zero = Backoff {
            initial: Duration::ZERO,
            ..Backoff::default()
        };
        assert_eq!(zero.delay(10, 0.3), Duration::ZERO);
    }
}
