//! The clients' sockets as the dispatcher's own threads watch them (Linux and Android).
//!
//! A worker with nothing to do waits in [`Sockets::wait`] for any client's socket to become
//! readable, so an arrival wakes the thread that will read it and run its callbacks, not a
//! runtime thread that then wakes that one (each client's stream is put in
//! `Events::read_on_own_loop` mode). While every worker is inside a batch nobody waits on
//! the sockets; the [`Alarm`] then wakes the watcher after `STALL`, which looks at them
//! itself, so a blocked callback still cannot hold another client's arrivals for good.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Token};

/// The workers' poll's token for a ring ([`Sockets::ring`]).
const RING: Token = Token(0);
/// The watcher's poll's tokens.
const BELL: Token = Token(0);
const ALARM: Token = Token(1);

fn lock<U>(m: &Mutex<U>) -> MutexGuard<'_, U> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A poll and the buffer its events land in.
struct Poller {
    poll: mio::Poll,
    events: mio::Events,
}

impl Poller {
    fn new() -> io::Result<Poller> {
        Ok(Poller {
            poll: mio::Poll::new()?,
            events: mio::Events::with_capacity(256),
        })
    }

    /// Wait at most `timeout` (`None`: until something happens); the tokens that fired.
    fn wait(&mut self, timeout: Option<Duration>) -> impl Iterator<Item = Token> + '_ {
        if self.poll.poll(&mut self.events, timeout).is_err() {
            // Interrupted: the caller looks at its state again.
            self.events.clear();
        }
        self.events.iter().map(|e| e.token())
    }
}

/// Every client's socket, and where the watcher waits. `S` is the dispatcher's slot.
pub(super) struct Sockets<S> {
    workers: Mutex<Poller>,
    registry: mio::Registry,
    ring: mio::Waker,
    /// Each token's slot (tokens from 1; 0 is the ring).
    slots: Mutex<HashMap<usize, Weak<S>>>,
    watcher: Mutex<Poller>,
    bell: mio::Waker,
    alarm: Alarm,
}

impl<S> Sockets<S> {
    /// `None` where a poll cannot be made: the runtime then watches the sockets, as elsewhere.
    pub(super) fn new() -> Option<Sockets<S>> {
        let make = || -> io::Result<Sockets<S>> {
            let workers = Poller::new()?;
            let registry = workers.poll.registry().try_clone()?;
            let ring = mio::Waker::new(&registry, RING)?;
            let watcher = Poller::new()?;
            let bell = mio::Waker::new(watcher.poll.registry(), BELL)?;
            let alarm = Alarm::new()?;
            watcher.poll.registry().register(
                &mut SourceFd(&alarm.fd.as_raw_fd()),
                ALARM,
                Interest::READABLE,
            )?;
            Ok(Sockets {
                workers: Mutex::new(workers),
                registry,
                ring,
                slots: Mutex::new(HashMap::new()),
                watcher: Mutex::new(watcher),
                bell,
                alarm,
            })
        };
        match make() {
            Ok(sockets) => Some(sockets),
            Err(e) => {
                tracing::debug!(target: "wstether", error = %e, "dispatcher: no poll of its own, the runtime watches the sockets");
                None
            }
        }
    }

    /// Start watching `fd` (a duplicate the slot owns) for slot `id`.
    pub(super) fn watch(&self, id: usize, slot: Weak<S>, fd: RawFd) -> io::Result<()> {
        self.registry
            .register(&mut SourceFd(&fd), Token(id), Interest::READABLE)?;
        lock(&self.slots).insert(id, slot);
        Ok(())
    }

    /// Stop watching slot `id`'s `fd` (before the slot closes it: the engine's own descriptor
    /// keeps the socket alive, and the poll would go on reporting it).
    pub(super) fn unwatch(&self, id: usize, fd: RawFd) {
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        lock(&self.slots).remove(&id);
    }

    /// How many slots are watched.
    #[cfg(test)]
    pub(super) fn watched(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Wait at most `timeout` for readable sockets (or a ring): their slots.
    pub(super) fn wait(&self, timeout: Option<Duration>) -> Vec<Arc<S>> {
        let mut workers = lock(&self.workers);
        let tokens: Vec<Token> = workers.wait(timeout).filter(|t| *t != RING).collect();
        drop(workers);
        if tokens.is_empty() {
            return Vec::new();
        }
        let slots = lock(&self.slots);
        tokens
            .into_iter()
            .filter_map(|t| slots.get(&t.0)?.upgrade())
            .collect()
    }

    /// Wake the worker waiting in [`wait`](Self::wait).
    pub(super) fn ring(&self) {
        let _ = self.ring.wake();
    }

    /// Where the watcher waits, at most `timeout`, for [`bell`](Self::bell) or the alarm.
    pub(super) fn watcher_wait(&self, timeout: Option<Duration>) {
        let mut watcher = lock(&self.watcher);
        let alarm = watcher.wait(timeout).any(|t| t == ALARM);
        drop(watcher);
        if alarm {
            self.alarm.take();
        }
    }

    /// Wake the watcher.
    pub(super) fn bell(&self) {
        let _ = self.bell.wake();
    }

    /// Wake the watcher after `after`, unless [`disarm`](Self::disarm)ed first.
    pub(super) fn arm(&self, after: Duration) {
        self.alarm.set(after);
    }

    pub(super) fn disarm(&self) {
        self.alarm.set(Duration::ZERO);
    }
}

/// A one-shot timer the watcher's poll watches (a timerfd): setting it costs one system call
/// and wakes no thread, unlike asking a timer thread.
struct Alarm {
    fd: OwnedFd,
}

impl Alarm {
    fn new() -> io::Result<Alarm> {
        // SAFETY: plain system call; the descriptor is owned from here on.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        Ok(Alarm {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Fire once after `after`; zero disarms.
    fn set(&self, after: Duration) {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd and a valid `itimerspec`; the old value is not asked for.
        unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    }

    /// Clear a fired alarm (the poll watches it edge-triggered, but a count left unread would
    /// keep it readable).
    fn take(&self) {
        let mut count = 0u64;
        // SAFETY: reads at most 8 bytes into `count`; non-blocking.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut count as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}
