//! Counters and the flight recorder, written by the engine and read by `stats()`/`history()`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::time::Time;

use crate::event::State;

/// How many state changes `history()` keeps.
pub const HISTORY_LEN: usize = 64;

/// The code and reason of a link's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseInfo {
    /// Close code (1006 when none was exchanged).
    pub code: u16,
    /// Close reason.
    pub reason: String,
}

/// A snapshot of one client's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Attempts made (each TCP + handshake try).
    pub attempts: u64,
    /// Links opened.
    pub opens: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages written (greeting included).
    pub messages_out: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes written.
    pub bytes_out: u64,
    /// Messages waiting in the outbox.
    pub queued_messages: usize,
    /// Bytes waiting in the outbox.
    pub queued_bytes: usize,
    /// Round trip of the last answered heartbeat.
    pub last_rtt: Option<Duration>,
    /// How the last link ended.
    pub last_close: Option<CloseInfo>,
    /// Total time with an open link.
    pub time_connected: Duration,
    /// Total time without one (since the first `connect()`).
    pub time_disconnected: Duration,
    /// The address the last link's TCP connection reached (the server's, or the proxy's when
    /// the link goes through one).
    pub address: Option<std::net::SocketAddr>,
}

/// One state change, for the flight recorder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Wall-clock time of the change.
    pub at: SystemTime,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why (secrets redacted).
    pub cause: String,
}

#[derive(Default)]
struct Timing {
    open_since: Option<Time>,
    down_since: Option<Time>,
    connected: Duration,
    disconnected: Duration,
}

/// Counters updated by the driver, read by any thread: what `stats()` and `history()` report.
#[derive(Default)]
pub struct Counters {
    /// Attempts made.
    pub attempts: AtomicU64,
    /// Links opened.
    pub opens: AtomicU64,
    /// Messages received.
    pub messages_in: AtomicU64,
    /// Messages written.
    pub messages_out: AtomicU64,
    /// Payload bytes received.
    pub bytes_in: AtomicU64,
    /// Payload bytes written.
    pub bytes_out: AtomicU64,
    last_rtt_micros: AtomicU64,
    last_close: Mutex<Option<CloseInfo>>,
    address: Mutex<Option<std::net::SocketAddr>>,
    timing: Mutex<Timing>,
    history: Mutex<VecDeque<Transition>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Counters {
    /// Count messages received and their payload bytes.
    pub fn add_in(&self, messages: u64, bytes: u64) {
        self.messages_in.fetch_add(messages, Relaxed);
        self.bytes_in.fetch_add(bytes, Relaxed);
    }

    /// Count messages written and their payload bytes.
    pub fn add_out(&self, messages: usize, bytes: usize) {
        self.messages_out.fetch_add(messages as u64, Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
    }

    /// Remember the last heartbeat's round trip.
    pub fn set_rtt(&self, rtt: Duration) {
        self.last_rtt_micros
            .store(rtt.as_micros().max(1) as u64, Relaxed);
    }

    /// Remember how the last link ended.
    pub fn set_close(&self, code: u16, reason: &str) {
        *lock(&self.last_close) = Some(CloseInfo {
            code,
            reason: reason.to_string(),
        });
    }

    /// Remember the address the last link's TCP connection reached.
    pub fn set_address(&self, address: Option<std::net::SocketAddr>) {
        *lock(&self.address) = address;
    }

    /// Record a state change at `now` (the machine's time; `wall` is the same instant on the
    /// wall clock, for the flight recorder): the history and the connected/disconnected clocks.
    pub fn record(&self, from: State, to: State, cause: &str, now: Time, wall: SystemTime) {
        {
            let mut t = lock(&self.timing);
            if let Some(s) = t.open_since.take() {
                t.connected += now.since(s);
            }
            if let Some(s) = t.down_since.take() {
                t.disconnected += now.since(s);
            }
            match to {
                State::Open => t.open_since = Some(now),
                State::Connecting | State::Waiting => t.down_since = Some(now),
                _ => {}
            }
        }
        let mut h = lock(&self.history);
        if h.len() == HISTORY_LEN {
            h.pop_front();
        }
        h.push_back(Transition {
            at: wall,
            from,
            to,
            cause: cause.to_string(),
        });
    }

    /// The flight recorder, oldest first.
    pub fn history(&self) -> Vec<Transition> {
        lock(&self.history).iter().cloned().collect()
    }

    /// The counters at `now`.
    pub fn snapshot(&self, queued_messages: usize, queued_bytes: usize, now: Time) -> Stats {
        let t = lock(&self.timing);
        let rtt = self.last_rtt_micros.load(Relaxed);
        Stats {
            attempts: self.attempts.load(Relaxed),
            opens: self.opens.load(Relaxed),
            messages_in: self.messages_in.load(Relaxed),
            messages_out: self.messages_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            queued_messages,
            queued_bytes,
            last_rtt: (rtt > 0).then(|| Duration::from_micros(rtt)),
            last_close: lock(&self.last_close).clone(),
            address: *lock(&self.address),
            time_connected: t.connected + t.open_since.map_or(Duration::ZERO, |s| now.since(s)),
            time_disconnected: t.disconnected
                + t.down_since.map_or(Duration::ZERO, |s| now.since(s)),
        }
    }
}
