//! The asyncio bridge (Unix): events reach the event loop without a thread or task of ours in
//! between.
//!
//! The loop thread polls the client's event stream itself (reading the socket while it has
//! caught up, as every consumer does) when the consumer asks (`async for`). When the poll finds
//! nothing, the stream keeps a waker that writes one byte to a socketpair the loop watches
//! (`loop.add_reader`); the engine's thread only writes that byte, never touches Python. A slow
//! consumer leaves events in the core's bounded buffer, and the core stops reading the socket
//! (backpressure).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use wstether::{Event, Events};

/// The stream's waker: one byte on the socketpair per wait.
struct Notify {
    /// Set when a byte is in flight (or about to be); cleared by the consumer before it polls.
    pending: AtomicBool,
    writer: UnixStream,
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            // Non-blocking; a full socket buffer already means "there is something to read".
            let _ = (&self.writer).write(&[1]);
        }
    }
}

/// The loop side of one client's bridge.
pub(crate) struct Pump {
    /// `None` once the stream has ended and its last event was taken.
    events: Mutex<Option<Events>>,
    notify: Arc<Notify>,
    waker: Waker,
    reader: UnixStream,
}

impl Pump {
    /// Bridge `events` to a socketpair the loop can watch.
    pub(crate) fn start(events: Events) -> std::io::Result<Pump> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let notify = Arc::new(Notify {
            pending: AtomicBool::new(false),
            writer,
        });
        let waker = Waker::from(notify.clone());
        Ok(Pump {
            events: Mutex::new(Some(events)),
            notify,
            waker,
            reader,
        })
    }

    /// The fd the event loop watches.
    pub(crate) fn fileno(&self) -> i32 {
        self.reader.as_raw_fd()
    }

    /// Empty the wake socket.
    pub(crate) fn ack(&self) {
        let mut buf = [0u8; 256];
        while matches!((&self.reader).read(&mut buf), Ok(n) if n > 0) {}
    }

    /// Take up to `max` events ready now (maybe none: a byte follows when more are ready);
    /// `None` once the stream has ended and everything was taken.
    pub(crate) fn drain(&self, max: usize) -> Option<Vec<Event>> {
        // Clear before looking, so an event pushed meanwhile always comes with a fresh byte.
        self.notify.pending.store(false, Ordering::Release);
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let stream = events.as_mut()?;
        let mut cx = Context::from_waker(&self.waker);
        match stream.poll_next_batch(&mut cx, max) {
            Poll::Ready(batch) if batch.is_empty() => {
                // Ended: dropping the stream releases the engine (and this waker).
                *events = None;
                None
            }
            Poll::Ready(batch) => Some(batch),
            Poll::Pending => Some(Vec::new()),
        }
    }
}
