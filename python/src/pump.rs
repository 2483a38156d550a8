//! The asyncio bridge (Unix): events reach the event loop without a thread of ours in between.
//!
//! A tokio task moves events from the core stream into a bounded channel and, when the loop
//! may be asleep, writes one byte to a socketpair the loop watches (`loop.add_reader`). The
//! tokio side never touches Python: it only writes a byte. The loop thread takes events from
//! the channel only when the consumer asks (`async for`), so a slow consumer fills the channel,
//! the task stops taking from the core, and the core stops reading the socket (backpressure).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{self, error::TryRecvError};
use wstether::{Event, Events};

/// Events moved per step.
const STEP: usize = 1024;

/// State shared by the forwarding task and the loop side.
struct Wake {
    /// Set when a byte is in flight (or about to be); cleared by the consumer before it drains.
    pending: AtomicBool,
    /// The forwarding task is done (the stream ended); the channel holds what is left.
    finished: AtomicBool,
    writer: UnixStream,
}

impl Wake {
    fn notify(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            // Non-blocking; a full socket buffer already means "there is something to read".
            let _ = (&self.writer).write(&[1]);
        }
    }
}

/// The loop side of one client's bridge.
pub(crate) struct Pump {
    rx: Mutex<mpsc::Receiver<Event>>,
    wake: Arc<Wake>,
    reader: UnixStream,
}

impl Pump {
    /// Start forwarding `events` with room for `capacity` events in between.
    pub(crate) fn start(mut events: Events, capacity: usize) -> std::io::Result<Pump> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let wake = Arc::new(Wake {
            pending: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            writer,
        });
        let (tx, rx) = mpsc::channel(capacity.max(STEP));
        let task_wake = wake.clone();
        wstether::runtime::handle().spawn(async move {
            'stream: loop {
                let batch = events.next_batch(STEP).await;
                if batch.is_empty() {
                    break;
                }
                for event in batch {
                    match tx.try_send(event) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(event)) => {
                            // Wake the consumer before waiting for room, or both would wait.
                            task_wake.notify();
                            if tx.send(event).await.is_err() {
                                break 'stream;
                            }
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => break 'stream,
                    }
                }
                task_wake.notify();
            }
            drop(tx);
            task_wake.finished.store(true, Ordering::Release);
            task_wake.pending.store(false, Ordering::Release);
            task_wake.notify();
        });
        Ok(Pump {
            rx: Mutex::new(rx),
            wake,
            reader,
        })
    }

    /// The fd the event loop watches.
    pub(crate) fn fileno(&self) -> i32 {
        self.reader.as_raw_fd()
    }

    /// Empty the wake socket; returns whether the forwarding task has finished.
    pub(crate) fn ack(&self) -> bool {
        let mut buf = [0u8; 256];
        while matches!((&self.reader).read(&mut buf), Ok(n) if n > 0) {}
        self.wake.finished.load(Ordering::Acquire)
    }

    /// Take up to `max` events now; `None` once the stream has ended and everything was taken.
    pub(crate) fn drain(&self, max: usize) -> Option<Vec<Event>> {
        // Clear before looking, so an event pushed meanwhile always comes with a fresh wake.
        self.wake.pending.store(false, Ordering::Release);
        let mut rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        while out.len() < max {
            match rx.try_recv() {
                Ok(ev) => out.push(ev),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) if out.is_empty() => return None,
                Err(TryRecvError::Disconnected) => break,
            }
        }
        Some(out)
    }
}
