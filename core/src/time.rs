//! Time as the machine and its advisers see it: a point on one monotonic timeline, handed in by
//! whoever drives them. Nothing here reads a clock, so a test can drive a client through hours
//! of backoff in microseconds, and the same code runs where `std::time::Instant` does not exist.
//!
//! Arithmetic saturates: a configured duration near `Duration::MAX` makes a deadline "never",
//! not a panic.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time: how long after the driver's epoch. Ordered, copyable, never wraps.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Duration);

impl Time {
    /// The epoch itself.
    pub const ZERO: Time = Time(Duration::ZERO);
    /// Later than any deadline a client can set.
    pub const NEVER: Time = Time(Duration::MAX);

    /// The point `d` after the epoch.
    pub const fn from_epoch(d: Duration) -> Time {
        Time(d)
    }

    /// How long after the epoch this is.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// How long after `earlier` this is; zero if it is not later.
    pub fn since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;

    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(d))
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_epoch(Duration::from_secs(5));
        assert_eq!(t + Duration::MAX, Time::NEVER);
        assert_eq!(t - Duration::from_secs(9), Time::ZERO);
        assert_eq!(Time::ZERO.since(t), Duration::ZERO);
        assert_eq!(t.since(Time::ZERO), Duration::from_secs(5));
    }
}
