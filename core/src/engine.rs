//! Everything a client's threads share, behind one lock: the [`Machine`], the open link (its
//! transport and the `wire` codec), the outbox, and the events ready for the app.
//!
//! quinn's shape: whoever holds the lock drives it. The driver task does at timers and I/O
//! readiness; `send()` writes at once on the caller's thread; an event consumer that has caught
//! up reads the socket itself, so a message costs one busy thread rather than a runtime thread
//! plus the consumer's. Each entry calls [`Engine::drive`], which performs what the machine
//! queued, reads, handles due timers and writes, until nothing moves. The few things that must
//! wait outside the lock (an attempt, a greeting provider) become [`Task`]s for the driver.
//!
//! Who reads: the driver, until a consumer waits for events; then the consumer holds the *read
//! turn* (socket readiness wakes it, not the driver) while it keeps coming back. At each of the
//! machine's timers the driver takes the turn back from a consumer that is away in the app's
//! handlers, so pongs and closes are still read and a blocked handler is never a dead link.
//! Without a heartbeat there are no such timers, so the turn goes back with every batch.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use tracing::warn;

use crate::clock::Clock;
use crate::config::Config;
use crate::connect::Transport;
use crate::deflate::{Deflater, Inflater};
use crate::error::Error;
use crate::event::{Event, Message, State};
use crate::heartbeat::PongMatch;
use crate::machine::{Action, Command, End, Fault, Inbound, Machine, Opened, Ping, Shut};
use crate::outbox::{Outbox, Sealed};
use crate::stats::Counters;
use crate::time::Time;
use crate::wire::{Decoded, Decoder, Encoder, Violation};

/// Most frames decoded under one hold of the lock before writes and timers get a look.
const READ_SPAN: usize = 512;
/// Most message bytes decoded in one span, whatever the frame count: a batch of large messages
/// is handed out and freed before the next is read. A span that read everything the socket had
/// (hundreds of 64 KiB messages, megabytes) allocated them all, and the app then freed them all
/// at once: glibc hands such a freed top of its heap back to the kernel (beyond its 128 KiB pad),
/// so the next span page-faulted on every message (about 14 faults, 4× a raw client's CPU per
/// 64 KiB message; see bench/README.md). Kept near that pad, the same memory is reused, as a
/// raw client reading one message at a time reuses it. Small messages never reach this bound.
const READ_BYTES: usize = 128 * 1024;
/// Most message bytes handed out in one batch (after its first message), whatever `max`: a
/// consumer behind the socket finds many large messages buffered, and a binding converts a
/// whole batch before its callbacks run, so every message of it is alive at once. In Node a
/// batch of megabytes of strings made V8's scavenger copy them all into fresh pages (a third
/// of the JS thread's time in page faults at 64 KiB); kept to the read span's bound, the
/// strings die young as they do with a client that hands out one message at a time.
const BATCH_BYTES: usize = READ_BYTES;
/// A link with no data messages for this long lets its compressor state go (about 300 KiB
/// at 12-bit windows, down to the two 4 KiB windows), so an idle link stays small.
const COMPRESSION_QUIET: Duration = Duration::from_secs(10);
/// Encoded bytes kept ahead of the socket; the rest waits in the outbox (where it counts as
/// queued, and where the outbox's limits push back on senders).
const WRITE_AHEAD: usize = 256 * 1024;

/// Work the driver does outside the lock.
#[derive(Debug)]
pub(crate) enum Task {
    /// Start an attempt; report with [`Engine::attempt_done`].
    Connect {
        attempt: u32,
        after_unauthorized: bool,
        url: url::Url,
    },
    /// Ask the URL provider for the attempt's URL; report with [`Engine::located`].
    Locate {
        attempt: u32,
        after_unauthorized: bool,
    },
    /// Drop the attempt in flight.
    Abandon,
    /// Run the greeting provider (within this long); report with [`Engine::greeted`].
    Greet { within: Duration },
}

/// State readable without the lock.
pub(crate) struct Shared {
    state: AtomicU8,
    pub counters: Counters,
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
    pub fn new() -> Shared {
        Shared {
            state: AtomicU8::new(0),
            counters: Counters::default(),
        }
    }

    pub fn state(&self) -> State {
        STATES[self.state.load(Ordering::Acquire) as usize]
    }

    pub fn set_state(&self, s: State) {
        let i = STATES.iter().position(|x| *x == s).unwrap_or(0);
        self.state.store(i as u8, Ordering::Release);
    }
}

/// Whom a direction's readiness wakes. The transport keeps the slot's own waker for good (one
/// registration, never re-cloned per read); the slot's content changes hands.
#[derive(Default)]
pub(crate) struct Slot(Mutex<Option<Waker>>);

impl Slot {
    fn set(&self, waker: &Waker) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

impl Wake for Slot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = slot.as_ref() {
            w.wake_by_ref();
        }
    }
}

/// The open link: transport, codec, and the bytes on their way out.
struct Link {
    transport: Transport,
    decoder: Decoder,
    encoder: Encoder,
    /// Encoded frames not yet taken by the socket.
    out: BytesMut,
    /// Messages whose frames are in `out`, with the running byte count at their end: a message
    /// counts as written once the socket took its last byte.
    in_flight: VecDeque<(u64, Message)>,
    /// Bytes ever put into `out`, and ever taken by the socket.
    encoded: u64,
    written: u64,
    /// The socket refused bytes at this time and has taken none since; past `stall_at` the
    /// write has failed.
    blocked: Option<Time>,
    stall_at: Time,
    /// When bytes last arrived.
    last_read: Option<Time>,
    /// We sent our close frame: the server's close (or EOF) completes the handshake.
    closing: bool,
    /// The machine asked to shut: drop once `out` is flushed.
    shutting: bool,
    /// The app's messages may be encoded (the greeting is out).
    serving: bool,
    /// Bytes were written since the last completed flush.
    unflushed: bool,
    /// Compression state may be held (a compressed link carried data since its last release),
    /// and when a data message last went either way.
    compression_live: bool,
    last_traffic: Time,
    compressed: bool,
    read_waker: Waker,
    write_waker: Waker,
    /// Its number among this client's links, and the socket the consumer's loop watches.
    #[cfg(unix)]
    watched: Option<WatchedSocket>,
}

/// A link's socket as the consumer's own loop watches it for readability (`watched.rs`).
#[cfg(unix)]
#[derive(Debug, Clone, Copy)]
struct WatchedSocket {
    /// Which of the client's links this is (a later link has a higher number).
    link: u64,
    fd: std::os::fd::RawFd,
}

/// Who reads the socket now.
#[derive(Debug, Default)]
struct Reader {
    /// The consumer holds the read turn.
    consumer_turn: bool,
    /// The consumer is inside a call, waiting for events (not away in the app's handlers).
    consumer_waiting: bool,
}

/// Where `Engine::take` puts the events it hands over: a batch (`Vec`), or the queue that
/// `Events::next()` hands out one at a time (`VecDeque`), filled in place so no event is moved
/// twice.
pub(crate) trait EventSink {
    /// Events already held.
    fn held(&self) -> usize;
    /// Append one.
    fn put(&mut self, event: Event);
}

impl EventSink for Vec<Event> {
    fn held(&self) -> usize {
        self.len()
    }
    fn put(&mut self, event: Event) {
        self.push(event);
    }
}

impl EventSink for VecDeque<Event> {
    fn held(&self) -> usize {
        self.len()
    }
    fn put(&mut self, event: Event) {
        self.push_back(event);
    }
}

/// The lock's content.
pub(crate) struct Engine {
    machine: Machine,
    clock: Clock,
    config: Arc<Config>,
    shared: Arc<Shared>,
    link: Option<Link>,
    outbox: Outbox,
    /// Events ready for the app, and how many of them are messages (bounded by `event_buffer`).
    events: VecDeque<Event>,
    messages_ready: usize,
    /// `events()` was taken and its stream is alive; until then messages wait (bounded), and
    /// after it is dropped they are discarded.
    consumer: Consumer,
    consumer_waker: Option<Waker>,
    reader: Reader,
    /// The wakers the transport holds: readiness to read goes to the slot's current reader;
    /// readiness to write always to the driver, which finishes what senders started.
    read_slot: Arc<Slot>,
    write_slot: Arc<Slot>,
    driver_waker: Option<Waker>,
    tasks: VecDeque<Task>,
    /// `close()` calls waiting for the unsent messages.
    replies: Vec<oneshot::Sender<Vec<Message>>>,
    /// The timer the driver armed, to know when it must re-arm.
    armed: Option<Time>,
    app_pong: Option<PongMatch>,
    /// Inbound counts not yet added to `shared.counters` (added once per read span).
    unpublished_in: (u64, u64),
    /// The client has ended (`Closed` or `Failed` handed over).
    ended: bool,
    /// The consumer watches each link's socket on its own loop (`Events::read_on_own_loop`).
    #[cfg(unix)]
    own_loop: bool,
    /// Links installed so far.
    #[cfg(unix)]
    links: u64,
}

/// The event consumer's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Consumer {
    NotYet,
    Attached,
    Gone,
}

impl Engine {
    pub fn new(machine: Machine, config: Arc<Config>, shared: Arc<Shared>) -> Engine {
        Engine {
            machine,
            clock: Clock::shared(),
            outbox: Outbox::new(config.outbox),
            app_pong: config
                .heartbeat
                .as_ref()
                .and_then(|h| h.app_ping.as_ref())
                .map(|a| a.pong.clone()),
            config,
            shared,
            link: None,
            events: VecDeque::new(),
            messages_ready: 0,
            consumer: Consumer::NotYet,
            consumer_waker: None,
            reader: Reader::default(),
            read_slot: Arc::default(),
            write_slot: Arc::default(),
            driver_waker: None,
            tasks: VecDeque::new(),
            replies: Vec::new(),
            armed: None,
            unpublished_in: (0, 0),
            ended: false,
            #[cfg(unix)]
            own_loop: false,
            #[cfg(unix)]
            links: 0,
        }
    }

    /// From the next link on, the consumer's own loop watches the socket for readability.
    #[cfg(unix)]
    pub fn read_on_own_loop(&mut self) {
        self.own_loop = true;
    }

    /// The number of the current link, when the consumer's loop watches its socket.
    #[cfg(unix)]
    pub fn watched_link(&self) -> Option<u64> {
        self.link.as_ref().and_then(|l| l.watched).map(|w| w.link)
    }

    /// A duplicate of link `link`'s socket, if it is still the current one. Made under the
    /// lock, so the descriptor cannot have been closed (and its number reused) meanwhile.
    #[cfg(unix)]
    pub fn duplicate_watched_socket(&self, link: u64) -> Option<std::os::fd::OwnedFd> {
        let watched = self.link.as_ref()?.watched.filter(|w| w.link == link)?;
        // SAFETY: the link owns this descriptor and is alive while the lock is held.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(watched.fd) };
        fd.try_clone_to_owned().ok()
    }

    // ----- entries -----------------------------------------------------------------------

    /// An app command (from any thread).
    pub fn command(&mut self, command: Command, reply: Option<oneshot::Sender<Vec<Message>>>) {
        let now = self.clock.now();
        if self.ended {
            // Nothing moves any more; a late close() gets whatever is left (nothing, normally).
            if let Some(reply) = reply {
                let _ = reply.send(self.outbox.seal(Sealed::Closed));
            }
            return;
        }
        if let Some(reply) = reply {
            self.replies.push(reply);
        }
        self.machine.command(now, command);
        self.drive(now, READ_SPAN);
        // A command can change every timer and start work outside the lock.
        self.wake_driver();
    }

    /// Accept `message` (from any thread); writes it at once if the link serves and the
    /// socket takes it.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.outbox.push(message)?;
        if self.link.as_ref().is_some_and(|l| l.serving) {
            let now = self.clock.now();
            self.write(now);
            self.settle(now);
        }
        Ok(())
    }

    /// The driver's turn: everything that is due. Returns the tasks it must start.
    pub fn drive_as_driver(&mut self, cx: &Context<'_>) -> (Vec<Task>, Option<Time>) {
        let waker = cx.waker();
        if !self
            .driver_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
        {
            self.driver_waker = Some(waker.clone());
        }
        self.write_slot.set(waker);
        if !self.reader.consumer_turn {
            self.read_slot.set(waker);
        }
        let now = self.clock.now();
        if self.drive(now, READ_SPAN) {
            // More to read: come back after others had the lock.
            waker.wake_by_ref();
        }
        let next = self.next_timeout();
        self.armed = next;
        (self.tasks.drain(..).collect(), next)
    }

    /// Hand a new link's socket to the consumer's loop, if it asked.
    #[cfg(unix)]
    fn watch(&mut self, transport: &mut Transport) -> Option<WatchedSocket> {
        if !self.own_loop || tokio::runtime::Handle::try_current().is_err() {
            return None;
        }
        self.links += 1;
        match transport.watch() {
            Ok(fd) => fd.map(|fd| WatchedSocket {
                link: self.links,
                fd,
            }),
            Err(e) => {
                // The link's next read fails and it is replaced.
                tracing::warn!(target: "wstether", error = %e, "cannot hand the socket to the consumer's loop");
                None
            }
        }
    }

    /// The driver's timer fired: take the read turn back from a consumer that is away.
    pub fn timer_fired(&mut self) {
        if self.reader.consumer_turn && !self.reader.consumer_waiting {
            self.reader.consumer_turn = false;
            if let Some(w) = &self.driver_waker {
                self.read_slot.set(w);
            }
        }
    }

    /// An attempt ended: install the link, or report the failure.
    pub fn attempt_done(&mut self, result: Result<crate::connect::Link, crate::event::Cause>) {
        let now = self.clock.now();
        let result = result.map(|mut link| {
            self.shared.counters.set_address(link.address);
            #[cfg(unix)]
            let watched = self.watch(&mut link.transport);
            let opened = Opened {
                protocol: link.protocol,
                compression: link.compression.as_ref().map(|p| p.to_string()),
                address: link.address,
            };
            let (inflater, deflater) = match &link.compression {
                Some(params) => (Some(Inflater::new(params)), Some(Deflater::new(params))),
                None => (None, None),
            };
            self.link = Some(Link {
                transport: link.transport,
                decoder: Decoder::new(self.config.max_message_size, &link.leftover, inflater),
                encoder: Encoder::new(rand::random(), deflater, self.config.compression.min_size),
                out: BytesMut::new(),
                in_flight: VecDeque::new(),
                encoded: 0,
                written: 0,
                blocked: None,
                stall_at: Time::NEVER,
                last_read: None,
                closing: false,
                shutting: false,
                serving: false,
                unflushed: false,
                compression_live: false,
                last_traffic: now,
                compressed: link.compression.is_some(),
                read_waker: Waker::from(self.read_slot.clone()),
                write_waker: Waker::from(self.write_slot.clone()),
                #[cfg(unix)]
                watched,
            });
            opened
        });
        self.machine.attempt_done(now, result);
        self.drive(now, READ_SPAN);
    }

    /// The URL provider answered: the attempt goes on to that URL, or fails.
    pub fn located(&mut self, result: Result<url::Url, crate::event::Cause>) {
        let now = self.clock.now();
        self.machine.located(now, result);
        self.drive(now, READ_SPAN);
    }

    /// The greeting provider answered: its messages go out first, then the outbox.
    pub fn greeted(&mut self, greeting: Result<Vec<Message>, String>) {
        let now = self.clock.now();
        let failed = match greeting {
            Ok(messages) => {
                if let Some(link) = self.link.as_mut() {
                    for message in messages {
                        encode_message(link, message);
                    }
                }
                None
            }
            Err(why) => Some(why),
        };
        self.machine.greeted(now, failed);
        self.drive(now, READ_SPAN);
    }

    /// Take up to `max` events for the consumer, reading the socket itself if none are ready.
    /// `Pending` registers `cx` to be woken when events arrive (or the socket has bytes).
    pub fn poll_events(
        &mut self,
        cx: &Context<'_>,
        max: usize,
        out: &mut impl EventSink,
    ) -> Poll<()> {
        // Events this call produces need no wake-up: the caller is here to take them.
        self.consumer_waker = None;
        let mut more = false;
        if self.events.is_empty() && !self.ended {
            self.reader.consumer_turn = true;
            self.reader.consumer_waiting = true;
            self.read_slot.set(cx.waker());
            let now = self.clock.now();
            more = self.drive(now, max.max(READ_SPAN));
            self.settle(now);
        }
        if self.events.is_empty() {
            if self.ended {
                self.reader.consumer_waiting = false;
                return Poll::Ready(());
            }
            let waker = cx.waker();
            if !self
                .consumer_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(waker))
            {
                self.consumer_waker = Some(waker.clone());
            }
            return Poll::Pending;
        }
        self.reader.consumer_waiting = false;
        // A consumer whose loop watches the socket comes back when it is readable (or at once,
        // after a full span): it keeps the turn, and the runtime reads nothing meanwhile.
        let watched = self.link.as_ref().is_some_and(|l| l.watched.is_some());
        if self.config.heartbeat.is_none() && !watched {
            // No timers to take the turn back from an absent consumer: give it back now.
            self.release_turn();
            if more {
                // The span ran out with bytes still in the socket: readiness will not fire
                // again for them, so the driver must be told.
                self.wake_driver();
            }
        }
        self.take(max, out);
        Poll::Ready(())
    }

    /// Take up to `max` ready events without reading or waiting.
    pub fn take_ready(&mut self, max: usize, out: &mut impl EventSink) {
        self.release_turn();
        self.take(max, out);
    }

    /// The consumer took its stream (`events()`).
    pub fn attach_consumer(&mut self) {
        self.consumer = Consumer::Attached;
    }

    /// The consumer dropped its stream: messages are discarded from now on, never stalling the
    /// link, and the driver reads.
    pub fn detach_consumer(&mut self) {
        self.consumer = Consumer::Gone;
        self.consumer_waker = None;
        self.release_turn();
        self.events.retain(|e| !matches!(e, Event::Message(_)));
        self.messages_ready = 0;
        let now = self.clock.now();
        self.machine.reading_paused(now, false);
        self.wake_driver();
    }

    /// Messages waiting in the outbox: count and bytes.
    pub fn queued(&self) -> (usize, usize) {
        (self.outbox.len(), self.outbox.bytes())
    }

    /// The client has ended and its last event was handed over.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The client's task stopped early: fail with every unsent message (see `driver::Guard`).
    pub fn fail_stranded(&mut self, why: String) {
        if self.ended {
            return;
        }
        if let Some(link) = self.link.take() {
            self.outbox
                .requeue_front(link.in_flight.into_iter().map(|(_, m)| m).collect());
        }
        let from = self.shared.state();
        let reason = crate::event::Cause::Internal(why);
        let unsent = self.outbox.seal(Sealed::Failed);
        self.shared.set_state(State::Failed);
        let (now, wall) = (self.clock.now(), std::time::SystemTime::now());
        self.shared
            .counters
            .record(from, State::Failed, &reason.to_string(), now, wall);
        self.push_event(Event::StateChanged {
            state: State::Failed,
        });
        self.push_event(Event::Failed { reason, unsent });
        for reply in self.replies.drain(..) {
            let _ = reply.send(Vec::new());
        }
        self.ended = true;
        self.wake_consumer();
    }

    // ----- driving -----------------------------------------------------------------------

    /// Do everything that can be done now: the machine's actions, one span of reading (up to
    /// `span` frames or `READ_BYTES`), due timers, writing. Returns whether the span ran out with more to read.
    fn drive(&mut self, now: Time, span: usize) -> bool {
        let mut more = false;
        let mut read = false;
        for _ in 0..16 {
            let mut moved = self.perform_actions(now);
            if !read {
                read = true;
                let (moved_read, full) = self.read(now, span);
                moved |= moved_read;
                more = full;
            }
            moved |= self.handle_timers(now);
            moved |= self.write(now);
            moved |= self.drop_link_if_done(now);
            if !moved {
                break;
            }
        }
        self.publish_in();
        more
    }

    /// The earliest instant the driver must look again.
    fn next_timeout(&self) -> Option<Time> {
        let machine = self.machine.poll_timeout();
        let stall = self
            .link
            .as_ref()
            .filter(|l| l.watches_stall())
            .map(|l| l.stall_at);
        let quiet = self
            .link
            .as_ref()
            .filter(|l| l.compression_live)
            .map(|l| l.last_traffic + COMPRESSION_QUIET);
        [machine, stall, quiet].into_iter().flatten().min()
    }

    /// Called after entries from threads other than the driver: wake it if it has work, or if
    /// something is now due before the timer it armed. (A later deadline needs no wake-up: the
    /// driver finds nothing due at its timer and re-arms; traffic moves the heartbeat's
    /// deadline with every read.)
    fn settle(&mut self, _now: Time) {
        let earlier = match (self.next_timeout(), self.armed) {
            (Some(next), Some(armed)) => next < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !self.tasks.is_empty() || earlier {
            self.wake_driver();
        }
    }

    fn perform_actions(&mut self, now: Time) -> bool {
        let mut moved = false;
        while let Some(action) = self.machine.poll_action() {
            moved = true;
            self.perform(now, action);
        }
        moved
    }

    fn perform(&mut self, now: Time, action: Action) {
        match action {
            Action::Transition { from, to, cause } => {
                self.shared.set_state(to);
                let wall = std::time::SystemTime::now();
                self.shared.counters.record(from, to, &cause, now, wall);
                self.push_event(Event::StateChanged { state: to });
            }
            Action::Emit(event) => self.push_event(event),
            Action::CountAttempt => {
                self.shared
                    .counters
                    .attempts
                    .fetch_add(1, Ordering::Relaxed);
            }
            Action::CountOpen => {
                self.shared.counters.opens.fetch_add(1, Ordering::Relaxed);
            }
            Action::RecordRtt(rtt) => self.shared.counters.set_rtt(rtt),
            Action::RecordClose { code, reason } => self.shared.counters.set_close(code, &reason),
            Action::Connect {
                attempt,
                after_unauthorized,
                url,
            } => self.tasks.push_back(Task::Connect {
                attempt,
                after_unauthorized,
                url,
            }),
            Action::Locate {
                attempt,
                after_unauthorized,
            } => self.tasks.push_back(Task::Locate {
                attempt,
                after_unauthorized,
            }),
            Action::Abandon => self.tasks.push_back(Task::Abandon),
            Action::Greet { within } => self.tasks.push_back(Task::Greet { within }),
            Action::Serve => {
                if let Some(link) = self.link.as_mut() {
                    link.serving = true;
                }
            }
            Action::Ping(ping) => {
                if let Some(link) = self.link.as_mut() {
                    match ping {
                        Ping::Protocol(payload) => link.encoder.ping(&payload, &mut link.out),
                        Ping::App(message) => link.encoder.message(&message, &mut link.out),
                    }
                    link.encoded = link.encoded_len();
                }
            }
            Action::Close {
                code,
                reason,
                flush,
                ..
            } => {
                // The closing handshake reads the server's answer: the driver's job, not a
                // consumer's that may never come back.
                self.release_turn();
                self.wake_driver();
                if let Some(link) = self.link.as_mut() {
                    link.serving = false;
                    if flush {
                        while let Some(message) = self.outbox.pop() {
                            encode_message(link, message);
                        }
                    }
                    link.encoder.close(Some((code, &reason)), &mut link.out);
                    link.encoded = link.encoded_len();
                    link.closing = true;
                } else {
                    self.machine.shut_done(now);
                }
            }
            Action::Shut { shut, .. } => {
                self.release_turn();
                self.wake_driver();
                self.shut(now, shut);
            }
            Action::Finish(end) => {
                match end {
                    End::Closed => {
                        let unsent = self.outbox.seal(Sealed::Closed);
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
                    }
                    End::Failed(reason) => {
                        let unsent = self.outbox.seal(Sealed::Failed);
                        self.push_event(Event::Failed { reason, unsent });
                        for reply in self.replies.drain(..) {
                            let _ = reply.send(Vec::new());
                        }
                    }
                }
                self.ended = true;
                self.wake_consumer();
            }
        }
    }

    /// End a broken link's socket as the machine said; it is dropped once `out` is flushed.
    fn shut(&mut self, now: Time, shut: Shut) {
        let Some(link) = self.link.as_mut() else {
            return self.machine.shut_done(now);
        };
        link.serving = false;
        link.shutting = true;
        match shut {
            Shut::Abort => {
                link.out.clear();
                link.encoded = link.written;
            }
            // The reply to the server's close is already queued (see `read`).
            Shut::Reply => {}
            Shut::Send(code) => {
                let reason = crate::event::close_code_name(code);
                link.encoder.close(Some((code, reason)), &mut link.out);
                link.encoded = link.encoded_len();
            }
        }
    }

    /// Read and decode what the socket has, up to `span` frames or [`READ_BYTES`] of messages:
    /// data to the consumer, the rest to the machine. Returns whether anything moved, and
    /// whether the span ran out.
    fn read(&mut self, now: Time, span: usize) -> (bool, bool) {
        let Some(link) = self.link.as_mut() else {
            return (false, false);
        };
        if link.shutting {
            return (false, false);
        }
        let mut moved = false;
        let mut frames = 0;
        let mut bytes = 0;
        while frames < span && bytes < READ_BYTES {
            if !link.closing
                && self.consumer != Consumer::Gone
                && self.messages_ready >= self.config.event_buffer
            {
                // The consumer is behind: stop reading (TCP pushes back on the server); the
                // silence this causes is not the link's fault.
                self.machine.reading_paused(now, true);
                break;
            }
            let decoded = match link.decoder.decode() {
                Ok(Some(decoded)) => decoded,
                Ok(None) => match poll_read(link) {
                    Poll::Ready(Ok(0)) => {
                        moved = true;
                        if link.closing {
                            self.machine.shut_done(now);
                        } else {
                            let fault =
                                Fault::Network("connection closed without a close frame".into());
                            self.machine.lost(now, fault);
                        }
                        break;
                    }
                    Poll::Ready(Ok(_)) => {
                        moved = true;
                        link.last_read = Some(now);
                        self.machine.activity(now);
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        moved = true;
                        if link.closing {
                            self.machine.shut_done(now);
                        } else {
                            self.machine
                                .lost(now, Fault::Network(format!("read failed: {e}")));
                        }
                        break;
                    }
                    Poll::Pending => {
                        // Waiting for more: an idle link gives back a large read buffer.
                        link.decoder.shrink_if_idle();
                        break;
                    }
                },
                Err(Violation { code, detail }) => {
                    moved = true;
                    if link.closing {
                        self.machine.shut_done(now);
                    } else if code == 1009 {
                        self.machine.lost(now, Fault::TooLarge);
                    } else {
                        self.machine.lost(now, Fault::Protocol { detail, code });
                    }
                    break;
                }
            };
            moved = true;
            frames += 1;
            match decoded {
                Decoded::Message(message) => {
                    if link.closing {
                        // After our close frame, data is discarded.
                        continue;
                    }
                    if let (Some(pong), Message::Text(text)) = (&self.app_pong, &message) {
                        if pong.matches(text) {
                            self.machine.frame(now, Inbound::AppPong);
                            continue;
                        }
                    }
                    link.note_traffic(now);
                    bytes += message.len();
                    self.unpublished_in.0 += 1;
                    self.unpublished_in.1 += message.len() as u64;
                    if self.consumer != Consumer::Gone {
                        self.messages_ready += 1;
                        self.events.push_back(Event::Message(message));
                    }
                }
                Decoded::Ping(payload) => {
                    if !link.closing {
                        link.encoder.pong(&payload, &mut link.out);
                        link.encoded = link.encoded_len();
                    }
                }
                Decoded::Pong(payload) => self.machine.frame(now, Inbound::Pong(payload.to_vec())),
                Decoded::Close(status) => {
                    if link.closing {
                        self.machine.shut_done(now);
                    } else {
                        // Echo the status as the closing handshake's second half.
                        let (code, reason) = status.unwrap_or((1005, String::new()));
                        let echo = (code != 1005).then_some((code, ""));
                        link.encoder.close(echo, &mut link.out);
                        link.encoded = link.encoded_len();
                        self.machine.frame(now, Inbound::Close { code, reason });
                    }
                    break;
                }
            }
            if !self.machine.holds_link() {
                break;
            }
        }
        if moved && !self.events.is_empty() {
            self.wake_consumer();
        }
        (moved, frames >= span || bytes >= READ_BYTES)
    }

    /// Report bytes read to the machine and fire its timers and the write-stall check.
    fn handle_timers(&mut self, now: Time) -> bool {
        let mut moved = false;
        if let Some(link) = self.link.as_mut() {
            if let Some(at) = link.last_read {
                self.machine.activity(at);
            }
            if link.compression_live && now >= link.last_traffic + COMPRESSION_QUIET {
                link.decoder.release_compression();
                link.encoder.release_compression();
                link.compression_live = false;
            }
            if link.watches_stall() && now >= link.stall_at {
                self.machine.lost(now, Fault::WriteStalled);
                moved = true;
            }
        }
        if self.machine.poll_timeout().is_some_and(|t| t <= now) {
            self.machine.handle_timeout(now);
            moved = true;
        }
        moved
    }

    /// Encode queued messages (within the write-ahead) and give the socket what it takes.
    fn write(&mut self, now: Time) -> bool {
        let Some(link) = self.link.as_mut() else {
            return false;
        };
        let mut moved = false;
        if link.serving {
            while link.out.len() < WRITE_AHEAD {
                let Some(message) = self.outbox.pop() else {
                    break;
                };
                encode_message(link, message);
                link.note_traffic(now);
                moved = true;
            }
        }
        let mut failed = None;
        while !link.out.is_empty() {
            match poll_write(link) {
                Poll::Ready(Ok(0)) => {
                    failed = Some("the socket took nothing".to_string());
                    break;
                }
                Poll::Ready(Ok(n)) => {
                    moved = true;
                    let _ = link.out.split_to(n);
                    link.written += n as u64;
                    link.blocked = None;
                    link.unflushed = true;
                }
                Poll::Ready(Err(e)) => {
                    failed = Some(e.to_string());
                    break;
                }
                Poll::Pending => break,
            }
        }
        if failed.is_none() && link.unflushed && link.out.is_empty() {
            // TLS keeps records of its own until flushed; plain TCP has nothing to flush.
            match poll_flush(link) {
                Poll::Ready(Ok(())) => link.unflushed = false,
                Poll::Ready(Err(e)) => failed = Some(e.to_string()),
                Poll::Pending => {}
            }
        }
        if let Some(detail) = failed {
            link.out.clear();
            link.encoded = link.written;
            if link.closing || link.shutting {
                self.machine.shut_done(now);
            } else {
                self.machine
                    .lost(now, Fault::Network(format!("write failed: {detail}")));
            }
            return true;
        }
        let pending = !link.out.is_empty() || link.unflushed;
        if !pending {
            link.blocked = None;
        } else if link.blocked.is_none() {
            link.blocked = Some(now);
            link.stall_at = self.machine.write_deadline(now);
        }
        // A message is written once the socket took its last byte (and, over TLS, once that
        // was flushed).
        let taken = if link.unflushed {
            link.written.saturating_sub(link.out_tls_margin())
        } else {
            link.written
        };
        let mut done = (0usize, 0usize);
        while link.in_flight.front().is_some_and(|(end, _)| *end <= taken) {
            let (_, message) = link.in_flight.pop_front().expect("checked");
            done.0 += 1;
            done.1 += message.len();
        }
        if done.0 > 0 {
            self.shared.counters.add_out(done.0, done.1);
        }
        moved
    }

    /// The machine let go of the link (or a shut has flushed): close the socket, and put what
    /// it never took back at the outbox's front (sent on the next link, or handed back).
    fn drop_link_if_done(&mut self, now: Time) -> bool {
        let Some(link) = self.link.as_ref() else {
            return false;
        };
        if link.shutting && link.out.is_empty() && self.machine.holds_link() {
            self.machine.shut_done(now);
        }
        if self.machine.holds_link() {
            return false;
        }
        let link = self.link.take().expect("checked");
        let unwritten: Vec<Message> = link.in_flight.into_iter().map(|(_, m)| m).collect();
        if !unwritten.is_empty() {
            self.outbox.requeue_front(unwritten);
        }
        self.release_turn();
        true
    }

    // ----- delivery ----------------------------------------------------------------------

    fn push_event(&mut self, event: Event) {
        self.events.push_back(event);
        self.wake_consumer();
    }

    fn take(&mut self, max: usize, out: &mut impl EventSink) {
        let max = max.max(1);
        let mut messages = 0;
        let mut bytes = 0;
        let mut room = max.saturating_sub(out.held());
        while room > 0 && bytes < BATCH_BYTES {
            room -= 1;
            let Some(event) = self.events.pop_front() else {
                break;
            };
            if let Event::Message(m) = &event {
                messages += 1;
                bytes += m.len();
            }
            out.put(event);
        }
        if messages > 0 {
            let was_full = self.messages_ready >= self.config.event_buffer;
            self.messages_ready -= messages;
            if was_full {
                // Room again: reading resumes (the silence clock restarts from now).
                let now = self.clock.now();
                self.machine.reading_paused(now, false);
                if !self.reader.consumer_turn {
                    self.wake_driver();
                }
            }
        }
    }

    /// Counters first, so `stats()` read from an event handler already counts its message.
    fn publish_in(&mut self) {
        let (n, bytes) = std::mem::take(&mut self.unpublished_in);
        if n > 0 {
            self.shared.counters.add_in(n, bytes);
        }
    }

    fn release_turn(&mut self) {
        self.reader.consumer_turn = false;
        self.reader.consumer_waiting = false;
        if let Some(w) = &self.driver_waker {
            self.read_slot.set(w);
        }
    }

    fn wake_consumer(&mut self) {
        if let Some(w) = self.consumer_waker.take() {
            w.wake();
        }
    }

    fn wake_driver(&self) {
        if let Some(w) = &self.driver_waker {
            w.wake_by_ref();
        }
    }
}

impl Link {
    /// A data message went in or out: compression state is (or may be) held.
    fn note_traffic(&mut self, now: Time) {
        self.last_traffic = now;
        self.compression_live = self.compressed;
    }

    /// A write is blocked on an open link (a closing or shut link has the machine's deadline).
    fn watches_stall(&self) -> bool {
        self.blocked.is_some() && !self.closing && !self.shutting
    }

    fn encoded_len(&self) -> u64 {
        self.written + self.out.len() as u64
    }

    /// Bytes the transport took but may still hold itself: none over plain TCP; over TLS,
    /// everything since the last completed flush is treated as not yet written.
    fn out_tls_margin(&self) -> u64 {
        if self.transport.buffers_writes() {
            u64::MAX
        } else {
            0
        }
    }
}

/// Encode a data message into the link's output, remembering it until the socket took it.
fn encode_message(link: &mut Link, message: Message) {
    link.encoder.message(&message, &mut link.out);
    link.encoded = link.encoded_len();
    link.in_flight.push_back((link.encoded, message));
}

fn poll_read(link: &mut Link) -> Poll<std::io::Result<usize>> {
    let mut cx = Context::from_waker(&link.read_waker);
    let mut read_buf = ReadBuf::uninit(link.decoder.spare());
    match Pin::new(&mut link.transport).poll_read(&mut cx, &mut read_buf) {
        Poll::Ready(Ok(())) => {
            let n = read_buf.filled().len();
            link.decoder.filled(n);
            Poll::Ready(Ok(n))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

fn poll_write(link: &mut Link) -> Poll<std::io::Result<usize>> {
    let mut cx = Context::from_waker(&link.write_waker);
    Pin::new(&mut link.transport).poll_write(&mut cx, &link.out)
}

fn poll_flush(link: &mut Link) -> Poll<std::io::Result<()>> {
    let mut cx = Context::from_waker(&link.write_waker);
    Pin::new(&mut link.transport).poll_flush(&mut cx)
}

/// Lock the engine, whatever a panicking holder left behind.
pub(crate) fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|e| e.into_inner())
}
