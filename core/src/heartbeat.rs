//! When to ping and when a link is dead. Pure: the machine hands it the time.

use std::time::Duration;

use crate::event::Message;
use crate::time::Time;

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

/// What the driver must do now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Tick {
    /// Nothing yet; check again at this instant.
    Sleep(Time),
    /// Send a ping now.
    Ping,
    /// The link is dead.
    Dead,
}

/// The liveness clock of one open link.
#[derive(Debug)]
pub(crate) struct Liveness {
    /// Time between pings; `None` when no heartbeat is configured and only a
    /// `network_changed()` probe ever pings.
    interval: Option<Duration>,
    /// Silence after which the link is dead (`interval + timeout`); `None` without a heartbeat.
    dead_after: Option<Duration>,
    last_rx: Time,
    next_ping: Time,
    ping_sent: Option<Time>,
    probe_deadline: Option<Time>,
    /// When the running probe started: only what arrives after it answers it.
    probe_started: Time,
    reading_paused: bool,
}

impl Liveness {
    /// Start the clock for a link that opened at `now`.
    pub fn new(hb: &Heartbeat, now: Time) -> Self {
        Liveness {
            interval: Some(hb.interval),
            dead_after: Some(hb.interval.saturating_add(hb.timeout)),
            next_ping: now + hb.interval,
            ..Self::probe_only(now)
        }
    }

    /// A link without a heartbeat: nothing is sent and silence is never death, until a
    /// `network_changed()` probe asks for an answer.
    pub fn probe_only(now: Time) -> Self {
        Liveness {
            interval: None,
            dead_after: None,
            last_rx: now,
            next_ping: Time::NEVER,
            ping_sent: None,
            probe_deadline: None,
            probe_started: now,
            reading_paused: false,
        }
    }

    /// Something arrived at `at` (a frame, or just bytes of one): the link is alive. Never moves
    /// the clock back, and answers a probe only if it arrived after the probe started.
    pub fn on_receive(&mut self, at: Time) {
        self.last_rx = self.last_rx.max(at);
        if at >= self.probe_started {
            self.probe_deadline = None;
        }
    }

    /// A pong (protocol or app-level) arrived: returns the RTT of the last ping.
    pub fn on_pong(&mut self, now: Time) -> Option<Duration> {
        self.on_receive(now);
        self.ping_sent.take().map(|t| now.since(t))
    }

    /// We stopped reading because the event consumer is behind. Silence we cause is not the
    /// link's fault, so the dead check is suspended until reading resumes.
    pub fn pause_reading(&mut self) {
        self.reading_paused = true;
    }

    /// Reading resumed: restart the silence clock from now.
    pub fn resume_reading(&mut self, now: Time) {
        if self.reading_paused {
            self.reading_paused = false;
            self.last_rx = self.last_rx.max(now);
        }
    }

    /// `network_changed()`: ping now and expect an answer within `within`.
    pub fn probe(&mut self, now: Time, within: Duration) {
        self.probe_deadline = Some(now + within);
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

    /// The instant after which silence means death (`Time::NEVER` when nothing can kill it).
    pub fn dead_at(&self) -> Time {
        let by_silence = self.dead_after.map_or(Time::NEVER, |d| self.last_rx + d);
        match self.probe_deadline {
            Some(p) => p.min(by_silence),
            None => by_silence,
        }
    }

    /// When [`tick`](Self::tick) has something to do next (a ping, or the dead check).
    pub fn next_wake(&self) -> Time {
        if self.reading_paused {
            self.next_ping
        } else {
            self.next_ping.min(self.dead_at())
        }
    }

    /// Decide what to do at `now`.
    pub fn tick(&mut self, now: Time) -> Tick {
        if !self.reading_paused && now >= self.dead_at() {
            return Tick::Dead;
        }
        if now >= self.next_ping {
            self.next_ping = self.interval.map_or(Time::NEVER, |i| now + i);
            if self.ping_sent.is_none() {
                self.ping_sent = Some(now);
            }
            return Tick::Ping;
        }
        Tick::Sleep(self.next_wake())
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

    fn at(ms: u64) -> Time {
        Time::from_epoch(Duration::from_millis(ms))
    }

    #[test]
    fn silent_link_dies_after_interval_plus_timeout() {
        let mut l = Liveness::new(&hb(1000, 500), at(0));
        assert_eq!(l.tick(at(0)), Tick::Sleep(at(1000)));
        assert_eq!(l.tick(at(1000)), Tick::Ping);
        assert_eq!(l.tick(at(1001)), Tick::Sleep(at(1500)));
        assert_eq!(l.tick(at(1500)), Tick::Dead);
    }

    #[test]
    fn traffic_keeps_it_alive_and_pong_gives_rtt() {
        let mut l = Liveness::new(&hb(1000, 500), at(0));
        assert_eq!(l.tick(at(1000)), Tick::Ping);
        assert_eq!(l.on_pong(at(1040)), Some(Duration::from_millis(40)));
        assert_ne!(l.tick(at(2400)), Tick::Dead);
    }

    #[test]
    fn stalled_consumer_is_not_a_dead_link() {
        let mut l = Liveness::new(&hb(100, 100), at(0));
        l.pause_reading();
        assert_ne!(l.tick(at(10_000)), Tick::Dead);
        l.resume_reading(at(10_000));
        assert_ne!(l.tick(at(10_150)), Tick::Dead);
        assert_eq!(l.tick(at(10_200)), Tick::Dead);
    }

    #[test]
    fn bytes_read_earlier_neither_rewind_the_clock_nor_answer_a_probe() {
        let mut l = Liveness::new(&hb(1000, 1000), at(0));
        l.on_receive(at(1500));
        l.on_receive(at(500)); // reported late: must not shorten the link's life
        assert_eq!(l.dead_at(), at(3500));
        l.probe(at(2000), Duration::from_millis(300));
        l.on_receive(at(1900)); // before the probe: no answer to it
        assert_eq!(l.tick(at(2300)), Tick::Dead);
    }

    #[test]
    fn probe_shortens_the_deadline() {
        let mut l = Liveness::new(&hb(30_000, 10_000), at(0));
        l.probe(at(0), Duration::from_millis(300));
        assert_eq!(l.tick(at(0)), Tick::Ping);
        assert_eq!(l.tick(at(300)), Tick::Dead);
    }

    #[test]
    fn without_a_heartbeat_only_a_probe_pings_or_kills() {
        let mut l = Liveness::probe_only(at(0));
        assert_eq!(l.tick(at(86_400_000)), Tick::Sleep(Time::NEVER));
        l.probe(at(100), Duration::from_millis(300));
        assert_eq!(l.tick(at(100)), Tick::Ping);
        assert_eq!(l.tick(at(150)), Tick::Sleep(at(400)));
        l.on_pong(at(200));
        assert_eq!(l.tick(at(10_000)), Tick::Sleep(Time::NEVER));
    }

    #[test]
    fn huge_settings_never_overflow() {
        let huge = Heartbeat {
            interval: Duration::MAX / 2,
            timeout: Duration::MAX / 2,
            app_ping: None,
        };
        let mut l = Liveness::new(&huge, at(5));
        assert!(matches!(l.tick(at(10)), Tick::Sleep(_)));
        assert_eq!(l.dead_at(), Time::NEVER);
        l.probe(at(10), Duration::MAX);
        assert_eq!(l.tick(at(10)), Tick::Ping);
    }
}
