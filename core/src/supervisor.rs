//! The state machine: one task per client owns the link. Commands come in over a channel,
//! events go out over another; every decision about connecting, waiting, detecting a dead link
//! and giving up is made here, with `policy`, `backoff`, `heartbeat` and `budget` as advisers.
//! (`send()` may write a frame to an idle open link itself; see `link`.)
//!
//! Read it top to bottom: `run` walks the steps
//! `Idle → Connect → Open → (Wait → Connect …) → Close | Fail`, with `Paused` on the side.

use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::{sleep_until, timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tracing::{debug, error, info, warn};

use crate::budget;
use crate::client::{CloseRequest, Command, Shared};
use crate::config::{AuthRequest, Config};
use crate::connect::{self, Link};
use crate::event::{Cause, ErrorKind, Event, Initiator, Message, State};
use crate::heartbeat::{Heartbeat, Liveness, Tick};
use crate::link::{to_ws, SharedSocket};
use crate::outbox::Sealed;
use crate::policy::{self, Verdict};

/// Most messages written per batch (one flush each).
const WRITE_BATCH: usize = 256;
/// Most bytes gathered into one write batch.
const WRITE_BATCH_BYTES: usize = 256 * 1024;
/// Most frames read in one go before the loop looks at commands and timers again. Also the
/// largest chunk handed to the consumer: bigger chunks mean fewer wake-ups of a binding's event
/// thread (512 rather than 128 gave the Kotlin layer about a fifth more throughput on 2 cores).
const READ_BATCH: usize = 512;
/// Longest wait `network_changed()` gives an open link to answer its ping.
const NETWORK_PROBE_MAX: Duration = Duration::from_secs(5);
/// Write deadline when no heartbeat is configured.
const WRITE_TIMEOUT_NO_HEARTBEAT: Duration = Duration::from_secs(30);

/// What the supervisor does next.
enum Step {
    Idle,
    Connect,
    Open(Box<Link>),
    Wait { delay: Duration, cause: Cause },
    Paused,
    Close(CloseRequest),
    Fail(Cause),
}

/// Why an open link ended.
enum LinkEnd {
    /// `close()` was called, or every handle was dropped.
    LocalClose(CloseRequest),
    /// `pause()` was called.
    Pause,
    /// The link broke or the server closed it.
    Lost(Loss),
}

/// A lost link: what to report and how to shut what is left of the socket.
struct Loss {
    cause: Cause,
    code: u16,
    reason: String,
    initiator: Initiator,
    shut: Shut,
}

/// What woke the open-link loop.
enum Wake {
    Command(Option<Command>),
    Timer,
    Credit,
    Frame(Option<Result<WsMessage, WsError>>),
    Write,
    Sent,
}

/// How to end a socket.
enum Shut {
    /// It is dead: drop it at once (no closing handshake to wait for).
    Abort,
    /// The server sent a close frame: flush tungstenite's queued reply, then drop.
    Reply,
    /// We found a fault: send this close code, then drop.
    Send(u16),
}

pub(crate) struct Supervisor {
    config: Arc<Config>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Vec<Event>>,
    /// Inbound messages of the current read batch, sent to the consumer as one chunk.
    inbound: Vec<Event>,
    /// One permit per inbound message the consumer may have pending; none left → stop reading.
    credits: Arc<Semaphore>,
    /// Attempts since the last stable link (the backoff curve's position).
    attempt: u32,
    /// The previous attempt was refused with 401 and this one carries fresh credentials.
    refreshed_auth: bool,
    /// When the client last lost, or first sought, a link (for `max_elapsed`).
    down_since: Option<Instant>,
    /// Payload of the last protocol ping, to match its pong.
    ping_seq: u64,
    log_url: String,
    write_batch: Vec<Message>,
    /// Event slots claimed from `credits` and not yet used by a delivered message.
    credits_held: usize,
    /// Inbound counts not yet published to the shared counters (published once per read batch).
    unpublished_in: (u64, u64),
}

impl Supervisor {
    pub fn new(
        config: Arc<Config>,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
        events: mpsc::UnboundedSender<Vec<Event>>,
        credits: Arc<Semaphore>,
    ) -> Self {
        Supervisor {
            log_url: config.redacted_url(),
            config,
            shared,
            commands,
            events,
            inbound: Vec::new(),
            credits,
            attempt: 0,
            refreshed_auth: false,
            down_since: None,
            ping_seq: 0,
            write_batch: Vec::new(),
            credits_held: 0,
            unpublished_in: (0, 0),
        }
    }

    /// Run the client's task. Whatever ends it early — a panic, or its runtime dropping it —
    /// the client still reaches `Failed` with every unsent message, so no caller is left
    /// waiting on a client that will never move again.
    pub async fn run_guarded(self) {
        let mut guard = Guard {
            shared: self.shared.clone(),
            events: self.events.clone(),
            log_url: self.log_url.clone(),
            armed: true,
        };
        let ended = AssertUnwindSafe(self.run()).catch_unwind().await;
        guard.armed = false;
        if let Err(panic) = ended {
            guard.fail(format!("panic: {}", connect::panic_text(&*panic)));
        }
    }

    async fn run(mut self) {
        let mut step = Step::Idle;
        loop {
            step = match step {
                Step::Idle => self.idle().await,
                Step::Connect => self.connect().await,
                Step::Open(link) => self.open(link).await,
                Step::Wait { delay, cause } => self.wait(delay, cause).await,
                Step::Paused => self.paused().await,
                Step::Close(request) => return self.closed(request),
                Step::Fail(cause) => return self.failed(cause),
            };
        }
    }

    // ----- steps -------------------------------------------------------------------------

    /// Built, waiting for `connect()`.
    async fn idle(&mut self) -> Step {
        loop {
            match self.commands.recv().await {
                None => return Step::Close(CloseRequest::dropped()),
                Some(Command::Close(r)) => return Step::Close(r),
                Some(Command::Connect) => return Step::Connect,
                Some(Command::Pause) => return Step::Paused,
                Some(_) => {}
            }
        }
    }

    /// One attempt, after taking a slot from the process-wide handshake budget.
    async fn connect(&mut self) -> Step {
        if let Some(rate) = self.config.handshake_budget {
            let wait = budget::reserve(&self.config.host_key, rate);
            if !wait.is_zero() {
                debug!(target: "wstether", url = %self.log_url, wait_ms = wait.as_millis() as u64, "handshake budget: waiting for a slot");
                let until = Instant::now() + wait;
                loop {
                    tokio::select! {
                        _ = sleep_until(until) => break,
                        cmd = self.commands.recv() => match cmd {
                            None => return Step::Close(CloseRequest::dropped()),
                            Some(Command::Close(r)) => return Step::Close(r),
                            Some(Command::Pause) => return Step::Paused,
                            Some(_) => {}
                        },
                    }
                }
            }
        }
        self.attempt += 1;
        self.down_since.get_or_insert_with(Instant::now);
        self.shared
            .counters
            .attempts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let attempt = self.attempt;
        self.transition(State::Connecting, &format!("attempt {attempt}"));
        info!(target: "wstether", url = %self.log_url, attempt, "connecting");
        self.emit(Event::Connecting { attempt });

        let config = self.config.clone();
        let request = AuthRequest {
            attempt,
            after_unauthorized: self.refreshed_auth,
        };
        let attempt_fut = connect::attempt(&config, request);
        tokio::pin!(attempt_fut);
        loop {
            tokio::select! {
                result = &mut attempt_fut => return match result {
                    Ok(link) => Step::Open(Box::new(link)),
                    Err(cause) => self.attempt_failed(cause),
                },
                cmd = self.commands.recv() => match cmd {
                    // Dropping the attempt future closes any half-made socket.
                    None => return Step::Close(CloseRequest::dropped()),
                    Some(Command::Close(r)) => return Step::Close(r),
                    Some(Command::Pause) => return Step::Paused,
                    Some(_) => {} // already connecting: one attempt in flight at most
                },
            }
        }
    }

    /// The link is open: run it until it ends, then shut it and decide what follows.
    async fn open(&mut self, link: Box<Link>) -> Step {
        let Link { socket, protocol } = *link;
        let mut socket = SharedSocket::new(socket);
        let opened_at = Instant::now();
        self.refreshed_auth = false;
        self.down_since = None;
        self.shared
            .counters
            .opens
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.transition(State::Open, "handshake complete");
        info!(target: "wstether", url = %self.log_url, attempt = self.attempt, protocol = ?protocol, "open");
        self.emit(Event::Open {
            attempt: self.attempt,
            protocol,
        });

        let end = self.run_link(&mut socket).await;

        // The curve starts over only after a link that lasted: a server that accepts and then
        // drops at once keeps pushing the delay up instead of causing a tight loop.
        if opened_at.elapsed() >= self.config.backoff.stable_after {
            self.attempt = 0;
        }
        match end {
            LinkEnd::LocalClose(request) => {
                self.transition(State::Closing, "close()");
                self.close_link(&mut socket, request.code, &request.reason, true)
                    .await;
                self.report_close(request.code, &request.reason, Initiator::Local, false);
                Step::Close(request)
            }
            LinkEnd::Pause => {
                self.close_link(&mut socket, 1000, "paused", false).await;
                self.transition(State::Paused, "pause()");
                self.report_close(1000, "paused", Initiator::Local, false);
                Step::Paused
            }
            LinkEnd::Lost(loss) => {
                self.shut(&mut socket, &loss.shut).await;
                drop(socket);
                if matches!(loss.cause, Cause::MessageTooLarge | Cause::Protocol(_)) {
                    self.emit(Event::Error {
                        kind: ErrorKind::Link,
                        message: loss.cause.to_string(),
                    });
                }
                self.down_since = Some(Instant::now());
                let next = self.plan(loss.cause);
                // The state moves before `Closed` is reported, so a handler reading `state()`
                // already sees where the client is going.
                match &next {
                    Step::Wait { cause, .. } => self.transition(State::Waiting, &cause.to_string()),
                    Step::Fail(cause) => self.transition(State::Failed, &cause.to_string()),
                    _ => {}
                }
                let will_reconnect = !matches!(next, Step::Fail(_));
                self.report_close(loss.code, &loss.reason, loss.initiator, will_reconnect);
                next
            }
        }
    }

    /// Waiting out a backoff delay; `reconnect_now()` and `network_changed()` cut it short.
    async fn wait(&mut self, delay: Duration, cause: Cause) -> Step {
        self.transition(State::Waiting, &cause.to_string());
        let attempt = self.attempt + 1;
        info!(target: "wstether", url = %self.log_url, attempt, delay_ms = delay.as_millis() as u64, cause = %cause, "reconnecting after delay");
        self.emit(Event::Reconnecting {
            attempt,
            delay,
            cause,
        });
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = sleep_until(until) => return Step::Connect,
                cmd = self.commands.recv() => match cmd {
                    None => return Step::Close(CloseRequest::dropped()),
                    Some(Command::Close(r)) => return Step::Close(r),
                    Some(Command::Pause) => return Step::Paused,
                    Some(Command::ReconnectNow | Command::NetworkChanged) => return Step::Connect,
                    Some(_) => {}
                },
            }
        }
    }

    /// Paused: nothing happens until `resume()` (or `close()`).
    async fn paused(&mut self) -> Step {
        self.transition(State::Paused, "pause()");
        info!(target: "wstether", url = %self.log_url, "paused");
        loop {
            match self.commands.recv().await {
                None => return Step::Close(CloseRequest::dropped()),
                Some(Command::Close(r)) => return Step::Close(r),
                Some(Command::Resume) => {
                    // A deliberate resume starts a fresh curve.
                    self.attempt = 0;
                    self.down_since = None;
                    return Step::Connect;
                }
                Some(_) => {}
            }
        }
    }

    /// Terminal: closed by the user. Hands back what was never written.
    fn closed(mut self, request: CloseRequest) {
        let unsent = self.shared.outbox().seal(Sealed::Closed);
        self.transition(State::Closed, "close()");
        info!(target: "wstether", url = %self.log_url, unsent = unsent.len(), "closed");
        match request.reply {
            Some(reply) => {
                let _ = reply.send(unsent);
            }
            None if !unsent.is_empty() => {
                warn!(target: "wstether", url = %self.log_url, unsent = unsent.len(), "client dropped without close(): unsent messages discarded");
            }
            None => {}
        }
    }

    /// Terminal: gave up. The `Failed` event carries every unsent message.
    fn failed(mut self, cause: Cause) {
        let unsent = self.shared.outbox().seal(Sealed::Failed);
        self.transition(State::Failed, &cause.to_string());
        error!(target: "wstether", url = %self.log_url, cause = %cause, unsent = unsent.len(), "failed: giving up");
        self.emit(Event::Failed {
            reason: cause,
            unsent,
        });
    }

    // ----- decisions ---------------------------------------------------------------------

    fn attempt_failed(&mut self, cause: Cause) -> Step {
        warn!(target: "wstether", url = %self.log_url, attempt = self.attempt, cause = %cause, "attempt failed");
        let kind = match cause {
            Cause::Auth(_)
            | Cause::HandshakeRejected {
                status: 401 | 403, ..
            } => ErrorKind::Auth,
            _ => ErrorKind::Connect,
        };
        self.emit(Event::Error {
            kind,
            message: cause.to_string(),
        });
        self.plan(cause)
    }

    /// After a failed attempt or a lost link: fail, retry now with fresh auth, or back off.
    fn plan(&mut self, cause: Cause) -> Step {
        let refreshed = std::mem::take(&mut self.refreshed_auth);
        let (floor, at_max) = match policy::verdict(&cause, &self.config.terminal, refreshed) {
            Verdict::Fail => return Step::Fail(cause),
            Verdict::RetryWithFreshAuth => {
                self.refreshed_auth = true;
                return Step::Connect;
            }
            Verdict::Retry { floor } => (floor, false),
            Verdict::RetryLater => (None, true),
        };
        if let Some(max) = self.config.max_retries {
            if self.attempt >= max {
                return Step::Fail(Cause::RetriesExhausted {
                    attempts: self.attempt,
                    last: Box::new(cause),
                });
            }
        }
        if let (Some(max), Some(since)) = (self.config.max_elapsed, self.down_since) {
            let elapsed = since.elapsed();
            if elapsed >= max {
                return Step::Fail(Cause::ElapsedExhausted {
                    elapsed,
                    last: Box::new(cause),
                });
            }
        }
        let unit: f64 = rand::random();
        let backoff = &self.config.backoff;
        let delay = if at_max {
            backoff.delay(u32::MAX, unit)
        } else {
            backoff.delay_with_floor(self.attempt.max(1), unit, floor)
        };
        Step::Wait { delay, cause }
    }

    // ----- the open link -----------------------------------------------------------------

    /// Read, write, ping and obey commands until the link ends.
    async fn run_link(&mut self, socket: &mut SharedSocket) -> LinkEnd {
        let mut liveness = self
            .config
            .heartbeat
            .as_ref()
            .map(|hb| Liveness::new(hb, Instant::now()));
        // The provider is the app's code: a panic in it is reported like an error.
        let provider = AssertUnwindSafe(self.config.greeting.messages()).catch_unwind();
        let greeting = match timeout(self.config.connect_timeout, provider).await {
            Ok(Ok(Ok(messages))) => messages,
            Ok(Ok(Err(why))) => self.greeting_failed(&format!("greeting provider failed: {why}")),
            Ok(Err(panic)) => self.greeting_failed(&format!(
                "greeting provider panicked: {}",
                connect::panic_text(&*panic)
            )),
            Err(_) => {
                self.greeting_failed("greeting provider gave no answer within connect_timeout")
            }
        };
        if !greeting.is_empty() {
            let deadline = self.write_deadline(&liveness);
            if let Err(loss) = self.write_messages(socket, &greeting, deadline).await {
                return LinkEnd::Lost(loss);
            }
        }
        let timer = tokio::time::sleep_until(Instant::now() + Duration::from_secs(86_400));
        tokio::pin!(timer);
        if let Some(l) = liveness.as_mut() {
            if let Tick::Sleep(at) = l.tick(Instant::now()) {
                timer.as_mut().reset(at);
            }
        }
        // From here `send()` may write directly: the greeting is out, so nothing overtakes it.
        {
            let outbox = self.shared.outbox();
            self.shared
                .set_link(&outbox, Some(socket.publish(&self.shared)));
        }
        let end = self.drive_link(socket, &mut liveness, timer.as_mut()).await;
        // The closing handshake and the last flush read and write here, with no one else.
        socket.withdraw();
        {
            let outbox = self.shared.outbox();
            self.shared.set_link(&outbox, None);
        }
        self.settle_unflushed(socket, &end).await;
        // Slots claimed but unused go back, so the next link starts with the full buffer.
        self.credits
            .add_permits(std::mem::take(&mut self.credits_held));
        end
    }

    async fn drive_link(
        &mut self,
        socket: &mut SharedSocket,
        liveness: &mut Option<Liveness>,
        mut timer: std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> LinkEnd {
        loop {
            let have_credit = self.has_credit();
            if !have_credit {
                if let Some(l) = liveness.as_mut() {
                    l.pause_reading();
                }
            }
            let outbox_pending = self.outbox_pending();
            // Select only picks what woke us; the work happens below, with `self` free again.
            let wake = tokio::select! {
                cmd = self.commands.recv() => Wake::Command(cmd),
                _ = &mut timer, if liveness.is_some() => Wake::Timer,
                _ = self.credits.acquire(), if !have_credit => Wake::Credit,
                frame = socket.next(), if have_credit => Wake::Frame(frame),
                _ = std::future::ready(()), if outbox_pending => Wake::Write,
                _ = self.shared.outbox_ready.notified(), if !outbox_pending => Wake::Sent,
            };
            match wake {
                Wake::Command(None) => return LinkEnd::LocalClose(CloseRequest::dropped()),
                Wake::Command(Some(Command::Close(r))) => return LinkEnd::LocalClose(r),
                Wake::Command(Some(Command::Pause)) => return LinkEnd::Pause,
                Wake::Command(Some(Command::NetworkChanged)) => {
                    let now = Instant::now();
                    let l = liveness.get_or_insert_with(|| {
                        let far = Duration::from_secs(86_400);
                        let hb = Heartbeat {
                            interval: far,
                            timeout: far,
                            app_ping: None,
                        };
                        Liveness::new(&hb, now)
                    });
                    let within = self
                        .config
                        .heartbeat
                        .as_ref()
                        .map_or(NETWORK_PROBE_MAX, |hb| hb.timeout.min(NETWORK_PROBE_MAX));
                    debug!(target: "wstether", url = %self.log_url, "network changed: probing the link");
                    l.probe(now, within);
                    timer.as_mut().reset(now);
                }
                Wake::Command(Some(_)) => {}
                Wake::Timer => {
                    let Some(l) = liveness.as_mut() else {
                        continue;
                    };
                    // Bytes count as life, complete frames or not: a large message trickling
                    // in over a slow link keeps it alive. (This also covers data a pulling
                    // consumer read; `check_host` takes the turn back from one that is away.)
                    socket.check_host();
                    if let Some(at) = socket.last_read() {
                        l.on_receive(at);
                    }
                    match l.tick(Instant::now()) {
                        Tick::Dead => {
                            let cause = if l.probing() {
                                Cause::NetworkChanged
                            } else {
                                Cause::HeartbeatTimeout
                            };
                            warn!(target: "wstether", url = %self.log_url, cause = %cause, "link is dead");
                            return LinkEnd::Lost(Loss {
                                reason: cause.to_string(),
                                cause,
                                code: 1006,
                                initiator: Initiator::Network,
                                shut: Shut::Abort,
                            });
                        }
                        Tick::Ping => {
                            if let Err(loss) = self.ping(socket, liveness).await {
                                return LinkEnd::Lost(loss);
                            }
                            timer.as_mut().reset(Instant::now());
                        }
                        Tick::Sleep(at) => timer.as_mut().reset(at),
                    }
                }
                Wake::Credit => {
                    // The consumer caught up (the permit we waited on was released again on
                    // drop; the next turn claims slots properly) and the silence clock restarts.
                    if let Some(l) = liveness.as_mut() {
                        l.resume_reading(Instant::now());
                    }
                }
                Wake::Frame(frame) => {
                    let mut next = Some(frame);
                    let mut read = 0;
                    while let Some(frame) = next.take() {
                        if let Some(end) = self.on_frame(frame, liveness) {
                            self.publish_in();
                            return LinkEnd::Lost(end);
                        }
                        read += 1;
                        if read < READ_BATCH && self.has_credit() {
                            next = socket.next_ready();
                        }
                    }
                    self.publish_in();
                    socket.published();
                    if let Some(l) = liveness.as_mut() {
                        l.on_receive(Instant::now());
                    }
                }
                Wake::Write => {
                    if let Err(loss) = self.write_outbox(socket, liveness).await {
                        return LinkEnd::Lost(loss);
                    }
                }
                // A send woke us: write at once rather than on the next turn (latency).
                Wake::Sent => {
                    if self.outbox_pending() {
                        if let Err(loss) = self.write_outbox(socket, liveness).await {
                            return LinkEnd::Lost(loss);
                        }
                    }
                }
            }
        }
    }

    /// A greeting that could not be computed is reported; the link carries on without it.
    fn greeting_failed(&mut self, message: &str) -> Vec<Message> {
        warn!(target: "wstether", url = %self.log_url, "{message}");
        self.emit(Event::Error {
            kind: ErrorKind::Link,
            message: message.to_string(),
        });
        Vec::new()
    }

    /// Handle one inbound frame. Returns the loss if the link ended.
    fn on_frame(
        &mut self,
        frame: Option<Result<WsMessage, WsError>>,
        liveness: &mut Option<Liveness>,
    ) -> Option<Loss> {
        let msg = match frame {
            Some(Ok(msg)) => msg,
            None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                return Some(network_loss("connection closed without a close frame"))
            }
            Some(Err(e)) => return Some(read_error_loss(e)),
        };
        match msg {
            WsMessage::Text(text) => {
                if let Some(app) = self
                    .config
                    .heartbeat
                    .as_ref()
                    .and_then(|h| h.app_ping.as_ref())
                {
                    if app.pong.matches(text.as_str()) {
                        self.on_pong(liveness);
                        return None;
                    }
                }
                self.deliver(Message::Text(text));
            }
            WsMessage::Binary(data) => self.deliver(Message::Binary(data)),
            WsMessage::Pong(payload) => {
                if payload.as_ref() == self.ping_seq.to_be_bytes() {
                    self.on_pong(liveness);
                }
            }
            WsMessage::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (u16::from(f.code), f.reason.to_string()),
                    None => (1005, String::new()),
                };
                info!(target: "wstether", url = %self.log_url, code, reason = %reason, "server closed the link");
                return Some(Loss {
                    cause: Cause::Closed {
                        code,
                        reason: reason.clone(),
                    },
                    code,
                    reason,
                    initiator: Initiator::Remote,
                    shut: Shut::Reply,
                });
            }
            // Pings are answered by tungstenite on the next read or write.
            WsMessage::Ping(_) | WsMessage::Frame(_) => {}
        }
        None
    }

    fn deliver(&mut self, msg: Message) {
        self.unpublished_in.0 += 1;
        self.unpublished_in.1 += msg.len() as u64;
        // The slot travels with the message; the consumer frees it when it takes it.
        self.credits_held = self.credits_held.saturating_sub(1);
        self.inbound.push(Event::Message(msg));
    }

    /// End of a read batch: hand the messages over in one chunk (one channel push, one wake-up)
    /// and publish the counters.
    fn publish_in(&mut self) {
        // Counters first, so `stats()` read from an event handler already counts its message.
        let (n, bytes) = std::mem::take(&mut self.unpublished_in);
        if n > 0 {
            self.shared.counters.add_in(n, bytes);
        }
        if !self.inbound.is_empty() {
            let chunk = std::mem::replace(&mut self.inbound, Vec::with_capacity(16));
            let _ = self.events.send(chunk);
        }
    }

    fn on_pong(&mut self, liveness: &mut Option<Liveness>) {
        if let Some(rtt) = liveness.as_mut().and_then(|l| l.on_pong(Instant::now())) {
            self.shared.counters.set_rtt(rtt);
            debug!(target: "wstether", url = %self.log_url, rtt_ms = rtt.as_secs_f64() * 1e3, "pong");
            self.emit(Event::Pong { rtt });
        }
    }

    /// Whether one more inbound message may be read: claims event slots without waiting,
    /// several at a time so the hot path does not touch the semaphore per message.
    fn has_credit(&mut self) -> bool {
        if self.events.is_closed() {
            // Nobody listens: never stall the socket for a consumer that is gone.
            return true;
        }
        if self.credits_held == 0 {
            for chunk in [32, 1] {
                if let Ok(permits) = self.credits.try_acquire_many(chunk) {
                    permits.forget();
                    self.credits_held = chunk as usize;
                    break;
                }
            }
        }
        self.credits_held > 0
    }

    async fn ping(
        &mut self,
        socket: &mut SharedSocket,
        liveness: &Option<Liveness>,
    ) -> Result<(), Loss> {
        let app = self
            .config
            .heartbeat
            .as_ref()
            .and_then(|h| h.app_ping.clone());
        let frame = match app {
            Some(app) => to_ws(&app.payload),
            None => {
                self.ping_seq = self.ping_seq.wrapping_add(1);
                WsMessage::Ping(self.ping_seq.to_be_bytes().to_vec().into())
            }
        };
        let deadline = self.write_deadline(liveness);
        match timeout_at(deadline, socket.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(write_error_loss(e)),
            Err(_) => Err(dead_loss()),
        }
    }

    /// Whether the outbox holds work for the supervisor: queued messages, or a direct write's
    /// unfinished flush.
    fn outbox_pending(&self) -> bool {
        let outbox = self.shared.outbox();
        !outbox.is_empty() || outbox.has_unflushed()
    }

    /// Finish a direct write's flush, then write one batch from the outbox. What could not be
    /// written goes back to the outbox's front.
    async fn write_outbox(
        &mut self,
        socket: &mut SharedSocket,
        liveness: &Option<Liveness>,
    ) -> Result<(), Loss> {
        let unflushed = self.shared.outbox().take_unflushed();
        if !unflushed.is_empty() {
            let deadline = self.write_deadline(liveness);
            let result = match timeout_at(deadline, socket.flush()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(write_error_loss(e)),
                Err(_) => Err(dead_loss()),
            };
            let mut outbox = self.shared.outbox();
            match result {
                Ok(()) => count_out(&self.shared, &unflushed),
                Err(_) => outbox.requeue_front(unflushed),
            }
            outbox.end_write();
            result?;
        }
        let mut batch = std::mem::take(&mut self.write_batch);
        batch.clear();
        self.shared
            .outbox()
            .pop_batch(WRITE_BATCH, WRITE_BATCH_BYTES, &mut batch);
        let deadline = self.write_deadline(liveness);
        let result = if batch.is_empty() {
            Ok(())
        } else {
            self.write_messages(socket, &batch, deadline).await
        };
        {
            let mut outbox = self.shared.outbox();
            if result.is_err() {
                // Not known to be written: keep it for the next link (or hand it back as unsent).
                outbox.requeue_front(std::mem::take(&mut batch));
            }
            outbox.end_write();
        }
        self.write_batch = batch;
        result
    }

    /// Messages a direct write left half-flushed when the link ended: counted if a clean end
    /// flushes them, otherwise put back at the outbox's front (for the next link, or unsent).
    async fn settle_unflushed(&mut self, socket: &mut SharedSocket, end: &LinkEnd) {
        let unflushed = self.shared.outbox().take_unflushed();
        if unflushed.is_empty() {
            return;
        }
        let clean = !matches!(end, LinkEnd::Lost(_));
        let flushed = clean
            && matches!(
                timeout(self.config.close_timeout, socket.flush()).await,
                Ok(Ok(()))
            );
        let mut outbox = self.shared.outbox();
        if flushed {
            count_out(&self.shared, &unflushed);
        } else {
            outbox.requeue_front(unflushed);
        }
        outbox.end_write();
    }

    /// Write messages and flush, all by `deadline`.
    async fn write_messages(
        &mut self,
        socket: &mut SharedSocket,
        messages: &[Message],
        deadline: Instant,
    ) -> Result<(), Loss> {
        let write = async {
            for m in messages {
                socket.feed(to_ws(m)).await?;
            }
            socket.flush().await
        };
        match timeout_at(deadline, write).await {
            Ok(Ok(())) => {
                count_out(&self.shared, messages);
                Ok(())
            }
            Ok(Err(e)) => Err(write_error_loss(e)),
            Err(_) => Err(dead_loss()),
        }
    }

    /// A write that makes no progress by the time the link would be declared dead has failed.
    fn write_deadline(&self, liveness: &Option<Liveness>) -> Instant {
        let now = Instant::now();
        let budget = self
            .config
            .heartbeat
            .as_ref()
            .map_or(WRITE_TIMEOUT_NO_HEARTBEAT, |h| h.interval + h.timeout);
        match liveness {
            Some(l) if !l.reading_paused() => l.dead_at().max(now).min(now + budget),
            _ => now + budget,
        }
    }

    /// A clean local close: optionally flush the outbox, then the closing handshake, all bounded
    /// by `close_timeout`. Whatever was not written stays in the outbox (→ unsent).
    async fn close_link(
        &mut self,
        socket: &mut SharedSocket,
        code: u16,
        reason: &str,
        flush: bool,
    ) {
        let deadline = Instant::now() + self.config.close_timeout;
        if flush {
            while !self.shared.outbox().is_empty() && Instant::now() < deadline {
                let mut batch = std::mem::take(&mut self.write_batch);
                batch.clear();
                self.shared
                    .outbox()
                    .pop_batch(WRITE_BATCH, WRITE_BATCH_BYTES, &mut batch);
                let ok = self.write_messages(socket, &batch, deadline).await.is_ok();
                {
                    let mut outbox = self.shared.outbox();
                    if !ok {
                        outbox.requeue_front(std::mem::take(&mut batch));
                    }
                    outbox.end_write();
                }
                self.write_batch = batch;
                if !ok {
                    break;
                }
            }
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        let handshake = async {
            socket.close(Some(frame)).await?;
            // Wait for the server's close frame (or EOF); later data is discarded.
            while let Some(Ok(_)) = socket.next().await {}
            Ok::<(), WsError>(())
        };
        let _ = timeout_at(deadline, handshake).await;
    }

    /// End a lost link's socket as its loss requires.
    async fn shut(&mut self, socket: &mut SharedSocket, shut: &Shut) {
        let deadline = Instant::now() + self.config.close_timeout;
        match shut {
            Shut::Abort => {}
            Shut::Reply => {
                let _ = timeout_at(deadline, socket.flush()).await;
            }
            Shut::Send(code) => {
                let frame = CloseFrame {
                    code: CloseCode::from(*code),
                    reason: policy::close_code_name(*code).into(),
                };
                let _ = timeout_at(deadline, socket.close(Some(frame))).await;
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
        self.shared.counters.set_close(code, reason);
        info!(target: "wstether", url = %self.log_url, code, code_name = policy::close_code_name(code), reason, initiator = initiator.as_str(), will_reconnect, "link closed");
        self.emit(Event::Closed {
            code,
            reason: reason.to_string(),
            initiator,
            will_reconnect,
        });
    }

    fn transition(&mut self, to: State, cause: &str) {
        let from = self.shared.state();
        if from == to {
            return;
        }
        self.shared.set_state(to);
        self.shared.counters.record(from, to, cause);
        self.emit(Event::StateChanged { state: to });
    }

    fn emit(&mut self, event: Event) {
        // Messages read before this event go first: events stay in order.
        self.publish_in();
        // A consumer that dropped its stream simply stops hearing; the client carries on.
        let _ = self.events.send(vec![event]);
    }
}

/// Ends a client whose task stopped early (see [`Supervisor::run_guarded`]). Holds its own
/// handles because the supervisor's are gone by the time it acts.
struct Guard {
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Vec<Event>>,
    log_url: String,
    /// Still waiting for the task to end; a drop while armed means the task was cancelled.
    armed: bool,
}

impl Guard {
    fn fail(&self, why: String) {
        let from = self.shared.state();
        if from.is_terminal() {
            return;
        }
        {
            let outbox = self.shared.outbox();
            self.shared.set_link(&outbox, None);
        }
        let unsent = self.shared.outbox().seal(Sealed::Failed);
        let reason = Cause::Internal(why);
        error!(target: "wstether", url = %self.log_url, reason = %reason, unsent = unsent.len(), "failed: the client's task stopped");
        self.shared.set_state(State::Failed);
        self.shared
            .counters
            .record(from, State::Failed, &reason.to_string());
        let _ = self.events.send(vec![
            Event::StateChanged {
                state: State::Failed,
            },
            Event::Failed { reason, unsent },
        ]);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.armed {
            self.fail("the runtime stopped the client's task".into());
        }
    }
}

/// Count messages known to be written.
fn count_out(shared: &Shared, messages: &[Message]) {
    let bytes = messages.iter().map(Message::len).sum();
    shared.counters.add_out(messages.len(), bytes);
}

fn network_loss(detail: &str) -> Loss {
    Loss {
        cause: Cause::Network(detail.to_string()),
        code: 1006,
        reason: detail.to_string(),
        initiator: Initiator::Network,
        shut: Shut::Abort,
    }
}

/// A write that made no progress by its deadline: the link is dead, and the report says it was
/// the write that stalled (not silence from the server).
fn dead_loss() -> Loss {
    let cause = Cause::WriteStalled;
    Loss {
        reason: cause.to_string(),
        cause,
        code: 1006,
        initiator: Initiator::Network,
        shut: Shut::Abort,
    }
}

fn write_error_loss(e: WsError) -> Loss {
    network_loss(&format!("write failed: {e}"))
}

fn read_error_loss(e: WsError) -> Loss {
    let local = |cause: Cause, code: u16| Loss {
        reason: cause.to_string(),
        cause,
        code,
        initiator: Initiator::Local,
        shut: Shut::Send(code),
    };
    match e {
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            network_loss("connection reset without a closing handshake")
        }
        WsError::Capacity(_) => local(Cause::MessageTooLarge, 1009),
        WsError::Utf8(m) => local(Cause::Protocol(format!("invalid UTF-8: {m}")), 1007),
        WsError::Protocol(p) => local(Cause::Protocol(p.to_string()), 1002),
        other => network_loss(&format!("read failed: {other}")),
    }
}
