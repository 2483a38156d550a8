//! The open link's socket, shared by the supervisor, `send()` and the event consumer.
//!
//! Why share it: a round trip that starts on the app's thread (Node's event loop, Python's
//! asyncio loop, a Kotlin coroutine) used to hand each message to the supervisor's task and wake
//! a runtime thread to write it. When the link is idle (nothing queued, nothing being written),
//! `send()` now writes the frame itself, on the caller's thread, as `ws` and `websockets` do.
//!
//! Reads can move too. A binding's event thread that drains the stream in batches would
//! otherwise wait for a runtime thread to read, parse and hand over every chunk: three busy
//! threads (server, runtime, event thread) where OkHttp has two. While that thread is waiting
//! for events and nothing is in flight, it takes the *read turn* and reads data frames itself
//! (see [`PublishedLink::host_read`]). Everything else it meets (close, pong, errors) it hands
//! back to the supervisor, which also takes the turn back at the end of the link, and at
//! heartbeat ticks from a consumer that is away in the app's handlers.
//!
//! The supervisor still owns the link: it pings, closes, and finishes any write a sender left
//! half done. The lock is held for one poll, or for one batch of a consumer's reads (frames
//! already buffered, tens of microseconds), never while anyone waits for the network.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::{Sink, SinkExt, Stream};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use crate::client::Shared;
use crate::event::{Event, Message};
use crate::heartbeat::PongMatch;
use crate::socket::Socket;

/// A frame as the socket's stream yields it (`None`: the stream ended).
type Frame = Option<Result<WsMessage, WsError>>;

/// Most frames a consumer reads under one hold of the lock (a few tens of microseconds).
const LOCK_SPAN: usize = 256;

/// The socket and who may read it, behind one lock.
struct Wire {
    socket: Socket,
    /// The event consumer holds the read turn: the supervisor does not read.
    host_reads: bool,
    /// The supervisor has read frames it has not yet handed to the event channel; the consumer
    /// must not read past them.
    unpublished: bool,
    /// A frame the consumer read but cannot handle, for the supervisor's next read.
    handed: Option<Frame>,
    /// The consumer read data since the supervisor last looked (the link is alive).
    host_received: bool,
    /// The consumer is inside a pull, waiting for data (not away running the app's handlers).
    host_waiting: bool,
    /// The link is being shut down: only the supervisor reads from now on.
    withdrawn: bool,
    /// The supervisor's read waker, to wake it when the turn comes back.
    supervisor: Option<Waker>,
    /// The consumer's waker, to wake it when the turn is taken away.
    host: Option<Waker>,
}

impl Wire {
    /// The supervisor's next frame: one the consumer handed back, else the socket's, unless the
    /// consumer holds the read turn.
    fn supervisor_read(&mut self) -> Poll<Frame> {
        if let Some(frame) = self.handed.take() {
            self.unpublished = true;
            return Poll::Ready(frame);
        }
        if self.host_reads {
            return Poll::Pending;
        }
        let polled = self.socket.read();
        if polled.is_ready() {
            self.unpublished = true;
        }
        polled
    }

    fn give_back(&mut self) {
        self.host_reads = false;
        if let Some(w) = &self.supervisor {
            w.wake_by_ref();
        }
    }
}

/// The socket behind a lock taken once per poll. The supervisor reads and writes through it
/// with the usual `StreamExt`/`SinkExt` methods.
pub(crate) struct SharedSocket(Arc<Mutex<Wire>>);

impl SharedSocket {
    pub fn new(socket: Socket) -> Self {
        SharedSocket(Arc::new(Mutex::new(Wire {
            socket,
            host_reads: false,
            unpublished: false,
            handed: None,
            host_received: false,
            host_waiting: false,
            withdrawn: false,
            supervisor: None,
            host: None,
        })))
    }

    /// A handle `send()` and the event consumer use while this link is published.
    pub fn publish(&self, shared: &Arc<Shared>) -> PublishedLink {
        PublishedLink {
            wire: Arc::downgrade(&self.0),
            flush_waker: Waker::from(Arc::new(FlushWaker(Arc::downgrade(shared)))),
        }
    }

    /// Send a close frame and flush it (the closing handshake's first half).
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), WsError> {
        self.send(WsMessage::Close(frame)).await
    }

    /// The frames read so far are in the event channel: the consumer may read on.
    pub fn published(&self) {
        let mut w = self.lock();
        if std::mem::take(&mut w.unpublished) {
            // A consumer waiting for these (or for a frame it handed back) may read on.
            if let Some(h) = &w.host {
                h.wake_by_ref();
            }
        }
    }

    /// The heartbeat's look at the consumer's reads. Returns whether it read anything since the
    /// last look (then the link is alive). A consumer that holds the read turn but is away
    /// (running the app's handlers) loses it, so pongs and close frames are still read, and a
    /// consumer that is merely slow is paced by the event buffer as usual, never declared dead.
    pub fn check_host(&self) -> bool {
        let mut w = self.lock();
        if w.host_reads && !w.host_waiting {
            w.host_reads = false;
        }
        std::mem::take(&mut w.host_received)
    }

    /// When bytes last arrived on the socket (see `Socket::last_read`).
    pub fn last_read(&self) -> Option<tokio::time::Instant> {
        self.lock().socket.last_read()
    }

    /// The link is ending: take the read turn back for good and wake the consumer, which
    /// then waits for events again.
    pub fn withdraw(&self) {
        let mut w = self.lock();
        w.withdrawn = true;
        w.host_reads = false;
        if let Some(h) = w.host.take() {
            h.wake();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Wire> {
        lock(&self.0)
    }
}

impl SharedSocket {
    /// The next frame if one is ready now, read with the waker of the supervisor's last poll
    /// (the rest of a read batch).
    pub fn next_ready(&mut self) -> Option<Frame> {
        match self.lock().supervisor_read() {
            Poll::Ready(frame) => Some(frame),
            Poll::Pending => None,
        }
    }
}

impl Stream for SharedSocket {
    type Item = Result<WsMessage, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut w = self.lock();
        match &w.supervisor {
            Some(s) if s.will_wake(cx.waker()) => {}
            _ => w.supervisor = Some(cx.waker().clone()),
        }
        if !w.host_reads {
            w.socket.set_reader(cx.waker());
        }
        w.supervisor_read()
    }
}

impl Sink<WsMessage> for SharedSocket {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.lock().socket).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: WsMessage) -> Result<(), WsError> {
        Pin::new(&mut self.lock().socket).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.lock().socket).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.lock().socket).poll_close(cx)
    }
}

/// What a direct write did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Direct {
    /// Written to the socket.
    Written,
    /// Framed, but the socket took only part of it: the supervisor (woken) finishes the flush.
    Unflushed,
    /// Not written (the socket is busy or refused): queue the message as usual.
    NotTaken,
}

/// What a consumer's read did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HostRead {
    /// This many messages were appended (maybe 0 after handing a frame back).
    Read(usize),
    /// Nothing to read yet; the waker is registered for when there is.
    Pending,
    /// The supervisor reads now (frames in flight, or the link is ending): wait for events.
    NotMine,
}

/// The published link: the socket plus the waker that hands an unfinished flush to the
/// supervisor. Weak: only the supervisor keeps a link's socket open.
#[derive(Clone)]
pub(crate) struct PublishedLink {
    wire: Weak<Mutex<Wire>>,
    flush_waker: Waker,
}

impl PublishedLink {
    /// Write `message` now if nobody else is using the socket. Never blocks: a busy socket
    /// (the supervisor is mid-poll) means `NotTaken`.
    pub fn try_write(&self, message: &Message) -> Direct {
        let Some(wire) = self.wire.upgrade() else {
            return Direct::NotTaken;
        };
        let mut wire = match wire.try_lock() {
            Ok(wire) => wire,
            Err(_) => return Direct::NotTaken,
        };
        let mut socket = Pin::new(&mut wire.socket);
        let mut cx = Context::from_waker(&self.flush_waker);
        if !matches!(socket.as_mut().poll_ready(&mut cx), Poll::Ready(Ok(()))) {
            return Direct::NotTaken;
        }
        if socket.as_mut().start_send(to_ws(message)).is_err() {
            return Direct::NotTaken;
        }
        match socket.as_mut().poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => Direct::Written,
            Poll::Pending => Direct::Unflushed,
            // Unknown how much went out: queue it (sent again on the next link, as after any
            // failed write), and the supervisor finds the broken link on its next poll.
            Poll::Ready(Err(_)) => Direct::NotTaken,
        }
    }

    /// Give the read turn back (the consumer stops pulling).
    pub fn give_back(&self) {
        let Some(wire) = self.wire.upgrade() else {
            return;
        };
        let mut w = lock(&wire);
        if w.host_reads {
            w.give_back();
        }
        w.host_waiting = false;
        w.host = None;
    }

    /// Take (or keep) the read turn and read up to `max` data frames into `out` on the
    /// caller's thread. `before` runs once the turn is held, to collect events the supervisor
    /// published earlier: if it returns true, nothing is read this time (those come first).
    pub fn host_read(
        &self,
        max: usize,
        pong: Option<&PongMatch>,
        cx: &mut Context<'_>,
        out: &mut Vec<Event>,
        before: impl FnOnce() -> bool,
    ) -> HostRead {
        let Some(wire) = self.wire.upgrade() else {
            return HostRead::NotMine;
        };
        let mut guard = lock(&wire);
        let w = &mut *guard;
        if w.withdrawn || w.unpublished || w.handed.is_some() {
            return HostRead::NotMine;
        }
        w.host_reads = true;
        match &w.host {
            Some(h) if h.will_wake(cx.waker()) => {}
            _ => w.host = Some(cx.waker().clone()),
        }
        // The supervisor can no longer read; whatever it read before is in the channel now.
        if before() {
            w.host_waiting = false;
            return HostRead::Read(0);
        }
        w.socket.set_reader(cx.waker());
        let start = out.len();
        let mut frames = 0;
        while out.len() - start < max {
            if frames == LOCK_SPAN {
                // A long batch lets the supervisor and senders in between spans; the turn may
                // be gone afterwards (withdrawn, or taken back at a heartbeat tick).
                frames = 0;
                drop(guard);
                guard = lock(&wire);
                if !guard.host_reads {
                    break;
                }
            }
            frames += 1;
            let w = &mut *guard;
            let frame = match w.socket.read() {
                Poll::Pending => break,
                Poll::Ready(frame) => frame,
            };
            match frame {
                Some(Ok(WsMessage::Text(text)))
                    if !pong.is_some_and(|p| p.matches(text.as_str())) =>
                {
                    out.push(Event::Message(Message::Text(text)))
                }
                Some(Ok(WsMessage::Binary(data))) => {
                    out.push(Event::Message(Message::Binary(data)))
                }
                // tungstenite queues the answer and flushes it on the next read or write.
                Some(Ok(WsMessage::Ping(_))) => {}
                other => {
                    w.handed = Some(other);
                    w.give_back();
                    break;
                }
            }
        }
        let w = &mut *guard;
        let n = out.len() - start;
        w.host_received |= n > 0;
        w.host_waiting = n == 0 && w.host_reads;
        if w.host_waiting {
            HostRead::Pending
        } else {
            HostRead::Read(n)
        }
    }
}

/// Wakes the supervisor when a socket that refused part of a direct write can take more.
/// Weak: the waker lives inside the socket, which `Shared` must not keep alive.
struct FlushWaker(Weak<Shared>);

impl Wake for FlushWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        // tokio-tungstenite wakes the write waker on read readiness too; only a pending flush
        // needs the supervisor. A busy outbox lock may hide one: then wake it to be safe.
        let pending = match shared.outbox.try_lock() {
            Ok(outbox) => outbox.has_unflushed(),
            Err(_) => true,
        };
        if pending {
            shared.outbox_ready.notify_one();
        }
    }
}

/// The frame for a message (a cheap clone: payloads are reference counted).
pub(crate) fn to_ws(m: &Message) -> WsMessage {
    match m {
        Message::Text(t) => WsMessage::Text(t.clone()),
        Message::Binary(b) => WsMessage::Binary(b.clone()),
    }
}

fn lock(wire: &Mutex<Wire>) -> MutexGuard<'_, Wire> {
    wire.lock().unwrap_or_else(|e| e.into_inner())
}
