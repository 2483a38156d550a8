//! A tungstenite WebSocket over the tokio stream, polled without per-message waker work.
//!
//! Why not tokio-tungstenite's `WebSocketStream`: it registers the caller's waker in two atomic
//! slots for every message it reads. When a binding's event thread reads 64-byte messages
//! itself (see `link`), that was a fifth of the thread's time. Here the stream always sees the
//! same two wakers, one per direction, and each forwards to whoever reads or writes now (the
//! supervisor's task, or the consumer's thread), set once per batch rather than per message.
//! The upgrade itself is ours (see `upgrade`); tungstenite takes over once it succeeded.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, WebSocket};
use tokio_tungstenite::MaybeTlsStream;

/// The transport under the WebSocket: TCP, or TLS over TCP.
pub(crate) type Transport = MaybeTlsStream<TcpStream>;

/// Whom to wake for one direction. The stream keeps the slot's waker for good; the slot's
/// content changes hands (supervisor task, consumer thread, `send()`'s flush waker).
#[derive(Default)]
struct Slot(Mutex<Option<Waker>>);

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

/// The transport seen as blocking-style `Read`/`Write` (tungstenite's interface): a pending
/// poll becomes `WouldBlock`, and readiness wakes whoever the direction's slot names.
struct Io {
    transport: Transport,
    read_waker: Waker,
    write_waker: Waker,
    /// When the last read returned bytes.
    last_read: Option<Instant>,
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        let mut cx = Context::from_waker(&self.read_waker);
        match Pin::new(&mut self.transport).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n > 0 {
                    self.last_read = Some(Instant::now());
                }
                Ok(n)
            }
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut cx = Context::from_waker(&self.write_waker);
        match Pin::new(&mut self.transport).poll_write(&mut cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut cx = Context::from_waker(&self.write_waker);
        match Pin::new(&mut self.transport).poll_flush(&mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// The open WebSocket: a `Sink` of messages like tokio-tungstenite's, and frames from
/// [`read`](Self::read), which wakes whoever [`set_reader`](Self::set_reader) last named.
pub(crate) struct Socket {
    ws: WebSocket<Io>,
    reader: Arc<Slot>,
    writer: Arc<Slot>,
    /// The last start_send hit a full socket: flush before accepting more.
    blocked: bool,
    /// `close` was queued; `poll_close` only flushes it.
    closing: bool,
    /// The stream returned its end or an error: it yields `None` from now on.
    ended: bool,
}

impl Socket {
    /// The open WebSocket over `transport`, whose upgrade already succeeded; `leftover` holds
    /// bytes that arrived behind the response head (the start of the first frames).
    pub fn new(transport: Transport, leftover: Vec<u8>, config: WebSocketConfig) -> Socket {
        let reader = Arc::new(Slot::default());
        let writer = Arc::new(Slot::default());
        let io = Io {
            transport,
            read_waker: Waker::from(reader.clone()),
            write_waker: Waker::from(writer.clone()),
            last_read: None,
        };
        let ws = WebSocket::from_partially_read(io, leftover, Role::Client, Some(config));
        Socket {
            ws,
            reader,
            writer,
            blocked: false,
            closing: false,
            ended: false,
        }
    }

    /// When bytes last arrived, complete frames or not: a large message that trickles in keeps
    /// the link alive while its frames are still incomplete.
    pub fn last_read(&self) -> Option<Instant> {
        self.ws.get_ref().last_read
    }

    /// Name who is woken when the socket becomes readable.
    pub fn set_reader(&self, waker: &Waker) {
        self.reader.set(waker);
    }

    /// The next frame, waiting for it (for code that owns the socket alone, like `probe`).
    pub async fn next_frame(&mut self) -> Option<Result<WsMessage, WsError>> {
        std::future::poll_fn(|cx| {
            self.set_reader(cx.waker());
            self.read()
        })
        .await
    }

    /// Read the next frame; `Pending` wakes the current reader when more arrives.
    pub fn read(&mut self) -> Poll<Option<Result<WsMessage, WsError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.ws.read() {
            Ok(m) => Poll::Ready(Some(Ok(m))),
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Err(e) => {
                self.ended = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn flush(&mut self, cx: &Context<'_>) -> Poll<Result<(), WsError>> {
        self.writer.set(cx.waker());
        match self.ws.flush() {
            Ok(()) => Poll::Ready(Ok(())),
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Sink<WsMessage> for Socket {
    type Error = WsError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        if !self.blocked {
            return Poll::Ready(Ok(()));
        }
        // The last message went into tungstenite's buffer but the socket was full: push it out.
        let polled = self.flush(cx);
        if polled.is_ready() {
            self.blocked = false;
        }
        polled
    }

    fn start_send(mut self: Pin<&mut Self>, item: WsMessage) -> Result<(), WsError> {
        match self.ws.write(item) {
            Ok(()) => Ok(()),
            // Queued in tungstenite's buffer; `poll_ready` flushes before the next one.
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.blocked = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let polled = self.flush(cx);
        if polled.is_ready() {
            self.blocked = false;
        }
        match polled {
            // The connection just closed: everything that could be flushed was.
            Poll::Ready(Err(WsError::ConnectionClosed)) => Poll::Ready(Ok(())),
            other => other,
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.blocked = false;
        self.writer.set(cx.waker());
        let done = if self.closing {
            self.ws.flush()
        } else {
            self.ws.close(None)
        };
        match done {
            Ok(()) | Err(WsError::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.closing = true;
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
