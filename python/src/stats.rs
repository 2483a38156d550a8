//! `client.stats()` and `client.history()` as plain, immutable Python objects.

use pyo3::prelude::*;

/// A snapshot of one client's counters (durations in seconds).
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Stats {
    pub attempts: u64,
    pub opens: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub queued_messages: usize,
    pub queued_bytes: usize,
    pub last_rtt: Option<f64>,
    pub last_close_code: Option<u16>,
    pub last_close_reason: Option<String>,
    pub time_connected: f64,
    pub time_disconnected: f64,
    /// `ip:port` the last link's TCP connection reached (the proxy's through a proxy).
    pub address: Option<String>,
}

#[pymethods]
impl Stats {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                format!(
            "Stats(attempts={}, opens={}, messages_in={}, messages_out={}, queued_messages={}, last_close_code={:?})",
            self.attempts, self.opens, self.messages_in, self.messages_out, self.queued_messages, self.last_close_code
        )
            })
        })
    }
}

/// One state change from the flight recorder; `at` is a Unix timestamp like `time.time()`.
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Transition {
    pub at: f64,
    pub from_state: String,
    pub to_state: String,
    pub cause: String,
}

#[pymethods]
impl Transition {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                format!(
                    "Transition(at={:.3}, from_state={:?}, to_state={:?}, cause={:?})",
                    self.at, self.from_state, self.to_state, self.cause
                )
            })
        })
    }
}
