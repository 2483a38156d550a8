//! The driver's side of time: tokio's clock mapped onto the machine's [`Time`].

use std::sync::OnceLock;

use tokio::time::Instant;

use crate::time::Time;

/// The monotonic timeline every client's machine shares (the handshake budget is
/// process-wide, so their times must be comparable).
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn shared() -> Clock {
        static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
        Clock {
            epoch: Instant::from_std(*EPOCH.get_or_init(std::time::Instant::now)),
        }
    }

    pub fn now(&self) -> Time {
        self.time(Instant::now())
    }

    pub fn time(&self, at: Instant) -> Time {
        Time::from_epoch(at.saturating_duration_since(self.epoch))
    }

    /// The instant of `t`, or `None` for a time too far away to wait for.
    pub fn instant(&self, t: Time) -> Option<Instant> {
        self.epoch.checked_add(t.since_epoch())
    }
}
