//! The open link's socket, shared by the supervisor and `send()`.
//!
//! Why share it: a round trip that starts on the app's thread (Node's event loop, Python's
//! asyncio loop, a Kotlin coroutine) used to hand each message to the supervisor's task and wake
//! a runtime thread to write it. When the link is idle (nothing queued, nothing being written),
//! `send()` now writes the frame itself, on the caller's thread, as `ws` and `websockets` do.
//! The supervisor still owns the link: it reads, pings, closes, and finishes any write a sender
//! left half done. Each poll holds the lock only while it runs, so neither side waits on the
//! other for longer than one non-blocking socket call.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::{Sink, SinkExt, Stream};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use crate::client::Shared;
use crate::connect::Socket;
use crate::event::Message;

/// The socket behind a lock taken once per poll. The supervisor reads and writes through it
/// with the usual `StreamExt`/`SinkExt` methods.
pub(crate) struct SharedSocket(Arc<Mutex<Socket>>);

impl SharedSocket {
    pub fn new(socket: Socket) -> Self {
        SharedSocket(Arc::new(Mutex::new(socket)))
    }

    /// A handle `send()` can write through while this link is published.
    pub fn direct(&self, shared: &Arc<Shared>) -> DirectLink {
        DirectLink {
            socket: self.0.clone(),
            flush_waker: Waker::from(Arc::new(FlushWaker(Arc::downgrade(shared)))),
        }
    }

    /// Send a close frame and flush it (the closing handshake's first half).
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), WsError> {
        self.send(WsMessage::Close(frame)).await
    }

    fn lock(&self) -> MutexGuard<'_, Socket> {
        lock(&self.0)
    }
}

impl Stream for SharedSocket {
    type Item = Result<WsMessage, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.lock()).poll_next(cx)
    }
}

impl Sink<WsMessage> for SharedSocket {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.lock()).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: WsMessage) -> Result<(), WsError> {
        Pin::new(&mut *self.lock()).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.lock()).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.lock()).poll_close(cx)
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

/// The published link: the socket plus the waker that hands an unfinished flush to the
/// supervisor.
pub(crate) struct DirectLink {
    socket: Arc<Mutex<Socket>>,
    flush_waker: Waker,
}

impl DirectLink {
    /// Write `message` now if nobody else is using the socket. Never blocks: a busy socket
    /// (the supervisor is mid-poll) means `NotTaken`.
    pub fn try_write(&self, message: &Message) -> Direct {
        let mut socket = match self.socket.try_lock() {
            Ok(socket) => socket,
            Err(_) => return Direct::NotTaken,
        };
        let mut socket = Pin::new(&mut *socket);
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

fn lock(socket: &Mutex<Socket>) -> MutexGuard<'_, Socket> {
    socket.lock().unwrap_or_else(|e| e.into_inner())
}
