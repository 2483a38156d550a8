//! When to ping and when a link is dead. Pure: the supervisor feeds it the clock.

use std::time::Duration;

use tokio::time::Instant;

use crate::event::Message;

/// Keep-alive settings.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    /// Time between pings.
    pub interval: Duration,
    /// Extra silence tolerated after a missed ping: dead after `interval + timeout` of nothing.
    pub timeout: Duration,
    /// Send this application-level message instead of a protocol Ping (for servers that want `{"type":"ping"}`).
    pub app_ping: Option<AppPing>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            app_ping: None,
        }
    }
}

/// An application-level ping and how to recognise its answer.
#[derive(Clone, Debug)]
pub struct AppPing {
    /// The message sent as a ping.
    pub payload: Message,
    /// An inbound text message that counts as the pong (it is not delivered as a `Message` event).
    pub pong: PongMatch,
}

/// How an application-level pong is recognised.
#[derive(Clone, Debug)]
pub enum PongMatch {
    /// The whole text equals this.
    Exact(String),
    /// The text contains this.
    Contains(String),
}

impl PongMatch {
    /// Whether `text` is the pong.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            PongMatch::Exact(s) => text == s,
            PongMatch::Contains(s) => text.contains(s.as_str()),
        }
    }
}

/// What the supervisor must do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Tick {
    /// Nothing yet; check again at this instant.
    Sleep(Instant),
    /// Send a ping now.
    Ping,
    /// The link is dead.
    Dead,
}

/// How far ahead "never" is: a deadline beyond the clock's range is moved back to this (30
/// years, as tokio's own far future), which no link outlives.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// `t + d`, saturating instead of panicking when `d` runs past the clock's range.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(FAR_FUTURE))
        .unwrap_or(t)
}

/// The liveness clock of one open link.
#[derive(Debug)]
pub struct Liveness {
    interval: Duration,
    dead_after: Duration,
    last_rx: Instant,
    next_ping: Instant,
    ping_sent: Option<Instant>,
    probe_deadline: Option<Instant>,
    /// When the running probe started: only what arrives after it answers it.
    probe_started: Instant,
    reading_paused: bool,
}

impl Liveness {
    /// Start the clock for a link that opened at `now`.
    pub fn new(hb: &Heartbeat, now: Instant) -> Self {
        Liveness {
            interval: hb.interval,
            dead_after: hb.interval.saturating_add(hb.timeout),
            last_rx: now,
            next_ping: later(now, hb.interval),
            ping_sent: None,
            probe_deadline: None,
            probe_started: now,
            reading_paused: false,
        }
    }

    /// Something arrived at `at` (a frame, or just bytes of one): the link is alive. Never moves
    /// the clock back, and answers a probe only if it arrived after the probe started.
    pub fn on_receive(&mut self, at: Instant) {
        self.last_rx = self.last_rx.max(at);
        if at >= self.probe_started {
            self.probe_deadline = None;
        }
    }

    /// A pong (protocol or app-level) arrived: returns the RTT of the last ping.
    pub fn on_pong(&mut self, now: Instant) -> Option<Duration> {
        self.on_receive(now);
        self.ping_sent
            .take()
            .map(|t| now.saturating_duration_since(t))
    }

    /// We stopped reading because the event consumer is behind. Silence we cause is not the
    /// link's fault, so the dead check is suspended until reading resumes.
    pub fn pause_reading(&mut self) {
        self.reading_paused = true;
    }

    /// Reading resumed: restart the silence clock from now.
    pub fn resume_reading(&mut self, now: Instant) {
        if self.reading_paused {
            self.reading_paused = false;
            self.last_rx = self.last_rx.max(now);
        }
    }

    /// `network_changed()`: ping now and expect an answer within `within`.
    pub fn probe(&mut self, now: Instant, within: Duration) {
        self.probe_deadline = Some(later(now, within));
        self.probe_started = now;
        self.next_ping = now;
    }

    /// Whether a `network_changed()` probe is waiting for its answer.
    pub fn probing(&self) -> bool {
        self.probe_deadline.is_some()
    }

    /// Whether the dead check is suspended because we stopped reading.
    pub fn reading_paused(&self) -> bool {
        self.reading_paused
    }

    /// The instant after which silence means death.
    pub fn dead_at(&self) -> Instant {
        let by_silence = later(self.last_rx, self.dead_after);
        match self.probe_deadline {
            Some(p) => p.min(by_silence),
            None => by_silence,
        }
    }

    /// Decide what to do at `now`.
    pub fn tick(&mut self, now: Instant) -> Tick {
        if !self.reading_paused && now >= self.dead_at() {
            return Tick::Dead;
        }
        if now >= self.next_ping {
            self.next_ping = later(now, self.interval);
            if self.ping_sent.is_none() {
                self.ping_sent = Some(now);
            }
            return Tick::Ping;
        }
        let wake = if self.reading_paused {
            self.next_ping
        } else {
            self.next_ping.min(self.dead_at())
        };
        Tick::Sleep(wake)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(interval: u64, timeout: u64) -> Heartbeat {
        Heartbeat {
            interval: Duration::from_millis(interval),
            timeout: Duration::from_millis(timeout),
            app_ping: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silent_link_dies_after_interval_plus_timeout() {
        let t0 = Instant::now();
        let mut l = Liveness::new(&hb(1000, 500), t0);
        assert_eq!(l.tick(t0), Tick::Sleep(t0 + Duration::from_millis(1000)));
        assert_eq!(l.tick(t0 + Duration::from_millis(1000)), Tick::Ping);
        assert_eq!(
            l.tick(t0 + Duration::from_millis(1001)),
            Tick::Sleep(t0 + Duration::from_millis(1500))
        );
        assert_eq!(l.tick(t0 + Duration::from_millis(1500)), Tick::Dead);
    }

    #[tokio::test(start_paused = true)]
    async fn traffic_keeps_it_alive_and_pong_gives_rtt() {
        let t0 = Instant::now();
        let mut l = Liveness::new(&hb(1000, 500), t0);
        assert_eq!(l.tick(t0 + Duration::from_millis(1000)), Tick::Ping);
        let rtt = l.on_pong(t0 + Duration::from_millis(1040));
        assert_eq!(rtt, Some(Duration::from_millis(40)));
        assert_ne!(l.tick(t0 + Duration::from_millis(2400)), Tick::Dead);
    }

    #[tokio::test(start_paused = true)]
    async fn stalled_consumer_is_not_a_dead_link() {
        let t0 = Instant::now();
        let mut l = Liveness::new(&hb(100, 100), t0);
        l.pause_reading();
        let later = t0 + Duration::from_secs(10);
        assert_ne!(l.tick(later), Tick::Dead);
        l.resume_reading(later);
        assert_ne!(l.tick(later + Duration::from_millis(150)), Tick::Dead);
        assert_eq!(l.tick(later + Duration::from_millis(200)), Tick::Dead);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_read_earlier_neither_rewind_the_clock_nor_answer_a_probe() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut l = Liveness::new(&hb(1000, 1000), t0);
        l.on_receive(t0 + ms(1500));
        l.on_receive(t0 + ms(500)); // reported late: must not shorten the link's life
        assert_eq!(l.dead_at(), t0 + ms(3500));
        l.probe(t0 + ms(2000), ms(300));
        l.on_receive(t0 + ms(1900)); // before the probe: no answer to it
        assert_eq!(l.tick(t0 + ms(2300)), Tick::Dead);
    }

    #[tokio::test(start_paused = true)]
    async fn probe_shortens_the_deadline() {
        let t0 = Instant::now();
        let mut l = Liveness::new(&hb(30_000, 10_000), t0);
        l.probe(t0, Duration::from_millis(300));
        assert_eq!(l.tick(t0), Tick::Ping);
        assert_eq!(l.tick(t0 + Duration::from_millis(300)), Tick::Dead);
    }

    #[tokio::test(start_paused = true)]
    async fn huge_intervals_saturate_instead_of_panicking() {
        let t0 = Instant::now();
        let half = Duration::from_secs(u64::MAX / 2);
        for (interval, timeout) in [
            (half, half),
            (Duration::MAX, Duration::MAX),
            (Duration::MAX, Duration::from_secs(1)),
            (Duration::from_secs(1), Duration::MAX),
        ] {
            let hb = Heartbeat {
                interval,
                timeout,
                app_ping: None,
            };
            let mut l = Liveness::new(&hb, t0);
            // Far in the future, not a wrapped-around instant in the past.
            assert!(
                l.dead_at() > t0 + Duration::from_secs(86_400),
                "{interval:?}"
            );
            match l.tick(t0 + Duration::from_secs(3600)) {
                Tick::Sleep(at) => assert!(at > t0 + Duration::from_secs(3600)),
                Tick::Ping if interval == Duration::from_secs(1) => {}
                other => panic!("{interval:?} {timeout:?}: {other:?}"),
            }
            l.on_receive(t0 + Duration::from_secs(1));
            l.probe(t0, Duration::MAX);
            assert!(l.dead_at() > t0 + Duration::from_secs(86_400));
            assert_ne!(l.tick(t0 + Duration::from_secs(7200)), Tick::Dead);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pong_timed_before_its_ping_gives_zero_rtt() {
        let t0 = Instant::now();
        let mut l = Liveness::new(&hb(1000, 500), t0);
        assert_eq!(l.tick(t0 + Duration::from_millis(1000)), Tick::Ping);
        assert_eq!(l.on_pong(t0), Some(Duration::ZERO));
    }
}
