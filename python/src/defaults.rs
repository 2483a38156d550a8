//! The core's defaults and limits as plain dicts, so the Python package states no number of
//! its own (`wstether/options.py` builds its dataclass defaults and `LIMITS` from these).

use pyo3::prelude::*;
use pyo3::types::PyDict;
use wstether::{config, limits, Backoff, Heartbeat, OutboxLimits, TerminalPolicy};

/// Register `_defaults()`, `_limits()` and `_check_seconds()` on the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(_limits, m)?)?;
    m.add_function(wrap_pyfunction!(_check_seconds, m)?)?;
    Ok(())
}

/// Every option's default, durations in seconds: `{"connect_timeout": 10.0, "backoff": {...}, ...}`.
#[pyfunction]
fn _defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    crate::errors::guard(py, || {
        let b = Backoff::default();
        let hb = Heartbeat::default();
        let outbox = OutboxLimits::default();
        let terminal = TerminalPolicy::default();
        let backoff = PyDict::new(py);
        backoff.set_item("initial", b.initial.as_secs_f64())?;
        backoff.set_item("max", b.max.as_secs_f64())?;
        backoff.set_item("factor", b.factor)?;
        backoff.set_item("jitter", b.jitter)?;
        backoff.set_item("stable_after", b.stable_after.as_secs_f64())?;
        let heartbeat = PyDict::new(py);
        heartbeat.set_item("interval", hb.interval.as_secs_f64())?;
        heartbeat.set_item("timeout", hb.timeout.as_secs_f64())?;
        let out = PyDict::new(py);
        out.set_item(
            "connect_timeout",
            config::DEFAULT_CONNECT_TIMEOUT.as_secs_f64(),
        )?;
        out.set_item("backoff", backoff)?;
        out.set_item("heartbeat", heartbeat)?;
        out.set_item("outbox_max_messages", outbox.max_messages)?;
        out.set_item("outbox_max_bytes", outbox.max_bytes)?;
        out.set_item("handshake_budget", config::DEFAULT_HANDSHAKE_BUDGET)?;
        out.set_item("terminal_close_codes", terminal.close_codes)?;
        out.set_item("terminal_statuses", terminal.statuses)?;
        out.set_item("max_message_size", config::DEFAULT_MAX_MESSAGE_SIZE)?;
        out.set_item("event_buffer", config::DEFAULT_EVENT_BUFFER)?;
        out.set_item("close_timeout", config::DEFAULT_CLOSE_TIMEOUT.as_secs_f64())?;
        let c = wstether::Compression::default();
        let compression = PyDict::new(py);
        compression.set_item("enabled", c.enabled)?;
        compression.set_item("client_max_window_bits", c.client_max_window_bits)?;
        compression.set_item("server_max_window_bits", c.server_max_window_bits)?;
        compression.set_item("client_no_context_takeover", c.client_no_context_takeover)?;
        compression.set_item("server_no_context_takeover", c.server_no_context_takeover)?;
        out.set_item("compression", compression)?;
        Ok(out)
    })
}

/// The largest value each option accepts (durations in seconds).
#[pyfunction]
fn _limits(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    crate::errors::guard(py, || {
        let out = PyDict::new(py);
        out.set_item("max_duration", limits::MAX_DURATION.as_secs_f64())?;
        out.set_item("max_message_size", limits::MAX_MESSAGE_SIZE)?;
        out.set_item("max_outbox_messages", limits::MAX_OUTBOX_MESSAGES)?;
        out.set_item("max_outbox_bytes", limits::MAX_OUTBOX_BYTES)?;
        out.set_item("max_event_buffer", limits::MAX_EVENT_BUFFER)?;
        out.set_item("max_handshake_budget", limits::MAX_HANDSHAKE_BUDGET)?;
        out.set_item("max_retries", limits::MAX_RETRIES)?;
        out.set_item("max_window_bits", limits::MAX_WINDOW_BITS)?;
        out.set_item("min_client_window_bits", limits::MIN_CLIENT_WINDOW_BITS)?;
        out.set_item("min_server_window_bits", limits::MIN_SERVER_WINDOW_BITS)?;
        Ok(out)
    })
}

/// Raise the core's `InvalidOption` if `seconds` is negative, NaN or over the longest
/// duration (the option dataclasses call it so a bad value fails where it is written).
#[pyfunction]
fn _check_seconds(py: Python<'_>, option: &str, seconds: f64) -> PyResult<()> {
    crate::errors::guard(py, || {
        // The core names options with `&'static str`: the option types pass one of theirs.
        let option = OPTION_NAMES
            .iter()
            .copied()
            .find(|n| *n == option)
            .unwrap_or("duration");
        crate::convert::secs(py, option, seconds).map(|_| ())
    })
}

/// The duration options `check_seconds` is called for.
const OPTION_NAMES: &[&str] = &[
    "backoff.initial",
    "backoff.max",
    "backoff.stable_after",
    "heartbeat.interval",
    "heartbeat.timeout",
];
