//! The state machine: every decision about connecting, waiting, detecting a dead link and giving
//! up, with `policy`, `backoff`, `heartbeat` and `budget` as its advisers.
//!
//! It performs no I/O, reads no clock and draws no randomness of its own (quinn-proto's shape):
//! the driver hands it the time with every input (`command`, `attempt_done`, `frame`, `lost`,
//! `handle_timeout`, …), takes the [`Action`]s it queued (`poll_action`), and calls
//! `handle_timeout` at the instant `poll_timeout` names. Jitter comes from a generator seeded by
//! the driver. So "why did it reconnect now?" is answered here alone, and a test can drive it
//! through hours of backoff with simulated time.
//!
//! Read it top to bottom: the inputs, then the steps `Idle → Connecting → Open → (Waiting →
//! Connecting …) → Closed | Failed`, with `Paused` on the side, then the decisions.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, error, info, warn};

use crate::backoff::Backoff;
use crate::budget::Budgets;
use crate::event::{Cause, ErrorKind, Event, Initiator, Message, State};
use crate::heartbeat::{Heartbeat, Liveness, Tick};
use crate::policy::{self, TerminalPolicy, Verdict};
use crate::time::Time;
use url::Url;

#[cfg(test)]
mod tests;

/// Longest wait `network_changed()` gives an open link to answer its ping.
pub(crate) const NETWORK_PROBE_MAX: Duration = Duration::from_secs(5);
/// The close reason `reconnect_to` sends.
pub(crate) const RECONNECT_REASON: &str = "reconnecting to a new URL";
/// How long a write may make no progress when no heartbeat is configured.
pub(crate) const WRITE_TIMEOUT_NO_HEARTBEAT: Duration = Duration::from_secs(30);

/// The settings the machine decides by: plain data, taken from the client's `Config` (or from
/// whatever a driver on another platform was given).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The URL with secrets hidden, for logs.
    pub log_url: String,
    /// `host:port`, the handshake budget's key (of the URL an attempt uses).
    pub host_key: String,
    /// The URL attempts go to (until `reconnect_to`, or a URL provider's answer, changes it).
    pub url: Url,
    /// A URL provider names each attempt's URL: the attempt asks it first (`Action::Locate`).
    pub locate: bool,
    /// The delay curve between attempts.
    pub backoff: Backoff,
    /// Attempts since the last open before giving up; `None`: never.
    pub max_retries: Option<u32>,
    /// Time without a link before giving up; `None`: never.
    pub max_elapsed: Option<Duration>,
    /// When to ping and when a silent link is dead; `None`: no heartbeat.
    pub heartbeat: Option<Heartbeat>,
    /// Causes that end in `Failed`.
    pub terminal: TerminalPolicy,
    /// Handshakes per second per host, process-wide; `None`: no budget.
    pub handshake_budget: Option<u32>,
    /// Also the greeting provider's limit.
    pub connect_timeout: Duration,
    /// How long a closing handshake (or a lost link's shut) may take.
    pub close_timeout: Duration,
}

/// What the app asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `connect()`: start the first attempt.
    Connect,
    /// `close(code, reason)`: end the link and the client for good.
    Close {
        /// The close code to send (1000 or 3000–4999).
        code: u16,
        /// The close reason to send.
        reason: String,
    },
    /// Every handle was dropped: close with 1001.
    Dropped,
    /// `pause()`: end the link and stay disconnected.
    Pause,
    /// `resume()`: leave `Paused` and connect now.
    Resume,
    /// `reconnect_now()`: skip the backoff delay.
    ReconnectNow,
    /// `network_changed()`: probe an open link, or try now if waiting.
    NetworkChanged,
    /// Move to this URL at once: end the link (or the attempt) and connect there.
    ReconnectTo(Url),
}

/// What a successful attempt reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
    /// The negotiated extension, as it describes itself.
    pub compression: Option<String>,
    /// The address connected to.
    pub address: Option<std::net::SocketAddr>,
}

/// A frame of the open link that matters to the machine (data goes straight to the app).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A protocol pong with this payload.
    Pong(Vec<u8>),
    /// A text message matching the app-level pong.
    AppPong,
    /// The server's close frame.
    Close {
        /// Its close code (1005 when it had none).
        code: u16,
        /// Its reason.
        reason: String,
    },
}

/// Why the driver says an open link broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The socket ended or failed (reset, EOF without a close frame, a write error).
    Network(String),
    /// A write made no progress by the deadline `write_deadline` gave.
    WriteStalled,
    /// The server broke the protocol; the client answers with this close code.
    Protocol {
        /// What was wrong.
        detail: String,
        /// The close code to answer with.
        code: u16,
    },
    /// An inbound message exceeded `max_message_size` (closed with 1009).
    TooLarge,
}

/// How a link is ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shut {
    /// It is dead: drop it at once (no closing handshake to wait for).
    Abort,
    /// The server sent a close frame: flush the queued reply, then drop.
    Reply,
    /// We found a fault: send this close code, then drop.
    Send(u16),
}

/// A heartbeat ping to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ping {
    /// A protocol Ping with this payload (its pong must echo it).
    Protocol(Vec<u8>),
    /// The app-level ping message.
    App(Message),
}

/// How the client ends for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// Closed by the app: hand the unsent messages to `close()`.
    Closed,
    /// Gave up: the `Failed` event carries the unsent messages.
    Failed(Cause),
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Publish a state change (shared state, flight recorder, `StateChanged` event).
    Transition {
        /// The state before.
        from: State,
        /// The state after.
        to: State,
        /// Why (secrets redacted).
        cause: String,
    },
    /// Hand this event to the app.
    Emit(Event),
    /// Count one attempt in `stats()`.
    CountAttempt,
    /// Count one open link in `stats()`.
    CountOpen,
    /// Record a heartbeat's round trip in `stats()`.
    RecordRtt(Duration),
    /// Record how a link ended in `stats()`.
    RecordClose {
        /// The close code (1006 when none was exchanged).
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// Ask the URL provider for this attempt's URL; report with `located`.
    Locate {
        /// Its number since the last stable link, from 1.
        attempt: u32,
        /// The previous attempt was refused with 401: ask for fresh credentials.
        after_unauthorized: bool,
    },
    /// Start one attempt to `url` (auth provider, TCP, TLS, upgrade); report with
    /// `attempt_done`.
    Connect {
        /// Its number since the last stable link, from 1.
        attempt: u32,
        /// The previous attempt was refused with 401: ask for fresh credentials.
        after_unauthorized: bool,
        /// Where it goes.
        url: Url,
    },
    /// Drop the attempt in flight (its half-made socket closes with it).
    Abandon,
    /// Compute the greeting (within this long) and write it; report with `greeted`.
    Greet {
        /// How long the greeting provider may take.
        within: Duration,
    },
    /// The link carries the app's messages now: write the outbox, allow direct writes.
    Serve,
    /// Send a heartbeat ping.
    Ping(Ping),
    /// Close the link: flush the outbox first if asked, then the closing handshake, all within
    /// `within`; report with `shut_done` (or the machine times out).
    Close {
        /// The close code to send.
        code: u16,
        /// The close reason to send.
        reason: String,
        /// Write the outbox before the close frame.
        flush: bool,
        /// How long the whole may take.
        within: Duration,
    },
    /// End a broken link's socket as `shut` says, within `within`; report with `shut_done`.
    Shut {
        /// How to end it.
        shut: Shut,
        /// How long it may take.
        within: Duration,
    },
    /// Terminal: seal the outbox and answer `close()` or emit `Failed` with what was unsent.
    Finish(End),
}

/// Where the client is.
#[derive(Debug)]
enum Phase {
    Idle,
    /// Waiting for a slot of the handshake budget; `started`: the attempt was already counted
    /// and announced (it asked the URL provider first).
    Budget {
        until: Time,
        started: bool,
    },
    /// An attempt is asking the URL provider where to go.
    Locating,
    /// An attempt is in flight.
    Connecting,
    Open(Box<OpenLink>),
    /// A local close or pause is ending the link.
    Closing {
        deadline: Time,
        then: AfterClose,
    },
    /// A lost link's socket is being shut before anything else happens.
    Shutting {
        deadline: Time,
        loss: Loss,
    },
    /// Waiting out a backoff delay.
    Waiting {
        until: Time,
    },
    Paused,
    /// Closed or failed: nothing more happens.
    Done,
}

/// What follows a local close.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AfterClose {
    /// `close(code, reason)`: the client ends.
    Close { code: u16, reason: String },
    /// `pause()`: wait for `resume()`.
    Pause,
    /// `reconnect_to(url)`: connect to the new URL at once.
    Reconnect,
}

/// The open link's state.
#[derive(Debug)]
struct OpenLink {
    opened_at: Time,
    /// Present with a heartbeat; a probe-only clock once `network_changed()` asked.
    liveness: Option<Liveness>,
    /// The greeting is out: the app's messages may flow.
    serving: bool,
}

/// A lost link: what to report.
#[derive(Debug, Clone)]
struct Loss {
    cause: Cause,
    code: u16,
    reason: String,
    initiator: Initiator,
}

/// One client's state machine: every decision, no I/O. A driver feeds it inputs with the time
/// they happened, performs the [`Action`]s it takes from [`poll_action`](Self::poll_action), and
/// calls [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout).
pub struct Machine {
    settings: Settings,
    budgets: Arc<Budgets>,
    phase: Phase,
    /// The state last published.
    state: State,
    /// Attempts since the last stable link (the backoff curve's position).
    attempt: u32,
    /// The previous attempt was refused with 401 and this one carries fresh credentials.
    refreshed_auth: bool,
    /// `reconnect_to` named the next attempt's URL: it asks no URL provider.
    url_given: bool,
    /// When the client last lost, or first sought, a link (for `max_elapsed`).
    down_since: Option<Time>,
    /// Payload counter of protocol pings, to match their pongs.
    ping_seq: u64,
    rng: SplitMix,
    /// Commands that arrived while a link was being ended; handled once it has.
    deferred: VecDeque<Command>,
    actions: VecDeque<Action>,
}

impl Machine {
    /// A machine in `Idle`; `seed` feeds the jitter.
    pub fn new(settings: Settings, budgets: Arc<Budgets>, seed: u64) -> Self {
        Machine {
            settings,
            budgets,
            phase: Phase::Idle,
            state: State::Idle,
            attempt: 0,
            refreshed_auth: false,
            url_given: false,
            down_since: None,
            ping_seq: 0,
            rng: SplitMix(seed),
            deferred: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    // ----- outputs -----------------------------------------------------------------------

    /// The next thing to do, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When `handle_timeout` must be called next (`None`: no timer is running).
    pub fn poll_timeout(&self) -> Option<Time> {
        match &self.phase {
            Phase::Budget { until, .. } | Phase::Waiting { until } => Some(*until),
            Phase::Closing { deadline, .. } | Phase::Shutting { deadline, .. } => Some(*deadline),
            Phase::Open(link) => link.liveness.as_ref().map(Liveness::next_wake),
            _ => None,
        }
    }

    /// The state as published.
    #[cfg(test)]
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether a link exists for the machine: open, or being closed or shut. Once this is false
    /// the driver drops the socket.
    pub fn holds_link(&self) -> bool {
        matches!(
            self.phase,
            Phase::Open(_) | Phase::Closing { .. } | Phase::Shutting { .. }
        )
    }

    /// The deadline for a write starting at `now`: a write that makes no progress for as long
    /// as the link may stay silent has failed (`Fault::WriteStalled`).
    pub fn write_deadline(&self, now: Time) -> Time {
        let budget = self
            .settings
            .heartbeat
            .as_ref()
            .map_or(WRITE_TIMEOUT_NO_HEARTBEAT, |h| {
                h.interval.saturating_add(h.timeout)
            });
        match &self.phase {
            Phase::Open(link) => match &link.liveness {
                Some(l) if !l.reading_paused() => l.dead_at().max(now).min(now + budget),
                _ => now + budget,
            },
            _ => now + budget,
        }
    }

    // ----- inputs ------------------------------------------------------------------------

    /// The app asked for something.
    pub fn command(&mut self, now: Time, command: Command) {
        if matches!(self.phase, Phase::Closing { .. } | Phase::Shutting { .. }) {
            self.deferred.push_back(command);
            return;
        }
        match (&mut self.phase, command) {
            (Phase::Done, _) => {}
            (_, Command::Close { code, reason }) => self.close(now, code, reason),
            (_, Command::Dropped) => self.close(now, 1001, "client dropped".into()),
            (_, Command::ReconnectTo(url)) => self.reconnect_to(now, url),
            (Phase::Idle, Command::Connect) => self.begin_attempt(now),
            (Phase::Paused, Command::Resume) => {
                // A deliberate resume starts a fresh curve.
                self.attempt = 0;
                self.down_since = None;
                self.begin_attempt(now);
            }
            (Phase::Paused, _) => {}
            (Phase::Open(_), Command::Pause) => {
                self.end_of_link(now);
                self.phase = Phase::Closing {
                    deadline: now + self.settings.close_timeout,
                    then: AfterClose::Pause,
                };
                self.push(Action::Close {
                    code: 1000,
                    reason: "paused".into(),
                    flush: false,
                    within: self.settings.close_timeout,
                });
            }
            (_, Command::Pause) => {
                if matches!(self.phase, Phase::Connecting | Phase::Locating) {
                    self.push(Action::Abandon);
                }
                self.pause();
            }
            (Phase::Waiting { .. }, Command::ReconnectNow | Command::NetworkChanged) => {
                self.begin_attempt(now)
            }
            (Phase::Open(link), Command::NetworkChanged) => {
                let within = self
                    .settings
                    .heartbeat
                    .as_ref()
                    .map_or(NETWORK_PROBE_MAX, |hb| hb.timeout.min(NETWORK_PROBE_MAX));
                debug!(target: "wstether", url = %self.settings.log_url, "network changed: probing the link");
                link.liveness
                    .get_or_insert_with(|| Liveness::probe_only(now))
                    .probe(now, within);
                self.handle_timeout(now);
            }
            // Already connecting or open, or nothing to skip: one attempt in flight at most.
            _ => {}
        }
    }

    /// The attempt started by `Action::Connect` ended: open (with what it negotiated), or failed.
    pub fn attempt_done(&mut self, now: Time, result: Result<Opened, Cause>) {
        if !matches!(self.phase, Phase::Connecting) {
            return;
        }
        match result {
            Ok(opened) => self.opened(now, opened),
            Err(cause) => self.attempt_failed(now, cause),
        }
    }

    /// The URL provider asked by `Action::Locate` answered: the attempt goes on to that URL (a
    /// slot of its host's handshake budget first), or fails.
    pub fn located(&mut self, now: Time, result: Result<Url, Cause>) {
        if !matches!(self.phase, Phase::Locating) {
            return;
        }
        match result {
            Ok(url) => {
                self.target(url);
                self.reserve(now, true);
            }
            Err(cause) => self.attempt_failed(now, cause),
        }
    }

    /// The greeting asked for by `Action::Greet` is written (or its provider failed: `why`).
    pub fn greeted(&mut self, _now: Time, provider_failed: Option<String>) {
        let Phase::Open(link) = &mut self.phase else {
            return;
        };
        if link.serving {
            return;
        }
        link.serving = true;
        if let Some(why) = provider_failed {
            warn!(target: "wstether", url = %self.settings.log_url, "{why}");
            self.push(Action::Emit(Event::Error {
                kind: ErrorKind::Link,
                message: why,
            }));
        }
        self.push(Action::Serve);
    }

    /// Bytes (of any frame, complete or not) arrived at `at`: the link is alive.
    pub fn activity(&mut self, at: Time) {
        if let Phase::Open(link) = &mut self.phase {
            if let Some(l) = link.liveness.as_mut() {
                l.on_receive(at);
            }
        }
    }

    /// The driver stopped (`true`) or resumed (`false`) reading because of the event consumer.
    pub fn reading_paused(&mut self, now: Time, paused: bool) {
        if let Phase::Open(link) = &mut self.phase {
            if let Some(l) = link.liveness.as_mut() {
                if paused {
                    l.pause_reading();
                } else {
                    l.resume_reading(now);
                }
            }
        }
    }

    /// A frame of the open link arrived.
    pub fn frame(&mut self, now: Time, frame: Inbound) {
        let Phase::Open(link) = &mut self.phase else {
            return;
        };
        match frame {
            Inbound::Pong(payload) => {
                if payload == self.ping_seq.to_be_bytes() {
                    self.pong(now);
                } else if let Some(l) = link.liveness.as_mut() {
                    l.on_receive(now);
                }
            }
            Inbound::AppPong => self.pong(now),
            Inbound::Close { code, reason } => {
                info!(target: "wstether", url = %self.settings.log_url, code, reason = %reason, "server closed the link");
                self.lose(
                    now,
                    Loss {
                        cause: Cause::Closed {
                            code,
                            reason: reason.clone(),
                        },
                        code,
                        reason,
                        initiator: Initiator::Remote,
                    },
                    Shut::Reply,
                );
            }
        }
    }

    /// The open link broke.
    pub fn lost(&mut self, now: Time, fault: Fault) {
        if !matches!(self.phase, Phase::Open(_)) {
            return;
        }
        let (loss, shut) = match fault {
            Fault::Network(detail) => (
                network_loss(Cause::Network(detail.clone()), detail),
                Shut::Abort,
            ),
            Fault::WriteStalled => (
                network_loss(Cause::WriteStalled, Cause::WriteStalled.to_string()),
                Shut::Abort,
            ),
            Fault::Protocol { detail, code } => {
                let cause = Cause::Protocol(detail);
                (local_loss(cause, code), Shut::Send(code))
            }
            Fault::TooLarge => (local_loss(Cause::MessageTooLarge, 1009), Shut::Send(1009)),
        };
        self.lose(now, loss, shut);
    }

    /// The closing handshake or shut asked for has finished.
    pub fn shut_done(&mut self, now: Time) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Closing { then, .. } => self.closed_locally(now, then),
            Phase::Shutting { loss, .. } => self.after_loss(now, loss),
            other => self.phase = other,
        }
    }

    /// A timer expired: the instant `poll_timeout` named has come (or passed).
    pub fn handle_timeout(&mut self, now: Time) {
        match &mut self.phase {
            Phase::Budget { until, started } if now >= *until => {
                let started = *started;
                self.dial(now, started)
            }
            Phase::Waiting { until } if now >= *until => self.begin_attempt(now),
            Phase::Closing { deadline, .. } | Phase::Shutting { deadline, .. }
                if now >= *deadline =>
            {
                self.shut_done(now)
            }
            Phase::Open(link) => {
                let Some(l) = link.liveness.as_mut() else {
                    return;
                };
                match l.tick(now) {
                    Tick::Sleep(_) => {}
                    Tick::Dead => {
                        let cause = if l.probing() {
                            Cause::NetworkChanged
                        } else {
                            Cause::HeartbeatTimeout
                        };
                        warn!(target: "wstether", url = %self.settings.log_url, cause = %cause, "link is dead");
                        let reason = cause.to_string();
                        self.lose(now, network_loss(cause, reason), Shut::Abort);
                    }
                    Tick::Ping => {
                        let app = self
                            .settings
                            .heartbeat
                            .as_ref()
                            .and_then(|h| h.app_ping.as_ref());
                        let ping = match app {
                            Some(app) => Ping::App(app.payload.clone()),
                            None => {
                                self.ping_seq = self.ping_seq.wrapping_add(1);
                                Ping::Protocol(self.ping_seq.to_be_bytes().to_vec())
                            }
                        };
                        self.push(Action::Ping(ping));
                    }
                }
            }
            _ => {}
        }
    }

    // ----- steps -------------------------------------------------------------------------

    /// Begin an attempt. To a known URL: a slot of its host's handshake budget, then the
    /// attempt. With a URL provider: the attempt starts by asking it (`located` goes on).
    fn begin_attempt(&mut self, now: Time) {
        if self.settings.locate && !self.url_given {
            self.announce_attempt(now, "asking the URL provider".into());
            self.phase = Phase::Locating;
            self.push(Action::Locate {
                attempt: self.attempt,
                after_unauthorized: self.refreshed_auth,
            });
        } else {
            self.reserve(now, false);
        }
    }

    /// Take a slot from the process-wide handshake budget for the target's host, then dial.
    fn reserve(&mut self, now: Time, started: bool) {
        let wait = match self.settings.handshake_budget {
            Some(rate) => self.budgets.reserve(&self.settings.host_key, rate, now),
            None => Duration::ZERO,
        };
        if wait.is_zero() {
            self.dial(now, started);
        } else {
            debug!(target: "wstether", url = %self.settings.log_url, wait_ms = wait.as_millis() as u64, "handshake budget: waiting for a slot");
            self.phase = Phase::Budget {
                until: now + wait,
                started,
            };
        }
    }

    /// Count and announce an attempt (the backoff curve moves one step).
    fn announce_attempt(&mut self, now: Time, to: String) {
        self.attempt = self.attempt.saturating_add(1);
        self.down_since.get_or_insert(now);
        let attempt = self.attempt;
        self.push(Action::CountAttempt);
        self.transition(State::Connecting, format!("attempt {attempt}: {to}"));
        info!(target: "wstether", url = %self.settings.log_url, attempt, "connecting");
        self.push(Action::Emit(Event::Connecting { attempt }));
    }

    /// The attempt connects to the target URL.
    fn dial(&mut self, now: Time, started: bool) {
        if !started {
            let to = self.settings.log_url.clone();
            self.announce_attempt(now, to);
        }
        self.url_given = false;
        self.phase = Phase::Connecting;
        self.push(Action::Connect {
            attempt: self.attempt,
            after_unauthorized: self.refreshed_auth,
            url: self.settings.url.clone(),
        });
    }

    /// Attempts go to `url` from now on: its host's budget, its (redacted) form in logs.
    fn target(&mut self, url: Url) {
        self.settings.host_key = crate::budget::host_key(&url);
        self.settings.log_url = crate::redact::url(&url);
        self.settings.url = url;
    }

    /// `reconnect_to(url)`: the next attempt goes to `url`, at once (the budget still
    /// applies). An open link is closed first (1000, "reconnecting"); an attempt in flight is
    /// dropped. Idle or paused, the URL waits for `connect()` or `resume()`.
    fn reconnect_to(&mut self, now: Time, url: Url) {
        info!(target: "wstether", from = %self.settings.log_url, to = %crate::redact::url(&url), "reconnect_to: moving to a new URL");
        self.target(url);
        self.url_given = true;
        match &self.phase {
            Phase::Open(_) => {
                self.end_of_link(now);
                self.phase = Phase::Closing {
                    deadline: now + self.settings.close_timeout,
                    then: AfterClose::Reconnect,
                };
                self.push(Action::Close {
                    code: 1000,
                    reason: RECONNECT_REASON.into(),
                    flush: false,
                    within: self.settings.close_timeout,
                });
            }
            Phase::Connecting | Phase::Locating => {
                self.push(Action::Abandon);
                self.begin_attempt(now);
            }
            Phase::Budget { .. } | Phase::Waiting { .. } => self.begin_attempt(now),
            Phase::Idle | Phase::Paused | Phase::Done => {}
            // Commands wait while a link is being ended (see `command`).
            Phase::Closing { .. } | Phase::Shutting { .. } => {}
        }
    }

    /// The attempt succeeded: the link is open; the greeting goes first.
    fn opened(&mut self, now: Time, opened: Opened) {
        self.refreshed_auth = false;
        self.down_since = None;
        let liveness = self
            .settings
            .heartbeat
            .as_ref()
            .map(|hb| Liveness::new(hb, now));
        self.phase = Phase::Open(Box::new(OpenLink {
            opened_at: now,
            liveness,
            serving: false,
        }));
        self.push(Action::CountOpen);
        self.transition(
            State::Open,
            format!("handshake complete: {}", self.settings.log_url),
        );
        info!(target: "wstether", url = %self.settings.log_url, attempt = self.attempt, protocol = ?opened.protocol, compression = ?opened.compression, address = ?opened.address, "open");
        self.push(Action::Emit(Event::Open {
            attempt: self.attempt,
            protocol: opened.protocol,
            compression: opened.compression,
            address: opened.address,
        }));
        self.push(Action::Greet {
            within: self.settings.connect_timeout,
        });
    }

    fn attempt_failed(&mut self, now: Time, cause: Cause) {
        warn!(target: "wstether", url = %self.settings.log_url, attempt = self.attempt, cause = %cause, "attempt failed");
        let kind = match cause {
            Cause::Auth(_)
            | Cause::ProxyAuth(_)
            | Cause::ProxyRejected { status: 401 | 407 }
            | Cause::HandshakeRejected {
                status: 401 | 403, ..
            } => ErrorKind::Auth,
            _ => ErrorKind::Connect,
        };
        self.push(Action::Emit(Event::Error {
            kind,
            message: cause.to_string(),
        }));
        match self.plan(now, cause) {
            Next::Fail(cause) => self.fail(cause),
            Next::Retry => self.begin_attempt(now),
            Next::Wait { delay, cause } => self.wait(now, delay, cause),
        }
    }

    /// The link ends because of `loss`: shut its socket first; the rest follows `shut_done`.
    fn lose(&mut self, now: Time, loss: Loss, shut: Shut) {
        self.end_of_link(now);
        self.down_since = Some(now);
        self.phase = Phase::Shutting {
            deadline: now + self.settings.close_timeout,
            loss,
        };
        self.push(Action::Shut {
            shut,
            within: self.settings.close_timeout,
        });
    }

    /// A lost link's socket is shut: report the loss and decide what follows.
    fn after_loss(&mut self, now: Time, loss: Loss) {
        if matches!(loss.cause, Cause::MessageTooLarge | Cause::Protocol(_)) {
            self.push(Action::Emit(Event::Error {
                kind: ErrorKind::Link,
                message: loss.cause.to_string(),
            }));
        }
        let next = self.plan(now, loss.cause);
        // The state moves before `Closed` is reported, so a handler reading `state()` already
        // sees where the client is going.
        match &next {
            Next::Wait { cause, .. } => self.transition(State::Waiting, cause.to_string()),
            Next::Fail(cause) => self.transition(State::Failed, cause.to_string()),
            Next::Retry => {}
        }
        let will_reconnect = !matches!(next, Next::Fail(_));
        self.report_close(loss.code, &loss.reason, loss.initiator, will_reconnect);
        match next {
            Next::Fail(cause) => self.fail(cause),
            Next::Retry => self.begin_attempt(now),
            Next::Wait { delay, cause } => self.wait(now, delay, cause),
        }
        self.replay_deferred(now);
    }

    /// `close(code, reason)` from any step.
    fn close(&mut self, now: Time, code: u16, reason: String) {
        match &self.phase {
            Phase::Open(_) => {
                self.end_of_link(now);
                self.transition(State::Closing, "close()".into());
                self.phase = Phase::Closing {
                    deadline: now + self.settings.close_timeout,
                    then: AfterClose::Close {
                        code,
                        reason: reason.clone(),
                    },
                };
                self.push(Action::Close {
                    code,
                    reason,
                    flush: true,
                    within: self.settings.close_timeout,
                });
            }
            Phase::Connecting | Phase::Locating => {
                // Dropping the attempt closes any half-made socket.
                self.push(Action::Abandon);
                self.finish_closed();
            }
            _ => self.finish_closed(),
        }
    }

    /// The closing handshake of `close()` or `pause()` is over.
    fn closed_locally(&mut self, now: Time, then: AfterClose) {
        match then {
            AfterClose::Close { code, reason } => {
                self.report_close(code, &reason, Initiator::Local, false);
                self.finish_closed();
            }
            AfterClose::Pause => {
                self.pause();
                self.report_close(1000, "paused", Initiator::Local, false);
                self.replay_deferred(now);
            }
            AfterClose::Reconnect => {
                // A deliberate move, not a failure: no backoff delay, and `max_elapsed`
                // counts from here.
                self.down_since = None;
                self.report_close(1000, RECONNECT_REASON, Initiator::Local, true);
                self.begin_attempt(now);
                self.replay_deferred(now);
            }
        }
    }

    /// Waiting out a backoff delay; `reconnect_now()` and `network_changed()` cut it short.
    fn wait(&mut self, now: Time, delay: Duration, cause: Cause) {
        self.transition(State::Waiting, cause.to_string());
        let attempt = self.attempt.saturating_add(1);
        info!(target: "wstether", url = %self.settings.log_url, attempt, delay_ms = delay.as_millis() as u64, cause = %cause, "reconnecting after delay");
        self.push(Action::Emit(Event::Reconnecting {
            attempt,
            delay,
            cause,
        }));
        self.phase = Phase::Waiting { until: now + delay };
    }

    /// Paused: nothing happens until `resume()` (or `close()`).
    fn pause(&mut self) {
        self.phase = Phase::Paused;
        self.transition(State::Paused, "pause()".into());
        info!(target: "wstether", url = %self.settings.log_url, "paused");
    }

    /// Terminal: closed by the user.
    fn finish_closed(&mut self) {
        self.phase = Phase::Done;
        self.transition(State::Closed, "close()".into());
        info!(target: "wstether", url = %self.settings.log_url, "closed");
        self.push(Action::Finish(End::Closed));
    }

    /// Terminal: gave up.
    fn fail(&mut self, cause: Cause) {
        self.phase = Phase::Done;
        self.transition(State::Failed, cause.to_string());
        error!(target: "wstether", url = %self.settings.log_url, cause = %cause, "failed: giving up");
        self.push(Action::Finish(End::Failed(cause)));
    }

    // ----- decisions ---------------------------------------------------------------------

    /// After a failed attempt or a lost link: fail, retry now with fresh auth, or back off.
    fn plan(&mut self, now: Time, cause: Cause) -> Next {
        let refreshed = std::mem::take(&mut self.refreshed_auth);
        let (floor, at_max) = match policy::verdict(&cause, &self.settings.terminal, refreshed) {
            Verdict::Fail => return Next::Fail(cause),
            Verdict::RetryWithFreshAuth => {
                self.refreshed_auth = true;
                return Next::Retry;
            }
            Verdict::Retry { floor } => (floor, false),
            Verdict::RetryLater => (None, true),
        };
        if let Some(max) = self.settings.max_retries {
            if self.attempt >= max {
                return Next::Fail(Cause::RetriesExhausted {
                    attempts: self.attempt,
                    last: Box::new(cause),
                });
            }
        }
        if let (Some(max), Some(since)) = (self.settings.max_elapsed, self.down_since) {
            let elapsed = now.since(since);
            if elapsed >= max {
                return Next::Fail(Cause::ElapsedExhausted {
                    elapsed,
                    last: Box::new(cause),
                });
            }
        }
        let unit = self.rng.unit();
        let backoff = &self.settings.backoff;
        let delay = if at_max {
            // 1013 names no delay: the curve's maximum, jittered like any other.
            backoff.delay(u32::MAX, unit)
        } else {
            backoff.delay_with_floor(self.attempt.max(1), unit, floor)
        };
        Next::Wait { delay, cause }
    }

    /// A link is ending at `now`. The curve starts over only after a link that lasted: a server
    /// that accepts and then drops at once keeps pushing the delay up instead of causing a
    /// tight loop.
    fn end_of_link(&mut self, now: Time) {
        if let Phase::Open(link) = &self.phase {
            if now.since(link.opened_at) >= self.settings.backoff.stable_after {
                self.attempt = 0;
            }
        }
    }

    /// A heartbeat got its answer.
    fn pong(&mut self, now: Time) {
        let Phase::Open(link) = &mut self.phase else {
            return;
        };
        if let Some(rtt) = link.liveness.as_mut().and_then(|l| l.on_pong(now)) {
            debug!(target: "wstether", url = %self.settings.log_url, rtt_ms = rtt.as_secs_f64() * 1e3, "pong");
            self.push(Action::RecordRtt(rtt));
            self.push(Action::Emit(Event::Pong { rtt }));
        }
    }

    /// Commands that waited for a link to end, in their order.
    fn replay_deferred(&mut self, now: Time) {
        let mut queued = std::mem::take(&mut self.deferred);
        while let Some(command) = queued.pop_front() {
            self.command(now, command);
            if matches!(self.phase, Phase::Closing { .. } | Phase::Shutting { .. }) {
                self.deferred.extend(queued);
                return;
            }
        }
    }

    // ----- reporting ---------------------------------------------------------------------

    fn report_close(
        &mut self,
        code: u16,
        reason: &str,
        initiator: Initiator,
        will_reconnect: bool,
    ) {
        info!(target: "wstether", url = %self.settings.log_url, code, code_name = policy::close_code_name(code), reason, initiator = initiator.as_str(), will_reconnect, "link closed");
        self.push(Action::RecordClose {
            code,
            reason: reason.to_string(),
        });
        self.push(Action::Emit(Event::Closed {
            code,
            reason: reason.to_string(),
            initiator,
            will_reconnect,
        }));
    }

    fn transition(&mut self, to: State, cause: String) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.push(Action::Transition { from, to, cause });
    }

    fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }
}

/// What follows a failed attempt or a lost link.
enum Next {
    Fail(Cause),
    /// At once, with fresh credentials (a 401).
    Retry,
    Wait {
        delay: Duration,
        cause: Cause,
    },
}

/// A small, fast generator for jitter (SplitMix64): seeded by the driver, so the machine draws
/// nothing from the environment and a test can replay a fleet exactly.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn network_loss(cause: Cause, reason: String) -> Loss {
    Loss {
        cause,
        code: 1006,
        reason,
        initiator: Initiator::Network,
    }
}

fn local_loss(cause: Cause, code: u16) -> Loss {
    Loss {
        reason: cause.to_string(),
        cause,
        code,
        initiator: Initiator::Local,
    }
}
