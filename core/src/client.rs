//! The handle users hold: commands in, events out.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::Stream;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use crate::config::{ClientBuilder, Config};
use crate::driver::Driver;
use crate::error::Error;
use crate::event::{Event, Message, State};
use crate::heartbeat::PongMatch;
use crate::link::{Direct, HostRead, PublishedLink};
use crate::outbox::{Outbox, Sealed};
use crate::stats::{Counters, Stats, Transition};

/// What `send` did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStatus {
    /// The link is open: the message goes out now.
    Sent,
    /// The link is not open: the message waits in the outbox for the next open.
    Queued,
}

/// Requests from handles to the supervisor.
#[derive(Debug)]
pub(crate) enum Command {
    Connect,
    Close(CloseRequest),
    Pause,
    Resume,
    ReconnectNow,
    NetworkChanged,
}

/// A `close()` in flight: the supervisor answers with the unsent messages.
#[derive(Debug)]
pub(crate) struct CloseRequest {
    pub code: u16,
    pub reason: String,
    pub reply: Option<oneshot::Sender<Vec<Message>>>,
}

/// State shared by the handles and the supervisor.
pub(crate) struct Shared {
    state: AtomicU8,
    pub outbox: Mutex<Outbox>,
    pub outbox_ready: Notify,
    pub counters: Counters,
    /// The fork generation this client was built in (see `runtime::fork_generation`).
    generation: u32,
    /// The open link while `send()` may write to it directly and a pulling consumer may read
    /// it. Set and cleared by the supervisor while it holds the outbox lock, which a direct
    /// write holds throughout.
    pub link: Mutex<Option<PublishedLink>>,
}

const STATES: [State; 8] = [
    State::Idle,
    State::Connecting,
    State::Open,
    State::Waiting,
    State::Paused,
    State::Closing,
    State::Closed,
    State::Failed,
];

impl Shared {
    pub fn state(&self) -> State {
        if self.forked() {
            return State::Closed;
        }
        STATES[self.state.load(Ordering::Acquire) as usize]
    }

    /// Whether this is a forked child's copy of a client: its supervisor ran on threads that
    /// did not survive `fork()`, and its socket belongs to the parent. It acts as closed.
    pub fn forked(&self) -> bool {
        crate::runtime::fork_generation() != self.generation
    }

    pub fn set_state(&self, s: State) {
        let i = STATES.iter().position(|x| *x == s).unwrap_or(0);
        self.state.store(i as u8, Ordering::Release);
    }

    pub fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publish (or, with `None`, withdraw) the link `send()` may write to directly. The caller
    /// holds the outbox lock, so no direct write is in progress while the slot changes.
    pub fn set_link(&self, _outbox: &Outbox, link: Option<PublishedLink>) {
        *self.link.lock().unwrap_or_else(|e| e.into_inner()) = link;
    }

    /// Write `message` on the caller's thread if the link is open and idle. The caller holds
    /// the outbox lock (so the message cannot overtake one queued or being written).
    fn try_direct(&self, outbox: &mut Outbox, message: &Message) -> bool {
        if !outbox.is_idle() {
            return false;
        }
        let link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        let Some(link) = link.as_ref() else {
            return false;
        };
        match link.try_write(message) {
            Direct::Written => {
                self.counters.add_out(1, message.len());
                true
            }
            Direct::Unflushed => {
                // The supervisor finishes the flush (and counts the message once it has).
                outbox.push_unflushed(message.clone());
                self.outbox_ready.notify_one();
                true
            }
            Direct::NotTaken => false,
        }
    }
}

/// A WebSocket client that stays connected. Cheap to clone; dropping the last clone closes it.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    events: Arc<Mutex<Option<Events>>>,
    config: Arc<Config>,
    max_message_size: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.config.redacted_url())
            .field("state", &self.state())
            .finish()
    }
}

impl Client {
    /// Start building a client for `url` (`ws://` or `wss://`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    pub(crate) fn start(config: Config, runtime: Handle) -> Client {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(0),
            outbox: Mutex::new(Outbox::new(config.outbox)),
            outbox_ready: Notify::new(),
            counters: Counters::default(),
            generation: crate::runtime::fork_generation(),
            link: Mutex::new(None),
        });
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let credits = Arc::new(Semaphore::new(config.event_buffer));
        let config = Arc::new(config);
        let driver = Driver::new(
            config.clone(),
            shared.clone(),
            cmd_rx,
            ev_tx,
            credits.clone(),
        );
        let generation = shared.generation;
        // Spawned on the handle the client holds: never a bare `tokio::spawn`.
        runtime.spawn(driver.run_guarded());
        Client {
            max_message_size: config.max_message_size,
            shared: shared.clone(),
            commands: cmd_tx,
            events: Arc::new(Mutex::new(Some(Events {
                rx: ev_rx,
                credits,
                pending: VecDeque::new(),
                generation,
                app_pong: config
                    .heartbeat
                    .as_ref()
                    .and_then(|h| h.app_ping.as_ref())
                    .map(|a| a.pong.clone()),
                keep_turn: config.heartbeat.is_some(),
                shared,
                turn: None,
            }))),
            config,
        }
    }

    /// Take the event stream (once). Until it is taken, inbound messages are buffered up to
    /// `event_buffer`; then the client stops reading the socket (TCP backpressure).
    pub fn events(&self) -> Result<Events, Error> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(Error::EventsTaken)
    }

    /// Start connecting. Does nothing while connecting or open; an error once closed or failed.
    pub fn connect(&self) -> Result<(), Error> {
        self.command(Command::Connect)
    }

    /// Queue a text message. Never blocks.
    pub fn send_text(&self, text: impl Into<String>) -> Result<SendStatus, Error> {
        self.send(Message::text(text.into()))
    }

    /// Queue a binary message. Never blocks.
    pub fn send_binary(&self, data: impl Into<bytes::Bytes>) -> Result<SendStatus, Error> {
        self.send(Message::Binary(data.into()))
    }

    /// Queue a message: `Sent` if the link is open, `Queued` if it waits for the next open,
    /// or an error (`QueueFull`, `MessageTooLarge`, `Closed`, `Failed`); nothing is dropped silently.
    pub fn send(&self, message: Message) -> Result<SendStatus, Error> {
        if self.shared.forked() {
            // Never write into the parent's socket from a forked child.
            return Err(Error::Closed);
        }
        if message.len() > self.max_message_size {
            return Err(Error::MessageTooLarge {
                size: message.len(),
                max: self.max_message_size,
            });
        }
        {
            let mut outbox = self.shared.outbox();
            if self.shared.try_direct(&mut outbox, &message) {
                return Ok(SendStatus::Sent);
            }
            outbox.push(message)?;
        }
        self.shared.outbox_ready.notify_one();
        Ok(if self.shared.state() == State::Open {
            SendStatus::Sent
        } else {
            SendStatus::Queued
        })
    }

    /// Close with `code` (1000 or 3000–4999) and `reason`; returns every accepted message that
    /// was never written. Idempotent: a second call returns an empty list.
    pub async fn close(&self, code: u16, reason: &str) -> Result<Vec<Message>, Error> {
        if !(code == 1000 || (3000..=4999).contains(&code)) {
            return Err(Error::InvalidCloseCode(code));
        }
        if reason.len() > 123 {
            return Err(Error::CloseReasonTooLong(reason.len()));
        }
        if self.shared.forked() {
            // Nothing to close here: the link and the task belong to the parent process.
            return Ok(Vec::new());
        }
        let (tx, rx) = oneshot::channel();
        let request = CloseRequest {
            code,
            reason: reason.to_string(),
            reply: Some(tx),
        };
        if self.commands.send(Command::Close(request)).is_err() {
            // The task has ended. If it ended without handing the outbox back (it always
            // should), whatever is left comes back here rather than nowhere.
            return Ok(self.shared.outbox().seal(Sealed::Failed));
        }
        match rx.await {
            Ok(unsent) => Ok(unsent),
            Err(_) => Ok(self.shared.outbox().seal(Sealed::Failed)),
        }
    }

    /// Close the link and stay disconnected until `resume()`. Sends keep queueing.
    pub fn pause(&self) -> Result<(), Error> {
        self.command(Command::Pause)
    }

    /// Leave `Paused` and connect at once.
    pub fn resume(&self) -> Result<(), Error> {
        self.command(Command::Resume)
    }

    /// Skip the current backoff delay (the handshake budget still applies).
    pub fn reconnect_now(&self) -> Result<(), Error> {
        self.command(Command::ReconnectNow)
    }

    /// The network changed: verify an open link with a short ping, or retry now if waiting.
    pub fn network_changed(&self) -> Result<(), Error> {
        self.command(Command::NetworkChanged)
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.shared.state()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let (n, b) = {
            let o = self.shared.outbox();
            (o.len(), o.bytes())
        };
        self.shared.counters.snapshot(n, b)
    }

    /// The last 64 state changes, oldest first, with their causes.
    pub fn history(&self) -> Vec<Transition> {
        self.shared.counters.history()
    }

    /// The client's settings (secrets hidden in `Debug`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn command(&self, cmd: Command) -> Result<(), Error> {
        match self.shared.state() {
            State::Closed | State::Closing => return Err(Error::Closed),
            State::Failed => return Err(Error::Failed),
            _ => {}
        }
        self.commands.send(cmd).map_err(|_| Error::Closed)
    }
}

/// The client's events, in order. Also a `Stream`. Bindings drain it in batches.
///
/// The supervisor hands events over in chunks (one per socket read batch), so a consumer
/// pays one channel operation and one wake-up per chunk rather than per message.
pub struct Events {
    rx: mpsc::UnboundedReceiver<Vec<Event>>,
    credits: Arc<Semaphore>,
    /// Events of a chunk received but not yet handed out.
    pending: VecDeque<Event>,
    /// The fork generation of the client; in a forked child the stream has ended.
    generation: u32,
    /// What an app-level pong looks like (the supervisor must see those, not the app).
    app_pong: Option<PongMatch>,
    /// Whether a pulling consumer keeps the read turn while it is away with a batch. Only with
    /// a heartbeat: its ticks are when the supervisor takes the turn back from an absent
    /// consumer, so without one the turn goes back with every batch.
    keep_turn: bool,
    /// Where the open link is published (for `blocking_pull_batch`) and counters are kept.
    shared: Arc<Shared>,
    /// The link whose read turn this consumer holds (see `blocking_pull_batch`).
    turn: Option<PublishedLink>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// The next event; `None` after the terminal event (`Closed` by `close()`, or `Failed`).
    pub async fn next(&mut self) -> Option<Event> {
        if self.forked() {
            return None;
        }
        self.leave_turn();
        if self.pending.is_empty() {
            let chunk = self.rx.recv().await?;
            self.pending.extend(chunk);
        }
        self.pop_one()
    }

    /// Wait for at least one event and take up to `max`; empty means the stream has ended.
    pub async fn next_batch(&mut self, max: usize) -> Vec<Event> {
        if self.forked() {
            return Vec::new();
        }
        self.leave_turn();
        if self.pending.is_empty() {
            match self.rx.recv().await {
                Some(chunk) => return self.assemble(chunk, max),
                None => return Vec::new(),
            }
        }
        self.take_ready(max)
    }

    /// Blocking form of [`next_batch`](Self::next_batch) for a binding's own thread (never call
    /// it from async code). Holds no lock of the caller's while it waits.
    pub fn blocking_next_batch(&mut self, max: usize) -> Vec<Event> {
        if self.forked() {
            return Vec::new();
        }
        self.leave_turn();
        if self.pending.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => return self.assemble(chunk, max),
                None => return Vec::new(),
            }
        }
        self.take_ready(max)
    }

    /// Like [`blocking_next_batch`](Self::blocking_next_batch), but while nothing is waiting
    /// this thread reads the open link's data frames itself rather than waiting for a runtime
    /// thread to read and hand them over: one thread less per message, for a binding's
    /// dedicated event thread. With a heartbeat, the consumer keeps the read turn between calls
    /// (the supervisor takes it back at ticks if the consumer stays away), so call it again
    /// promptly, as a pump loop does. The supervisor still handles everything but data.
    pub fn blocking_pull_batch(&mut self, max: usize) -> Vec<Event> {
        if self.forked() {
            return Vec::new();
        }
        let max = max.max(1);
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if self.pending.is_empty() {
                if let Some(read) = self.read_link(max, &mut cx) {
                    return read;
                }
            }
            if !self.pending.is_empty() {
                return self.take_ready(max);
            }
            match self.rx.poll_recv(&mut cx) {
                Poll::Ready(Some(chunk)) => self.pending.extend(chunk),
                Poll::Ready(None) => {
                    self.leave_turn();
                    return Vec::new();
                }
                // Woken by the socket, the channel, or the supervisor moving the read turn.
                Poll::Pending => std::thread::park(),
            }
        }
    }

    /// One attempt to read the open link on this thread: the messages read, or `None` when
    /// there were none (the supervisor reads now, events it published came first, or the
    /// socket has nothing yet and `cx` will be woken).
    fn read_link(&mut self, max: usize, cx: &mut Context<'_>) -> Option<Vec<Event>> {
        let link = self
            .shared
            .link
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let mut out = Vec::with_capacity(max.min(256));
        let (rx, pending) = (&mut self.rx, &mut self.pending);
        let read = link.host_read(max, self.app_pong.as_ref(), cx, &mut out, || {
            while let Ok(chunk) = rx.try_recv() {
                pending.extend(chunk);
            }
            !pending.is_empty()
        });
        self.turn = match read {
            HostRead::NotMine => None,
            _ => Some(link),
        };
        match read {
            HostRead::Read(n) if n > 0 => {
                let bytes = out.iter().map(|e| match e {
                    Event::Message(m) => m.len() as u64,
                    _ => 0,
                });
                self.shared.counters.add_in(n as u64, bytes.sum());
                if !self.keep_turn {
                    self.leave_turn();
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// Give the read turn back, if this consumer holds it (it stopped pulling).
    fn leave_turn(&mut self) {
        if let Some(link) = self.turn.take() {
            link.give_back();
        }
    }

    /// Take up to `max` events that are ready now, without waiting.
    pub fn try_next_batch(&mut self, max: usize) -> Vec<Event> {
        if self.forked() {
            return Vec::new();
        }
        self.leave_turn();
        self.take_ready(max)
    }

    /// In a forked child nothing feeds the stream any more (see `Shared::forked`).
    fn forked(&self) -> bool {
        crate::runtime::fork_generation() != self.generation
    }

    /// Build a batch starting from a fresh chunk, topped up with chunks already waiting.
    fn assemble(&mut self, mut out: Vec<Event>, max: usize) -> Vec<Event> {
        let max = max.max(1);
        if out.len() > max {
            self.pending.extend(out.drain(max..));
        } else {
            while out.len() < max {
                let Ok(chunk) = self.rx.try_recv() else { break };
                let room = max - out.len();
                let mut chunk = chunk.into_iter();
                out.extend(chunk.by_ref().take(room));
                self.pending.extend(chunk);
            }
        }
        self.release(&out);
        out
    }

    fn take_ready(&mut self, max: usize) -> Vec<Event> {
        let max = max.max(1);
        let mut out: Vec<Event> = Vec::with_capacity(max.min(self.pending.len()).max(1));
        while out.len() < max {
            if let Some(ev) = self.pending.pop_front() {
                out.push(ev);
                continue;
            }
            let Ok(chunk) = self.rx.try_recv() else { break };
            self.pending.extend(chunk);
        }
        self.release(&out);
        out
    }

    fn pop_one(&mut self) -> Option<Event> {
        let ev = self.pending.pop_front()?;
        self.release(std::slice::from_ref(&ev));
        Some(ev)
    }

    // Each delivered message frees one slot of the event buffer, letting the supervisor read on.
    fn release(&self, events: &[Event]) {
        let n = events
            .iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count();
        if n > 0 {
            self.credits.add_permits(n);
        }
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        if self.forked() {
            return Poll::Ready(None);
        }
        self.leave_turn();
        if self.pending.is_empty() {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => self.pending.extend(chunk),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(self.pop_one())
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        // In a forked child the link's lock may be held by a thread that no longer exists.
        if !self.forked() {
            self.leave_turn();
        }
    }
}

/// Wakes a thread parked in [`Events::blocking_pull_batch`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
