//! The tokio task that runs one client's [`Machine`] against sockets and timers. It decides
//! nothing: it performs the machine's actions, and feeds it what happened (commands, attempt
//! results, frames, faults, the time). `send()` may write a frame to an idle open link itself,
//! and a binding's event thread may read it (see `link`).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::{sleep_until, timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tracing::{error, warn};

use crate::budget;
use crate::client::{Command as ClientCommand, Shared};
use crate::config::{AuthRequest, Config};
use crate::connect::{self, Link};
use crate::event::{Cause, Event, Message, State};
use crate::heartbeat::PongMatch;
use crate::link::{to_ws, SharedSocket};
use crate::machine::{Action, Command, End, Fault, Inbound, Machine, Ping, Settings, Shut};
use crate::outbox::Sealed;
use crate::policy;
use crate::time::Time;

/// Most messages written per batch (one flush each).
const WRITE_BATCH: usize = 256;
/// Most bytes gathered into one write batch.
const WRITE_BATCH_BYTES: usize = 256 * 1024;
/// Most frames read in one go before the loop looks at commands and timers again. Also the
/// largest chunk handed to the consumer: bigger chunks mean fewer wake-ups of a binding's event
/// thread (512 rather than 128 gave the Kotlin layer about a fifth more throughput on 2 cores).
const READ_BATCH: usize = 512;

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

/// The machine's settings from the client's configuration.
pub(crate) fn settings(config: &Config) -> Settings {
    Settings {
        log_url: config.redacted_url(),
        host_key: config.host_key.clone(),
        backoff: config.backoff.clone(),
        max_retries: config.max_retries,
        max_elapsed: config.max_elapsed,
        heartbeat: config.heartbeat.clone(),
        terminal: config.terminal.clone(),
        handshake_budget: config.handshake_budget,
        connect_timeout: config.connect_timeout,
        close_timeout: config.close_timeout,
    }
}

type Attempt = Pin<Box<dyn Future<Output = Result<Link, Cause>> + Send>>;

/// What woke the loop.
enum Wake {
    Command(Option<ClientCommand>),
    Timer,
    Attempt(Result<Link, Cause>),
    Credit,
    Frame(Option<Result<WsMessage, WsError>>),
    Write,
    Sent,
}

pub(crate) struct Driver {
    machine: Machine,
    clock: Clock,
    config: Arc<Config>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<ClientCommand>,
    /// Every handle is gone: the command channel will never yield again.
    orphaned: bool,
    events: mpsc::UnboundedSender<Vec<Event>>,
    /// What an app-level pong looks like.
    app_pong: Option<PongMatch>,
    /// The attempt in flight.
    attempt: Option<Attempt>,
    /// The open link's socket.
    link: Option<SharedSocket>,
    /// `close()` calls waiting for the unsent messages.
    replies: Vec<oneshot::Sender<Vec<Message>>>,
    /// Inbound messages of the current read batch, sent to the consumer as one chunk.
    inbound: Vec<Event>,
    /// One permit per inbound message the consumer may have pending; none left → stop reading.
    credits: Arc<Semaphore>,
    /// Event slots claimed from `credits` and not yet used by a delivered message.
    credits_held: usize,
    /// Inbound counts not yet published to the shared counters (published once per read batch).
    unpublished_in: (u64, u64),
    write_batch: Vec<Message>,
}

impl Driver {
    pub fn new(
        config: Arc<Config>,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<ClientCommand>,
        events: mpsc::UnboundedSender<Vec<Event>>,
        credits: Arc<Semaphore>,
    ) -> Self {
        let machine = Machine::new(settings(&config), budget::shared(), rand::random());
        Driver {
            machine,
            clock: Clock::shared(),
            app_pong: config
                .heartbeat
                .as_ref()
                .and_then(|h| h.app_ping.as_ref())
                .map(|a| a.pong.clone()),
            config,
            shared,
            commands,
            orphaned: false,
            events,
            attempt: None,
            link: None,
            replies: Vec::new(),
            inbound: Vec::new(),
            credits,
            credits_held: 0,
            unpublished_in: (0, 0),
            write_batch: Vec::new(),
        }
    }

    /// Run the client's task. Whatever ends it early — a panic, or its runtime dropping it —
    /// the client still reaches `Failed` with every unsent message, so no caller is left
    /// waiting on a client that will never move again.
    pub async fn run_guarded(self) {
        let mut guard = Guard {
            shared: self.shared.clone(),
            events: self.events.clone(),
            log_url: self.config.redacted_url(),
            armed: true,
        };
        let ended = AssertUnwindSafe(self.run()).catch_unwind().await;
        guard.armed = false;
        if let Err(panic) = ended {
            guard.fail(format!("panic: {}", connect::panic_text(&*panic)));
        }
    }

    async fn run(mut self) {
        loop {
            while let Some(action) = self.machine.poll_action() {
                if self.perform(action).await {
                    return;
                }
            }
            let wake = self.next_wake().await;
            self.feed(wake).await;
        }
    }

    /// Wait for whatever happens next.
    async fn next_wake(&mut self) -> Wake {
        let deadline = self
            .machine
            .poll_timeout()
            .and_then(|t| self.clock.instant(t));
        let serving = self.machine.serving();
        let have_credit = serving && self.has_credit();
        if serving && !have_credit {
            self.machine.reading_paused(self.clock.now(), true);
        }
        let outbox_pending = serving && self.outbox_pending();
        let (attempt, link) = (&mut self.attempt, &mut self.link);
        let attempt = async {
            match attempt.as_mut() {
                Some(a) => a.await,
                None => std::future::pending().await,
            }
        };
        let frame = async {
            match link.as_mut() {
                Some(link) => link.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = self.commands.recv(), if !self.orphaned => Wake::Command(command),
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => Wake::Timer,
            result = attempt => Wake::Attempt(result),
            _ = self.credits.acquire(), if serving && !have_credit => Wake::Credit,
            frame = frame, if serving && have_credit => Wake::Frame(frame),
            _ = std::future::ready(()), if outbox_pending => Wake::Write,
            _ = self.shared.outbox_ready.notified(), if serving && !outbox_pending => Wake::Sent,
        }
    }

    /// Tell the machine what happened.
    async fn feed(&mut self, wake: Wake) {
        let now = self.clock.now();
        match wake {
            Wake::Command(None) => {
                self.orphaned = true;
                self.machine.command(now, Command::Dropped);
            }
            Wake::Command(Some(command)) => {
                let command = match command {
                    ClientCommand::Connect => Command::Connect,
                    ClientCommand::Close(request) => {
                        if let Some(reply) = request.reply {
                            self.replies.push(reply);
                        }
                        Command::Close {
                            code: request.code,
                            reason: request.reason,
                        }
                    }
                    ClientCommand::Pause => Command::Pause,
                    ClientCommand::Resume => Command::Resume,
                    ClientCommand::ReconnectNow => Command::ReconnectNow,
                    ClientCommand::NetworkChanged => Command::NetworkChanged,
                };
                self.machine.command(now, command);
            }
            Wake::Timer => {
                if let Some(link) = &self.link {
                    // Bytes count as life, complete frames or not (a large message trickling
                    // in keeps a slow link alive); this also takes the read turn back from a
                    // pulling consumer that is away.
                    link.check_host();
                    if let Some(at) = link.last_read() {
                        self.machine.activity(self.clock.time(at));
                    }
                }
                self.machine.handle_timeout(now);
            }
            Wake::Attempt(result) => {
                self.attempt = None;
                let result = result.map(|link| {
                    self.link = Some(SharedSocket::new(link.socket));
                    link.protocol
                });
                self.machine.attempt_done(now, result);
            }
            Wake::Credit => self.machine.reading_paused(now, false),
            Wake::Frame(frame) => self.read_batch(now, frame),
            // A send woke us: write at once rather than on the next turn (latency).
            Wake::Write | Wake::Sent => {
                if self.outbox_pending() {
                    if let Err(fault) = self.write_outbox().await {
                        self.machine.lost(self.clock.now(), fault);
                    }
                }
            }
        }
    }

    // ----- actions -----------------------------------------------------------------------

    /// Do what the machine asked. Returns true once the client has ended.
    async fn perform(&mut self, action: Action) -> bool {
        match action {
            Action::Transition { from, to, cause } => {
                self.shared.set_state(to);
                self.shared.counters.record(from, to, &cause);
                self.emit(Event::StateChanged { state: to });
            }
            Action::Emit(event) => self.emit(event),
            Action::CountAttempt => {
                self.shared
                    .counters
                    .attempts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Action::CountOpen => {
                self.shared
                    .counters
                    .opens
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Action::RecordRtt(rtt) => self.shared.counters.set_rtt(rtt),
            Action::RecordClose { code, reason } => self.shared.counters.set_close(code, &reason),
            Action::Connect {
                attempt,
                after_unauthorized,
            } => {
                let config = self.config.clone();
                let request = AuthRequest {
                    attempt,
                    after_unauthorized,
                };
                self.attempt = Some(Box::pin(
                    async move { connect::attempt(&config, request).await },
                ));
            }
            // Dropping the attempt closes any half-made socket.
            Action::Abandon => self.attempt = None,
            Action::Greet { within } => self.greet(within).await,
            Action::Serve => {
                if let Some(link) = &self.link {
                    // From here `send()` may write directly: the greeting is out, so nothing
                    // overtakes it.
                    let published = link.publish(&self.shared);
                    let outbox = self.shared.outbox();
                    self.shared.set_link(&outbox, Some(published));
                }
            }
            Action::Ping(ping) => {
                let frame = match ping {
                    Ping::Protocol(payload) => WsMessage::Ping(payload.into()),
                    Ping::App(message) => to_ws(&message),
                };
                if let Err(fault) = self.write_frame(frame).await {
                    self.machine.lost(self.clock.now(), fault);
                }
            }
            Action::Close {
                code,
                reason,
                flush,
                within,
            } => {
                self.withdraw(true).await;
                if let Some(mut socket) = self.link.take() {
                    self.close_link(&mut socket, code, &reason, flush, within)
                        .await;
                }
                self.machine.shut_done(self.clock.now());
            }
            Action::Shut { shut, within } => {
                self.withdraw(false).await;
                if let Some(mut socket) = self.link.take() {
                    shut_socket(&mut socket, shut, within).await;
                }
                self.machine.shut_done(self.clock.now());
            }
            Action::Finish(End::Closed) => {
                let unsent = self.shared.outbox().seal(Sealed::Closed);
                let mut replies = std::mem::take(&mut self.replies).into_iter();
                match replies.next() {
                    Some(reply) => {
                        let _ = reply.send(unsent);
                    }
                    None if !unsent.is_empty() => {
                        warn!(target: "wstether", url = %self.config.redacted_url(), unsent = unsent.len(), "client dropped without close(): unsent messages discarded");
                    }
                    None => {}
                }
                // Later close() calls get nothing more: the messages went to the first.
                for reply in replies {
                    let _ = reply.send(Vec::new());
                }
                return true;
            }
            Action::Finish(End::Failed(reason)) => {
                let unsent = self.shared.outbox().seal(Sealed::Failed);
                self.emit(Event::Failed { reason, unsent });
                for reply in std::mem::take(&mut self.replies) {
                    let _ = reply.send(Vec::new());
                }
                return true;
            }
        }
        false
    }

    /// Compute the greeting and write it before anything else; report to the machine.
    async fn greet(&mut self, within: Duration) {
        // The provider is the app's code: a panic in it is reported like an error.
        let provider = AssertUnwindSafe(self.config.greeting.messages()).catch_unwind();
        let (messages, failed) = match timeout(within, provider).await {
            Ok(Ok(Ok(messages))) => (messages, None),
            Ok(Ok(Err(why))) => (Vec::new(), Some(format!("greeting provider failed: {why}"))),
            Ok(Err(panic)) => (
                Vec::new(),
                Some(format!(
                    "greeting provider panicked: {}",
                    connect::panic_text(&*panic)
                )),
            ),
            Err(_) => (
                Vec::new(),
                Some("greeting provider gave no answer within connect_timeout".to_string()),
            ),
        };
        if !messages.is_empty() {
            if let Err(fault) = self.write_messages(&messages).await {
                self.machine.lost(self.clock.now(), fault);
                return;
            }
        }
        self.machine.greeted(self.clock.now(), failed);
    }

    // ----- reading -----------------------------------------------------------------------

    /// Handle a read batch starting with `first`: data to the consumer, the rest to the machine.
    fn read_batch(&mut self, now: Time, first: Option<Result<WsMessage, WsError>>) {
        let mut next = Some(first);
        let mut read = 0;
        while let Some(frame) = next.take() {
            self.on_frame(now, frame);
            if !self.machine.serving() {
                // The link ended (or is ending): what follows is not read here.
                break;
            }
            read += 1;
            if read < READ_BATCH && self.has_credit() {
                next = self.link.as_mut().and_then(SharedSocket::next_ready);
            }
        }
        self.publish_in();
        if let Some(link) = &self.link {
            link.published();
        }
        self.machine.activity(now);
    }

    /// One frame: data to the consumer, pongs, closes and faults to the machine.
    fn on_frame(&mut self, now: Time, frame: Option<Result<WsMessage, WsError>>) {
        let message = match frame {
            Some(Ok(message)) => message,
            None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                let fault = Fault::Network("connection closed without a close frame".into());
                return self.machine.lost(now, fault);
            }
            Some(Err(e)) => return self.machine.lost(now, read_fault(e)),
        };
        match message {
            WsMessage::Text(text) => {
                if self.app_pong.as_ref().is_some_and(|p| p.matches(&text)) {
                    self.machine.frame(now, Inbound::AppPong);
                } else {
                    self.deliver(Message::Text(text));
                }
            }
            WsMessage::Binary(data) => self.deliver(Message::Binary(data)),
            WsMessage::Pong(payload) => self.machine.frame(now, Inbound::Pong(payload.to_vec())),
            WsMessage::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (u16::from(f.code), f.reason.to_string()),
                    None => (1005, String::new()),
                };
                self.machine.frame(now, Inbound::Close { code, reason });
            }
            // Pings are answered by tungstenite on the next read or write.
            WsMessage::Ping(_) | WsMessage::Frame(_) => {}
        }
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

    // ----- writing -----------------------------------------------------------------------

    /// Whether the outbox holds work for the driver: queued messages, or a direct write's
    /// unfinished flush.
    fn outbox_pending(&self) -> bool {
        let outbox = self.shared.outbox();
        !outbox.is_empty() || outbox.has_unflushed()
    }

    /// The machine's write deadline as an instant.
    fn write_deadline(&self) -> Instant {
        let at = self.machine.write_deadline(self.clock.now());
        self.clock
            .instant(at)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
    }

    /// Finish a direct write's flush, then write one batch from the outbox. What could not be
    /// written goes back to the outbox's front.
    async fn write_outbox(&mut self) -> Result<(), Fault> {
        let Some(socket) = self.link.as_mut() else {
            return Ok(());
        };
        let unflushed = self.shared.outbox().take_unflushed();
        if !unflushed.is_empty() {
            let deadline = write_deadline_of(&self.machine, &self.clock);
            let result = bounded(deadline, socket.flush()).await;
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
        let result = if batch.is_empty() {
            Ok(())
        } else {
            self.write_messages(&batch).await
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

    /// Write messages and flush, all by the write deadline; count them once written.
    async fn write_messages(&mut self, messages: &[Message]) -> Result<(), Fault> {
        let deadline = self.write_deadline();
        let Some(socket) = self.link.as_mut() else {
            return Err(Fault::Network("no link".into()));
        };
        let write = async {
            for m in messages {
                socket.feed(to_ws(m)).await?;
            }
            socket.flush().await
        };
        bounded(deadline, write).await?;
        count_out(&self.shared, messages);
        Ok(())
    }

    /// One control frame (a ping), by the write deadline.
    async fn write_frame(&mut self, frame: WsMessage) -> Result<(), Fault> {
        let deadline = self.write_deadline();
        let Some(socket) = self.link.as_mut() else {
            return Ok(());
        };
        bounded(deadline, socket.send(frame)).await
    }

    /// The link is ending: take it back from `send()` and a pulling consumer, and settle what a
    /// direct write left half-flushed (counted if a clean end flushes it, else back to the
    /// outbox's front, for the next link or as unsent). Returns unused event slots.
    async fn withdraw(&mut self, clean: bool) {
        if let Some(link) = &self.link {
            link.withdraw();
        }
        {
            let outbox = self.shared.outbox();
            self.shared.set_link(&outbox, None);
        }
        let unflushed = self.shared.outbox().take_unflushed();
        if !unflushed.is_empty() {
            let flushed = match (clean, self.link.as_mut()) {
                (true, Some(socket)) => matches!(
                    timeout(self.config.close_timeout, socket.flush()).await,
                    Ok(Ok(()))
                ),
                _ => false,
            };
            let mut outbox = self.shared.outbox();
            if flushed {
                count_out(&self.shared, &unflushed);
            } else {
                outbox.requeue_front(unflushed);
            }
            outbox.end_write();
        }
        // Slots claimed but unused go back, so the next link starts with the full buffer.
        self.credits
            .add_permits(std::mem::take(&mut self.credits_held));
    }

    /// A clean local close: optionally flush the outbox, then the closing handshake, all bounded
    /// by `within`. Whatever was not written stays in the outbox (→ unsent).
    async fn close_link(
        &mut self,
        socket: &mut SharedSocket,
        code: u16,
        reason: &str,
        flush: bool,
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        if flush {
            while !self.shared.outbox().is_empty() && Instant::now() < deadline {
                let mut batch = std::mem::take(&mut self.write_batch);
                batch.clear();
                self.shared
                    .outbox()
                    .pop_batch(WRITE_BATCH, WRITE_BATCH_BYTES, &mut batch);
                let write = async {
                    for m in &batch {
                        socket.feed(to_ws(m)).await?;
                    }
                    socket.flush().await
                };
                let ok = matches!(timeout_at(deadline, write).await, Ok(Ok(())));
                {
                    let mut outbox = self.shared.outbox();
                    if ok {
                        count_out(&self.shared, &batch);
                    } else {
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

    // ----- reporting ---------------------------------------------------------------------

    fn emit(&mut self, event: Event) {
        // Messages read before this event go first: events stay in order.
        self.publish_in();
        // A consumer that dropped its stream simply stops hearing; the client carries on.
        let _ = self.events.send(vec![event]);
    }
}

/// The write deadline for `machine` now, as an instant (a free function: callers hold a
/// mutable borrow of the socket).
fn write_deadline_of(machine: &Machine, clock: &Clock) -> Instant {
    clock
        .instant(machine.write_deadline(clock.now()))
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
}

/// Run a write by `deadline`: a failure is a network fault, no progress by then a stall.
async fn bounded(
    deadline: Instant,
    write: impl Future<Output = Result<(), WsError>>,
) -> Result<(), Fault> {
    match timeout_at(deadline, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Fault::Network(format!("write failed: {e}"))),
        Err(_) => Err(Fault::WriteStalled),
    }
}

/// End a lost link's socket as the machine said.
async fn shut_socket(socket: &mut SharedSocket, shut: Shut, within: Duration) {
    let deadline = Instant::now() + within;
    match shut {
        Shut::Abort => {}
        Shut::Reply => {
            let _ = timeout_at(deadline, socket.flush()).await;
        }
        Shut::Send(code) => {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: policy::close_code_name(code).into(),
            };
            let _ = timeout_at(deadline, socket.close(Some(frame))).await;
        }
    }
}

/// Count messages known to be written.
fn count_out(shared: &Shared, messages: &[Message]) {
    let bytes = messages.iter().map(Message::len).sum();
    shared.counters.add_out(messages.len(), bytes);
}

/// The fault behind a failed read.
fn read_fault(e: WsError) -> Fault {
    match e {
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Fault::Network("connection reset without a closing handshake".into())
        }
        WsError::Capacity(_) => Fault::TooLarge,
        WsError::Utf8(m) => Fault::Protocol {
            detail: format!("invalid UTF-8: {m}"),
            code: 1007,
        },
        WsError::Protocol(p) => Fault::Protocol {
            detail: p.to_string(),
            code: 1002,
        },
        other => Fault::Network(format!("read failed: {other}")),
    }
}

/// Ends a client whose task stopped early (see [`Driver::run_guarded`]). Holds its own handles
/// because the driver's are gone by the time it acts.
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
