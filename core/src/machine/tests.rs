//! The machine's timing, tested with simulated time: each test drives a client through seconds
//! or hours of backoff, heartbeats and budgets in microseconds of real time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::event::Cause;
use crate::heartbeat::{AppPing, PongMatch};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(ms: u64) -> Time {
    Time::from_epoch(Duration::from_millis(ms))
}

/// The defaults of docs/contract.md, heartbeat and budget off unless a test turns them on.
fn settings() -> Settings {
    Settings {
        log_url: "ws://sim/".into(),
        host_key: "sim:80".into(),
        url: Url::parse("ws://sim/").unwrap(),
        locate: false,
        backoff: Backoff {
            jitter: 0.0,
            ..Backoff::default()
        },
        max_retries: None,
        max_elapsed: None,
        heartbeat: None,
        terminal: TerminalPolicy::default(),
        handshake_budget: None,
        connect_timeout: secs(10),
        close_timeout: secs(2),
    }
}

fn heartbeat(interval: u64, timeout: u64) -> Option<Heartbeat> {
    Some(Heartbeat {
        interval: ms(interval),
        timeout: ms(timeout),
        app_ping: None,
    })
}

/// One simulated client. The sim plays the driver: it answers greetings and shuts at once,
/// and leaves attempts in flight until the test says how they end.
struct Sim {
    m: Machine,
    now: Time,
    /// Every action, with when it was taken.
    log: Vec<(Time, Action)>,
    /// An attempt is in flight (the last `Connect` not yet answered).
    connecting: bool,
    /// The URL provider was asked (the last `Locate` not yet answered).
    locating: bool,
}

impl Sim {
    fn new(settings: Settings) -> Sim {
        Self::with_budgets(settings, Arc::default(), 7)
    }

    fn with_budgets(settings: Settings, budgets: Arc<Budgets>, seed: u64) -> Sim {
        Sim {
            m: Machine::new(settings, budgets, seed),
            now: Time::ZERO,
            log: Vec::new(),
            connecting: false,
            locating: false,
        }
    }

    /// Take the machine's actions, playing the driver's quick answers.
    fn drain(&mut self) {
        while let Some(action) = self.m.poll_action() {
            match &action {
                Action::Connect { .. } => self.connecting = true,
                Action::Locate { .. } => self.locating = true,
                Action::Abandon => {
                    self.connecting = false;
                    self.locating = false;
                }
                Action::Greet { .. } => {
                    self.log.push((self.now, action));
                    self.m.greeted(self.now, None);
                    continue;
                }
                Action::Close { .. } | Action::Shut { .. } => {
                    self.log.push((self.now, action));
                    self.m.shut_done(self.now);
                    continue;
                }
                _ => {}
            }
            self.log.push((self.now, action));
        }
    }

    fn command(&mut self, command: Command) {
        self.m.command(self.now, command);
        self.drain();
    }

    /// Move time forward to `t`, firing every timer on the way.
    fn advance_to(&mut self, t: Time) {
        while let Some(deadline) = self.m.poll_timeout() {
            if deadline > t {
                break;
            }
            self.now = self.now.max(deadline);
            self.m.handle_timeout(self.now);
            self.drain();
        }
        self.now = t;
    }

    fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    /// Run until the machine asks for an attempt; returns how long that took.
    fn until_connect(&mut self) -> Duration {
        let start = self.now;
        for _ in 0..1000 {
            if self.connecting {
                return self.now.since(start);
            }
            let next = self
                .m
                .poll_timeout()
                .expect("no timer and no attempt: stuck");
            self.advance_to(next);
        }
        panic!("no attempt");
    }

    fn open(&mut self) {
        assert!(self.connecting, "no attempt in flight");
        self.connecting = false;
        self.m.attempt_done(self.now, Ok(Opened::default()));
        self.drain();
    }

    fn refuse(&mut self, cause: Cause) {
        assert!(self.connecting, "no attempt in flight");
        self.connecting = false;
        self.m.attempt_done(self.now, Err(cause));
        self.drain();
    }

    fn events(&self) -> Vec<&Event> {
        self.log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Emit(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn last_event(&self) -> &Event {
        self.events().last().copied().expect("no event")
    }

    /// The delays of every `Reconnecting` event so far.
    fn delays(&self) -> Vec<Duration> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Reconnecting { delay, .. } => Some(*delay),
                _ => None,
            })
            .collect()
    }

    fn connects(&self) -> Vec<(Time, u32, bool)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Connect {
                    attempt,
                    after_unauthorized,
                    ..
                } => Some((*t, *attempt, *after_unauthorized)),
                _ => None,
            })
            .collect()
    }

    /// The URL of every `Connect`, in order.
    fn urls(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Connect { url, .. } => Some(url.to_string()),
                _ => None,
            })
            .collect()
    }

    /// How many times the URL provider was asked.
    fn locates(&self) -> usize {
        self.log
            .iter()
            .filter(|(_, a)| matches!(a, Action::Locate { .. }))
            .count()
    }

    /// Answer the URL provider's question.
    fn locate(&mut self, result: Result<&str, Cause>) {
        assert!(self.locating, "the provider was not asked");
        self.locating = false;
        self.m
            .located(self.now, result.map(|u| Url::parse(u).unwrap()));
        self.drain();
    }

    /// Run until the machine asks the URL provider; returns how long that took.
    fn until_locate(&mut self) -> Duration {
        let start = self.now;
        for _ in 0..1000 {
            if self.locating {
                return self.now.since(start);
            }
            let next = self
                .m
                .poll_timeout()
                .expect("no timer and no question: stuck");
            self.advance_to(next);
        }
        panic!("no question");
    }

    fn count_attempts(&self) -> usize {
        self.log
            .iter()
            .filter(|(_, a)| matches!(a, Action::CountAttempt))
            .count()
    }

    fn pings(&self) -> Vec<Time> {
        self.log
            .iter()
            .filter_map(|(t, a)| matches!(a, Action::Ping(_)).then_some(*t))
            .collect()
    }
}

fn refused() -> Cause {
    Cause::ConnectFailed("refused".into())
}

// ----- backoff --------------------------------------------------------------------------

#[test]
fn the_backoff_curve_doubles_to_its_cap() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    for _ in 0..7 {
        sim.until_connect();
        sim.refuse(refused());
    }
    let expected: Vec<_> = [1, 2, 4, 8, 10, 10, 10].map(secs).into();
    assert_eq!(sim.delays(), expected);
    // Each attempt starts exactly when its delay ends.
    let starts: Vec<_> = sim.connects().iter().map(|(t, _, _)| *t).collect();
    assert_eq!(starts[1].since(starts[0]), secs(1));
    assert_eq!(starts[4].since(starts[3]), secs(8));
}

#[test]
fn jitter_stays_in_its_window_and_replays_from_the_seed() {
    let jittery = Settings {
        backoff: Backoff::default(),
        ..settings()
    };
    let run = |seed| {
        let mut sim = Sim::with_budgets(jittery.clone(), Arc::default(), seed);
        sim.command(Command::Connect);
        for _ in 0..6 {
            sim.until_connect();
            sim.refuse(refused());
        }
        sim.delays()
    };
    let delays = run(1);
    for (d, base) in delays.iter().zip([1000, 2000, 4000, 8000, 10_000, 10_000]) {
        assert!(
            *d >= ms(base / 2) && *d <= ms(base),
            "{d:?} outside [{}, {base}] ms",
            base / 2
        );
    }
    assert_eq!(run(1), delays, "same seed, same delays");
    assert_ne!(run(2), delays, "another seed, other delays");
}

#[test]
fn the_curve_restarts_only_after_a_stable_link() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.refuse(refused()); // delay 1 s
    sim.until_connect();
    sim.refuse(refused()); // delay 2 s
    sim.until_connect();
    sim.open();
    // Dropped after 4.9 s: not stable, the curve goes on (4 s).
    sim.advance(ms(4900));
    sim.m.lost(sim.now, Fault::Network("reset".into()));
    sim.drain();
    assert_eq!(sim.delays().last(), Some(&secs(4)));
    sim.until_connect();
    sim.open();
    // Open for the full 5 s: the next delay is the first one again.
    sim.advance(secs(5));
    sim.m.lost(sim.now, Fault::Network("reset".into()));
    sim.drain();
    assert_eq!(sim.delays().last(), Some(&secs(1)));
}

// ----- limits ---------------------------------------------------------------------------

#[test]
fn max_retries_fails_with_the_last_cause() {
    let mut sim = Sim::new(Settings {
        max_retries: Some(3),
        ..settings()
    });
    sim.command(Command::Connect);
    for _ in 0..3 {
        sim.until_connect();
        sim.refuse(refused());
    }
    assert_eq!(sim.m.state(), State::Failed);
    assert_eq!(sim.connects().len(), 3);
    let last = sim.log.last().map(|(_, a)| a.clone());
    assert_eq!(
        last,
        Some(Action::Finish(End::Failed(Cause::RetriesExhausted {
            attempts: 3,
            last: Box::new(refused()),
        })))
    );
}

#[test]
fn max_elapsed_counts_from_the_first_attempt() {
    let mut sim = Sim::new(Settings {
        max_elapsed: Some(secs(6)),
        ..settings()
    });
    sim.command(Command::Connect);
    // Attempts at 0, 1, 3, 7 s: the one at 7 s fails past the 6 s limit.
    for _ in 0..4 {
        sim.until_connect();
        sim.refuse(refused());
    }
    assert_eq!(sim.m.state(), State::Failed);
    match sim.log.last() {
        Some((t, Action::Finish(End::Failed(Cause::ElapsedExhausted { elapsed, .. })))) => {
            assert_eq!(*t, at(7000));
            assert_eq!(*elapsed, secs(7));
        }
        other => panic!("{other:?}"),
    }
}

// ----- the server's say ---------------------------------------------------------------------

#[test]
fn retry_after_is_a_floor_with_a_five_minute_ceiling() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.refuse(Cause::HandshakeRejected {
        status: 503,
        retry_after: Some(secs(7)),
    });
    assert_eq!(sim.until_connect(), secs(7));
    sim.refuse(Cause::HandshakeRejected {
        status: 429,
        retry_after: Some(secs(86_400)),
    });
    assert_eq!(sim.until_connect(), secs(300));
}

#[test]
fn close_1013_waits_the_jittered_maximum() {
    let mut sim = Sim::with_budgets(
        Settings {
            backoff: Backoff::default(),
            ..settings()
        },
        Arc::default(),
        3,
    );
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    sim.m.frame(
        sim.now,
        Inbound::Close {
            code: 1013,
            reason: "busy".into(),
        },
    );
    sim.drain();
    let delay = *sim.delays().last().unwrap();
    // The curve's maximum (10 s) with the default jitter of 0.5: somewhere in [5 s, 10 s].
    assert!(delay >= secs(5) && delay <= secs(10), "{delay:?}");
    assert!(matches!(
        sim.events()[sim.events().len() - 2],
        Event::Closed {
            code: 1013,
            initiator: Initiator::Remote,
            will_reconnect: true,
            ..
        }
    ));
}

#[test]
fn a_401_retries_at_once_with_fresh_credentials_then_backs_off() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    let unauthorized = Cause::HandshakeRejected {
        status: 401,
        retry_after: None,
    };
    sim.refuse(unauthorized.clone());
    assert_eq!(sim.until_connect(), Duration::ZERO);
    sim.refuse(unauthorized);
    assert_eq!(sim.until_connect(), secs(2));
    let flags: Vec<_> = sim
        .connects()
        .iter()
        .map(|(_, n, fresh)| (*n, *fresh))
        .collect();
    assert_eq!(flags, [(1, false), (2, true), (3, false)]);
}

#[test]
fn terminal_causes_fail_at_once() {
    for cause in [
        Cause::HandshakeRejected {
            status: 403,
            retry_after: None,
        },
        Cause::Incompatible("no subprotocol".into()),
    ] {
        let mut sim = Sim::new(settings());
        sim.command(Command::Connect);
        sim.until_connect();
        sim.refuse(cause.clone());
        assert_eq!(sim.m.state(), State::Failed, "{cause}");
        assert_eq!(sim.m.poll_timeout(), None);
    }
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    sim.m.frame(
        sim.now,
        Inbound::Close {
            code: 1008,
            reason: "policy".into(),
        },
    );
    sim.drain();
    assert_eq!(sim.m.state(), State::Failed);
}

// ----- heartbeat --------------------------------------------------------------------------

#[test]
fn a_half_open_link_dies_after_interval_plus_timeout() {
    let mut sim = Sim::new(Settings {
        heartbeat: heartbeat(30_000, 10_000),
        ..settings()
    });
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    sim.advance(secs(120));
    assert_eq!(sim.pings(), [at(30_000)]);
    let closed = sim
        .events()
        .into_iter()
        .find(|e| matches!(e, Event::Closed { .. }));
    assert_eq!(
        closed,
        Some(&Event::Closed {
            code: 1006,
            reason: Cause::HeartbeatTimeout.to_string(),
            initiator: Initiator::Network,
            will_reconnect: true,
        })
    );
    let dead_at = sim
        .log
        .iter()
        .find(|(_, a)| matches!(a, Action::Shut { .. }))
        .map(|(t, _)| *t);
    assert_eq!(dead_at, Some(at(40_000)));
}

#[test]
fn pongs_and_bytes_keep_a_link_alive() {
    let mut sim = Sim::new(Settings {
        heartbeat: heartbeat(1000, 1000),
        ..settings()
    });
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    // Answer every ping 40 ms later for a minute.
    for _ in 0..60 {
        let next_ping = sim.m.poll_timeout().unwrap();
        sim.advance_to(next_ping + ms(40));
        let seq = sim.m.ping_seq.to_be_bytes().to_vec();
        sim.m.frame(sim.now, Inbound::Pong(seq));
        sim.drain();
    }
    assert_eq!(sim.m.state(), State::Open);
    let rtts: Vec<_> = sim
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Pong { rtt } => Some(*rtt),
            _ => None,
        })
        .collect();
    assert_eq!(rtts.len(), 60);
    assert!(rtts.iter().all(|r| *r == ms(40)));
    // Then only bytes of a long message, every 500 ms: still alive after 30 s.
    for _ in 0..60 {
        sim.advance(ms(500));
        sim.m.activity(sim.now);
    }
    assert_eq!(sim.m.state(), State::Open);
    // Silence: dead 2 s after the last byte.
    let last = sim.now;
    sim.advance(secs(5));
    let shut = sim
        .log
        .iter()
        .rev()
        .find(|(_, a)| matches!(a, Action::Shut { .. }))
        .map(|(t, _)| *t);
    assert_eq!(shut, Some(last + secs(2)));
}

#[test]
fn an_app_level_heartbeat_sends_its_message_and_takes_its_pong() {
    let mut sim = Sim::new(Settings {
        heartbeat: Some(Heartbeat {
            interval: secs(1),
            timeout: secs(1),
            app_ping: Some(AppPing {
                payload: Message::text("ping"),
                pong: PongMatch::Exact("pong".into()),
            }),
        }),
        ..settings()
    });
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    sim.advance(secs(1));
    assert!(sim
        .log
        .iter()
        .any(|(_, a)| *a == Action::Ping(Ping::App(Message::text("ping")))));
    sim.advance(ms(100));
    sim.m.frame(sim.now, Inbound::AppPong);
    sim.drain();
    assert!(matches!(sim.last_event(), Event::Pong { rtt } if *rtt == ms(100)));
}

#[test]
fn a_slow_consumer_is_never_a_dead_link() {
    let mut sim = Sim::new(Settings {
        heartbeat: heartbeat(1000, 1000),
        ..settings()
    });
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    sim.m.reading_paused(sim.now, true);
    sim.advance(secs(3600));
    assert_eq!(sim.m.state(), State::Open);
    sim.m.reading_paused(sim.now, false);
    sim.advance(ms(1999));
    assert_eq!(sim.m.state(), State::Open);
    sim.advance(ms(1));
    assert_eq!(sim.m.state(), State::Waiting);
}

#[test]
fn a_write_stall_is_reported_as_such() {
    let mut sim = Sim::new(Settings {
        heartbeat: heartbeat(1000, 1000),
        ..settings()
    });
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    // A write starting at 0.5 s may take until the link's silence deadline (2 s).
    sim.advance(ms(500));
    assert_eq!(sim.m.write_deadline(sim.now), at(2000));
    sim.m.lost(sim.now, Fault::WriteStalled);
    sim.drain();
    assert!(sim.events().iter().any(|e| matches!(
        e,
        Event::Reconnecting {
            cause: Cause::WriteStalled,
            ..
        }
    )));
    // Without a heartbeat, a write may make no progress for 30 s.
    let mut quiet = Sim::new(settings());
    quiet.command(Command::Connect);
    quiet.until_connect();
    quiet.open();
    assert_eq!(quiet.m.write_deadline(at(100)), at(30_100));
}

// ----- controls ---------------------------------------------------------------------------

#[test]
fn network_changed_probes_an_open_link_and_skips_a_wait() {
    let mut sim = Sim::new(Settings {
        heartbeat: heartbeat(30_000, 10_000),
        ..settings()
    });
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    sim.advance(secs(3));
    sim.command(Command::NetworkChanged);
    assert_eq!(sim.pings(), [at(3000)]);
    // No answer within the probe's 5 s (the heartbeat timeout is longer): dead.
    sim.advance(secs(6));
    assert!(sim.events().iter().any(|e| matches!(
        e,
        Event::Reconnecting {
            cause: Cause::NetworkChanged,
            ..
        }
    )));
    let waiting_since = sim.now;
    sim.command(Command::NetworkChanged);
    assert_eq!(sim.connects().last().map(|c| c.0), Some(waiting_since));
}

#[test]
fn network_changed_without_a_heartbeat_probes_once() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    assert_eq!(sim.m.poll_timeout(), None, "no heartbeat: no timer");
    sim.command(Command::NetworkChanged);
    assert_eq!(sim.pings().len(), 1);
    sim.advance(ms(100));
    sim.m
        .frame(sim.now, Inbound::Pong(1u64.to_be_bytes().to_vec()));
    sim.drain();
    sim.advance(secs(86_400));
    assert_eq!(sim.m.state(), State::Open);
    assert_eq!(sim.pings().len(), 1);
}

#[test]
fn reconnect_now_skips_the_delay() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.refuse(refused());
    sim.until_connect();
    sim.refuse(refused());
    sim.advance(ms(300));
    sim.command(Command::ReconnectNow);
    assert_eq!(sim.connects().len(), 3);
    assert_eq!(sim.connects()[2].0, at(1300));
}

#[test]
fn pause_ends_the_link_and_resume_starts_a_fresh_curve() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.refuse(refused());
    sim.until_connect();
    sim.open();
    sim.command(Command::Pause);
    assert_eq!(sim.m.state(), State::Paused);
    assert!(sim.log.iter().any(|(_, a)| matches!(
        a,
        Action::Close {
            code: 1000,
            flush: false,
            ..
        }
    )));
    sim.advance(secs(3600));
    assert_eq!(sim.connects().len(), 2, "nothing happens while paused");
    sim.command(Command::Resume);
    let (_, attempt, _) = *sim.connects().last().unwrap();
    assert_eq!(attempt, 1, "the curve starts over");
    assert_eq!(sim.connects().last().unwrap().0, sim.now);
}

#[test]
fn close_while_waiting_or_connecting_ends_at_once() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.command(Command::Close {
        code: 1000,
        reason: String::new(),
    });
    assert!(sim.log.iter().any(|(_, a)| *a == Action::Abandon));
    assert_eq!(
        sim.log.last().map(|(_, a)| a),
        Some(&Action::Finish(End::Closed))
    );
    assert_eq!(sim.m.poll_timeout(), None);
}

#[test]
fn commands_during_a_closing_handshake_wait_for_it() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    // The driver has not finished the pause's closing handshake when close() arrives.
    sim.m.command(sim.now, Command::Pause);
    sim.m.command(
        sim.now,
        Command::Close {
            code: 1000,
            reason: "bye".into(),
        },
    );
    assert_eq!(sim.m.state(), State::Open);
    sim.drain();
    assert_eq!(sim.m.state(), State::Closed);
}

// ----- the handshake budget ---------------------------------------------------------------

#[test]
fn clients_of_one_host_share_the_budget() {
    let budgets: Arc<Budgets> = Arc::default();
    let with_budget = Settings {
        handshake_budget: Some(2),
        ..settings()
    };
    let mut fleet: Vec<Sim> = (0..5)
        .map(|i| Sim::with_budgets(with_budget.clone(), budgets.clone(), i))
        .collect();
    let starts: Vec<Duration> = fleet
        .iter_mut()
        .map(|sim| {
            sim.command(Command::Connect);
            sim.until_connect()
        })
        .collect();
    // Two per second, a burst of one: 0, 0.5, 1, 1.5, 2 s.
    assert_eq!(starts, [0, 500, 1000, 1500, 2000].map(ms));
}

/// 100,000 clients of one host lose their links at the same instant and come back through
/// the default backoff (jittered) and a budget of 50 per second.
#[test]
fn a_fleet_of_100_000_dropped_at_once_returns_within_the_budget() {
    const FLEET: usize = 100_000;
    const RATE: u32 = 50;
    let budgets: Arc<Budgets> = Arc::default();
    let fleet_settings = Settings {
        backoff: Backoff::default(),
        handshake_budget: Some(RATE),
        ..settings()
    };
    let mut fleet: Vec<Sim> = (0..FLEET)
        .map(|i| Sim::with_budgets(fleet_settings.clone(), budgets.clone(), i as u64 + 1))
        .collect();
    // Open them all (outside the budget's concern: a fresh table per phase).
    let drop_at = at(10_000_000);
    let opened_budgets: Arc<Budgets> = Arc::default();
    for sim in &mut fleet {
        sim.m.budgets = opened_budgets.clone();
        sim.command(Command::Connect);
        sim.until_connect();
        sim.open();
        sim.m.budgets = budgets.clone();
        sim.now = drop_at;
        sim.m
            .lost(drop_at, Fault::Network("the server restarted".into()));
        sim.drain();
        sim.log.clear();
    }
    // Run the fleet in time order: each client's next timer on one heap.
    let mut heap: BinaryHeap<Reverse<(Time, usize)>> = fleet
        .iter()
        .enumerate()
        .filter_map(|(i, sim)| sim.m.poll_timeout().map(|t| Reverse((t, i))))
        .collect();
    let mut handshakes = Vec::with_capacity(FLEET);
    while let Some(Reverse((t, i))) = heap.pop() {
        let sim = &mut fleet[i];
        sim.advance_to(t);
        if sim.connecting {
            handshakes.push(sim.now.since(drop_at));
            sim.open();
        } else if let Some(next) = sim.m.poll_timeout() {
            heap.push(Reverse((next, i)));
        }
    }
    assert_eq!(handshakes.len(), FLEET);
    handshakes.sort_unstable();
    let per_second: BTreeMap<u64, usize> = handshakes.iter().fold(BTreeMap::new(), |mut m, d| {
        *m.entry(d.as_secs()).or_default() += 1;
        m
    });
    // The promise, in every one-second window (not just aligned seconds).
    let mut busiest = 0;
    let mut lo = 0;
    for hi in 0..handshakes.len() {
        while handshakes[hi] - handshakes[lo] >= secs(1) {
            lo += 1;
        }
        busiest = busiest.max(hi - lo + 1);
    }
    assert!(busiest <= RATE as usize, "busiest second: {busiest}");
    let burst = handshakes.iter().filter(|d| **d == handshakes[0]).count();
    assert!(burst <= 5, "at one instant: {burst}");
    let last = handshakes[FLEET - 1];
    // 100,000 at 50/s take 2,000 s after the first jittered delay (0.5-1 s).
    assert!(last >= secs(1999) && last <= secs(2001), "{last:?}");
    let first: Vec<_> = per_second
        .iter()
        .take(4)
        .map(|(s, n)| format!("{s}s:{n}"))
        .collect();
    println!(
        "fleet of {FLEET}: first handshake after {:?}, last after {last:?}, busiest second {busiest}, \
         burst {burst}, per second from the drop: {} …",
        handshakes[0],
        first.join(" ")
    );
}

// ----- a URL per attempt ------------------------------------------------------------------

fn with_provider() -> Settings {
    Settings {
        locate: true,
        ..settings()
    }
}

#[test]
fn a_url_provider_is_asked_once_per_attempt_and_names_where_it_goes() {
    let mut sim = Sim::new(with_provider());
    sim.command(Command::Connect);
    assert_eq!(
        sim.m.state(),
        State::Connecting,
        "asking is part of the attempt"
    );
    assert_eq!(sim.count_attempts(), 1);
    assert!(matches!(sim.last_event(), Event::Connecting { attempt: 1 }));
    sim.locate(Ok("wss://one.example/a?token=s3cret"));
    assert_eq!(sim.urls(), ["wss://one.example/a?token=s3cret"]);
    sim.refuse(refused());
    // The backoff holds: the next question waits out the delay.
    assert_eq!(sim.until_locate(), secs(1));
    sim.locate(Ok("wss://two.example/b"));
    sim.open();
    assert_eq!(
        sim.urls(),
        ["wss://one.example/a?token=s3cret", "wss://two.example/b"]
    );
    assert_eq!(sim.locates(), 2);
    assert_eq!(
        sim.count_attempts(),
        2,
        "one attempt per question, counted once"
    );
    // The flight recorder shows the URL used, with its secrets hidden.
    let opened = sim
        .log
        .iter()
        .find_map(|(_, a)| match a {
            Action::Transition {
                to: State::Open,
                cause,
                ..
            } => Some(cause.clone()),
            _ => None,
        })
        .unwrap();
    assert!(opened.contains("wss://two.example/b"), "{opened}");
    let all: String = sim.log.iter().map(|(_, a)| format!("{a:?}")).collect();
    let transitions: String = sim
        .log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Transition { cause, .. } => Some(cause.as_str()),
            _ => None,
        })
        .collect();
    assert!(!transitions.contains("s3cret"), "{transitions}");
    assert!(all.contains("Locate"));
}

#[test]
fn a_failing_url_provider_fails_that_attempt_and_the_curve_goes_on() {
    let mut sim = Sim::new(Settings {
        max_retries: Some(3),
        ..with_provider()
    });
    sim.command(Command::Connect);
    sim.locate(Err(Cause::UrlProvider("boom".into())));
    assert!(matches!(
        sim.last_event(),
        Event::Reconnecting {
            attempt: 2,
            cause: Cause::UrlProvider(_),
            ..
        }
    ));
    assert!(sim.urls().is_empty(), "no connection without a URL");
    assert_eq!(sim.until_locate(), secs(1));
    sim.locate(Err(Cause::UrlProvider("boom".into())));
    assert_eq!(sim.until_locate(), secs(2));
    sim.locate(Err(Cause::UrlProvider("boom".into())));
    assert_eq!(
        sim.m.state(),
        State::Failed,
        "max_retries counts provider failures"
    );
    assert_eq!(sim.count_attempts(), 3);
}

#[test]
fn the_budget_is_kept_per_host_of_the_url_actually_used() {
    let budgets: Arc<Budgets> = Arc::default();
    let one_per_second = Settings {
        handshake_budget: Some(1),
        ..with_provider()
    };
    let mut fleet: Vec<Sim> = (0..3)
        .map(|i| Sim::with_budgets(one_per_second.clone(), budgets.clone(), i))
        .collect();
    let hosts = ["ws://a.example/", "ws://b.example/", "ws://a.example:80/x"];
    let waits: Vec<Duration> = fleet
        .iter_mut()
        .zip(hosts)
        .map(|(sim, url)| {
            sim.command(Command::Connect);
            sim.locate(Ok(url));
            sim.until_connect()
        })
        .collect();
    // a and b each have a slot at once; the second client of a waits its second.
    assert_eq!(waits, [ms(0), ms(0), secs(1)]);
    assert_eq!(
        fleet[2].count_attempts(),
        1,
        "waiting for a slot is the same attempt"
    );
}

#[test]
fn reconnect_to_closes_the_link_and_connects_to_the_new_url_at_once() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.open();
    sim.advance(secs(5));
    sim.command(Command::ReconnectTo(
        Url::parse("wss://new.example/ws").unwrap(),
    ));
    assert!(sim.log.iter().any(|(_, a)| matches!(
        a,
        Action::Close { code: 1000, reason, flush: false, .. } if reason == RECONNECT_REASON
    )));
    assert!(sim.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            code: 1000,
            initiator: Initiator::Local,
            will_reconnect: true,
            ..
        }
    )));
    assert_eq!(sim.urls(), ["ws://sim/", "wss://new.example/ws"]);
    assert_eq!(sim.connects()[1].0, sim.now, "no backoff delay");
    // It sticks: a later loss reconnects to the new URL.
    sim.open();
    sim.m.lost(sim.now, Fault::Network("reset".into()));
    sim.drain();
    sim.until_connect();
    assert_eq!(sim.urls().last().unwrap(), "wss://new.example/ws");
}

#[test]
fn reconnect_to_cuts_a_wait_short_and_replaces_an_attempt_in_flight() {
    let mut sim = Sim::new(settings());
    sim.command(Command::Connect);
    sim.until_connect();
    sim.refuse(refused());
    sim.advance(ms(100));
    sim.command(Command::ReconnectTo(Url::parse("ws://b.example/").unwrap()));
    assert_eq!(sim.connects().len(), 2);
    assert_eq!(sim.connects()[1].0, at(100));
    sim.command(Command::ReconnectTo(Url::parse("ws://c.example/").unwrap()));
    assert!(sim.log.iter().any(|(_, a)| *a == Action::Abandon));
    assert_eq!(
        sim.urls(),
        ["ws://sim/", "ws://b.example/", "ws://c.example/"]
    );
    // Accounting holds: the abandoned attempts still count, and so does the curve.
    assert_eq!(sim.count_attempts(), 3);
}

#[test]
fn reconnect_to_with_a_provider_uses_the_url_once_then_asks_again() {
    let mut sim = Sim::new(with_provider());
    sim.command(Command::Connect);
    sim.locate(Ok("ws://first.example/"));
    sim.open();
    sim.command(Command::ReconnectTo(
        Url::parse("ws://moved.example/").unwrap(),
    ));
    assert_eq!(sim.locates(), 1, "the given URL needs no question");
    assert_eq!(sim.urls().last().unwrap(), "ws://moved.example/");
    sim.open();
    sim.m.lost(sim.now, Fault::Network("reset".into()));
    sim.drain();
    sim.until_locate();
    assert_eq!(sim.locates(), 2, "the provider names the attempt after it");
}

#[test]
fn reconnect_to_while_idle_or_paused_waits_for_connect_or_resume() {
    let mut sim = Sim::new(settings());
    sim.command(Command::ReconnectTo(
        Url::parse("ws://later.example/").unwrap(),
    ));
    assert_eq!(sim.m.state(), State::Idle);
    assert!(sim.urls().is_empty());
    sim.command(Command::Connect);
    assert_eq!(sim.urls(), ["ws://later.example/"]);
    sim.open();
    sim.command(Command::Pause);
    sim.command(Command::ReconnectTo(
        Url::parse("ws://after.example/").unwrap(),
    ));
    assert_eq!(sim.m.state(), State::Paused);
    assert_eq!(sim.urls().len(), 1);
    sim.command(Command::Resume);
    assert_eq!(sim.urls().last().unwrap(), "ws://after.example/");
}

#[test]
fn close_while_asking_the_provider_drops_the_question() {
    let mut sim = Sim::new(with_provider());
    sim.command(Command::Connect);
    sim.command(Command::Close {
        code: 1000,
        reason: String::new(),
    });
    assert!(sim.log.iter().any(|(_, a)| *a == Action::Abandon));
    assert_eq!(sim.m.state(), State::Closed);
    // A late answer changes nothing.
    sim.m
        .located(sim.now, Ok(Url::parse("ws://late/").unwrap()));
    assert!(sim.m.poll_action().is_none());
}
