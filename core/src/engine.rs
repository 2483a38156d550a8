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

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use tracing::warn;

use crate::batch::{entry_len, Batch, ENTRY_HEAD, PACKED_TEXT};
use crate::clock::Clock;
use crate::config::Config;
use crate::connect::Transport;
use crate::deflate::{Deflater, Inflater};
use crate::error::Error;
use crate::event::{Event, Message, State, Utf8Bytes};
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
    /// Append `count` small messages, packed as `batch` packs them (each text checked).
    fn put_packed(&mut self, entries: &[u8], count: usize);
}

impl EventSink for Batch {
    fn held(&self) -> usize {
        self.len()
    }
    fn put(&mut self, event: Event) {
        self.push(event);
    }
    fn put_packed(&mut self, entries: &[u8], count: usize) {
        self.push_packed(entries, count);
    }
}

/// A queue of events a Rust consumer takes one by one.
pub(crate) trait EventQueue {
    fn len(&self) -> usize;
    fn push(&mut self, event: Event);
}

impl EventQueue for Vec<Event> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn push(&mut self, event: Event) {
        Vec::push(self, event);
    }
}

impl EventQueue for VecDeque<Event> {
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
    fn push(&mut self, event: Event) {
        self.push_back(event);
    }
}

/// An [`EventSink`] that makes each packed message a [`Message`] of its own, for a consumer
/// that takes events one by one: small payloads are copied into `arena` and handed out as
/// slices of it (one allocation per `SMALL_ARENA` bytes instead of one per message: malloc and
/// free were a quarter of the client's CPU at 64 B).
pub(crate) struct Unpacking<'a, Q> {
    pub queue: &'a mut Q,
    pub arena: &'a mut BytesMut,
}

/// Payloads under this size are copied into the consumer's arena; larger ones (up to
/// `batch::PACK_LIMIT`) get an allocation each, which costs little next to their copy.
const SMALL_PAYLOAD: usize = 2 * 1024;
/// Size of that arena. A small message the app keeps holds the arena it is in (at most this
/// much), as a large one holds its read buffer; the bindings copy every payload out at once.
const SMALL_ARENA: usize = 8 * 1024;

impl<Q: EventQueue> EventSink for Unpacking<'_, Q> {
    fn held(&self) -> usize {
        self.queue.len()
    }
    fn put(&mut self, event: Event) {
        self.queue.push(event);
    }
    fn put_packed(&mut self, mut entries: &[u8], _count: usize) {
        while !entries.is_empty() {
            let len = entry_len(entries);
            let payload = &entries[ENTRY_HEAD..ENTRY_HEAD + len];
            let bytes = if len < SMALL_PAYLOAD {
                if self.arena.capacity() < len {
                    self.arena.reserve(SMALL_ARENA);
                }
                self.arena.extend_from_slice(payload);
                self.arena.split().freeze()
            } else {
                Bytes::copy_from_slice(payload)
            };
            let message = if entries[0] == PACKED_TEXT {
                // SAFETY: the decoder checked every packed text as UTF-8.
                Message::Text(unsafe { Utf8Bytes::from_bytes_unchecked(bytes) })
            } else {
                Message::Binary(bytes)
            };
            self.queue.push(Event::Message(message));
            entries = &entries[ENTRY_HEAD + len..];
        }
    }
}

/// Give back `arena` if no payload holds it (`try_reclaim` succeeds only then, or when nothing
/// was ever split off it), so an idle consumer keeps none; one that payloads still hold is kept,
/// so messages taken one at a time still share it.
pub(crate) fn release_idle_arena(arena: &mut BytesMut) {
    if arena.capacity() > 0 && arena.try_reclaim(SMALL_ARENA) {
        *arena = BytesMut::new();
    }
}

/// Packed bytes already taken, from which the buffer's front is dropped (once they are also
/// at least half of it, so the bytes moved never outnumber the bytes taken).
const PACKED_COMPACT: usize = 64 * 1024;

/// Drop the taken front (`..*read`) of the packed queue `packed` once it is large enough.
fn compact_packed(packed: &mut Vec<u8>, read: &mut usize) {
    if *read >= PACKED_COMPACT && *read * 2 >= packed.len() {
        packed.drain(..*read);
        *read = 0;
    }
}

/// An entry of the engine's queue of events for the app.
#[derive(Debug)]
enum Ready {
    Event(Event),
    /// This many small messages, next in `Engine::packed` (a run of them takes one entry).
    Packed(usize),
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
    events: VecDeque<Ready>,
    messages_ready: usize,
    /// The small whole messages of `events`, packed in order (`batch`'s form) from
    /// `packed_read` on: copied once from the read buffer, then once more to the consumer.
    packed: Vec<u8>,
    packed_read: usize,
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
            packed: Vec::new(),
            packed_read: 0,
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
        self.events
            .retain(|e| !matches!(e, Ready::Event(Event::Message(_)) | Ready::Packed(_)));
        self.clear_packed();
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
            let decoded = match link.decoder.decode_into(&mut self.packed) {
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
                        // Waiting for more: an idle link gives back a large read buffer, and a
                        // drained queue its packed messages' buffer.
                        link.decoder.shrink_if_idle();
                        if self.events.is_empty() {
                            self.packed = Vec::new();
                            self.packed_read = 0;
                        }
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
                Decoded::Packed { text, len } => {
                    let start = self.packed.len() - len - ENTRY_HEAD;
                    if link.closing {
                        // After our close frame, data is discarded.
                        self.packed.truncate(start);
                        continue;
                    }
                    if let (Some(pong), true) = (&self.app_pong, text) {
                        // SAFETY: the decoder checked this text as UTF-8.
                        let payload = unsafe {
                            std::str::from_utf8_unchecked(&self.packed[start + ENTRY_HEAD..])
                        };
                        if pong.matches(payload) {
                            self.packed.truncate(start);
                            self.machine.frame(now, Inbound::AppPong);
                            continue;
                        }
                    }
                    link.note_traffic(now);
                    bytes += len;
                    self.unpublished_in.0 += 1;
                    self.unpublished_in.1 += len as u64;
                    if self.consumer == Consumer::Gone {
                        self.packed.truncate(start);
                    } else {
                        self.messages_ready += 1;
                        match self.events.back_mut() {
                            Some(Ready::Packed(run)) => *run += 1,
                            _ => self.events.push_back(Ready::Packed(1)),
                        }
                    }
                }
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
                        self.events.push_back(Ready::Event(Event::Message(message)));
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
        self.events.push_back(Ready::Event(event));
        self.wake_consumer();
    }

    fn take(&mut self, max: usize, out: &mut impl EventSink) {
        let max = max.max(1);
        let mut messages = 0;
        let mut bytes = 0;
        let mut room = max.saturating_sub(out.held());
        while room > 0 && bytes < BATCH_BYTES {
            match self.events.front_mut() {
                None => break,
                Some(Ready::Packed(run)) => {
                    // As much of the run as fits, handed over in one piece.
                    let start = self.packed_read;
                    let mut end = start;
                    let mut taken = 0;
                    while taken < *run && room > 0 && bytes < BATCH_BYTES {
                        let len = entry_len(&self.packed[end..]);
                        end += ENTRY_HEAD + len;
                        bytes += len;
                        taken += 1;
                        room -= 1;
                    }
                    out.put_packed(&self.packed[start..end], taken);
                    self.packed_read = end;
                    messages += taken;
                    *run -= taken;
                    if *run == 0 {
                        self.events.pop_front();
                    }
                }
                Some(Ready::Event(_)) => {
                    room -= 1;
                    let Some(Ready::Event(event)) = self.events.pop_front() else {
                        unreachable!("front checked");
                    };
                    if let Event::Message(m) = &event {
                        messages += 1;
                        bytes += m.len();
                    }
                    out.put(event);
                }
            }
        }
        if self.events.is_empty() {
            // Drained: the packed buffer is reused from its start.
            self.clear_packed();
        } else {
            // A consumer that never quite catches up must not grow it for ever.
            compact_packed(&mut self.packed, &mut self.packed_read);
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

    fn clear_packed(&mut self) {
        self.packed.clear();
        self.packed_read = 0;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::put_entry;

    fn payload(event: &Event) -> &[u8] {
        match event {
            Event::Message(Message::Binary(b)) => b,
            Event::Message(Message::Text(t)) => t.as_bytes(),
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn small_payloads_share_one_arena_and_an_idle_consumer_gives_it_back_unless_one_is_held() {
        let mut entries = Vec::new();
        for i in 0..50u8 {
            put_entry(&mut entries, false, &[i; 64]);
        }
        put_entry(&mut entries, true, "é".repeat(32).as_bytes());
        let (mut queue, mut arena) = (Vec::new(), BytesMut::new());
        let mut sink = Unpacking {
            queue: &mut queue,
            arena: &mut arena,
        };
        sink.put_packed(&entries, 51);
        assert_eq!(queue.len(), 51);
        // One after another in one buffer: one allocation for all of them, not one each.
        for pair in queue.windows(2) {
            let (a, b) = (payload(&pair[0]), payload(&pair[1]));
            assert_eq!(a.as_ptr().wrapping_add(a.len()), b.as_ptr());
        }
        assert_eq!(payload(&queue[7]), &[7u8; 64]);
        assert_eq!(queue[50], Event::Message(Message::text("é".repeat(32))));

        // A wait while a payload still holds the arena: kept, and the next payload follows on.
        let held = queue.pop().unwrap();
        queue.clear();
        release_idle_arena(&mut arena);
        let mut next = Vec::new();
        put_entry(&mut next, false, b"next");
        Unpacking {
            queue: &mut queue,
            arena: &mut arena,
        }
        .put_packed(&next, 1);
        let last = payload(&held);
        assert_eq!(
            last.as_ptr().wrapping_add(last.len()),
            payload(&queue[0]).as_ptr()
        );

        // With nothing held: given back (an idle client keeps no arena).
        drop(held);
        queue.clear();
        release_idle_arena(&mut arena);
        assert_eq!(arena.capacity(), 0);

        // Payloads from 2 KiB on get their own allocation (a kept one holds only itself).
        let mut large = Vec::new();
        put_entry(&mut large, false, &[1; 3000]);
        Unpacking {
            queue: &mut queue,
            arena: &mut arena,
        }
        .put_packed(&large, 1);
        assert_eq!(payload(&queue[0]), &[1; 3000][..]);
        assert_eq!(arena.capacity(), 0);
    }

    #[test]
    fn the_packed_queue_drops_what_was_taken_once_it_is_most_of_it() {
        let mut packed = Vec::new();
        for i in 0..2000u32 {
            put_entry(&mut packed, false, &i.to_le_bytes().repeat(16));
        }
        let entry = ENTRY_HEAD + 64;
        // Taken: less than the threshold, then less than half: kept as it is.
        let mut read = entry * 900;
        compact_packed(&mut packed, &mut read);
        assert_eq!((read, packed.len()), (entry * 900, entry * 2000));
        // More than half, and over the threshold: the front goes, the rest stays in order.
        read = entry * 1200;
        compact_packed(&mut packed, &mut read);
        assert_eq!((read, packed.len()), (0, entry * 800));
        assert_eq!(&packed[ENTRY_HEAD..ENTRY_HEAD + 4], &1200u32.to_le_bytes());
        // A small queue is never moved.
        let (mut small, mut at) = (vec![0u8; 1000], 900);
        compact_packed(&mut small, &mut at);
        assert_eq!((at, small.len()), (900, 1000));
    }
}
