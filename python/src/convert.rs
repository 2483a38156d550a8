//! Every conversion between core types and Python values lives here.

use std::time::{Duration, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString};
use wstether::batch::Item;
use wstether::{Cause, Event, Message};

use crate::errors::IntoPyResult;
use crate::events;
use crate::stats;

/// Seconds (float) → `Duration`, with the core's typed error for negatives, NaN and values
/// over its longest duration.
pub(crate) fn secs(py: Python<'_>, option: &'static str, value: f64) -> PyResult<Duration> {
    wstether::config::duration_from_secs(option, value).py_err(py)
}

/// A count or size (a Python int, clamped to 64 bits by the package) → `usize`: negatives are
/// the core's typed error, and values too big saturate so that `build()` refuses them naming
/// the option's limit.
pub(crate) fn size(py: Python<'_>, option: &'static str, value: i64) -> PyResult<usize> {
    let n = wstether::config::count_from_i64(option, value).py_err(py)?;
    Ok(wstether::limits::saturating_usize(n))
}

/// [`size`] for the `u32` options (`max_retries`, `handshake_budget`).
pub(crate) fn count_u32(py: Python<'_>, option: &'static str, value: i64) -> PyResult<u32> {
    let n = wstether::config::count_from_i64(option, value).py_err(py)?;
    Ok(wstether::limits::saturating_u32(n))
}

/// Close codes or HTTP statuses (ints clamped to 64 bits) → `u16`s, refusing what does not fit.
pub(crate) fn u16_list(py: Python<'_>, option: &'static str, list: Vec<i64>) -> PyResult<Vec<u16>> {
    list.into_iter()
        .map(|n| {
            u16::try_from(n).map_err(|_| {
                crate::errors::to_py(
                    py,
                    wstether::Error::InvalidOption {
                        option,
                        reason: format!("{n} is not between 0 and 65535"),
                    },
                )
            })
        })
        .collect()
}

/// A close code from Python (an int clamped to 64 bits): what a `u16` cannot hold is refused
/// as the core refuses any other code a client may not send.
pub(crate) fn close_code(py: Python<'_>, code: i64) -> PyResult<u16> {
    u16::try_from(code).map_err(|_| crate::errors::close_code_out_of_range(py, code))
}

/// `str` → text message, `bytes`/`bytearray`/`memoryview` → binary message.
pub(crate) fn message_from_py(data: &Bound<'_, PyAny>) -> PyResult<Message> {
    if let Ok(s) = data.cast::<PyString>() {
        return Ok(Message::text(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(Message::Binary(bytes::Bytes::copy_from_slice(b.as_bytes())));
    }
    if let Ok(b) = data.cast::<PyByteArray>() {
        return Ok(Message::Binary(b.to_vec().into()));
    }
    // Anything else with the buffer protocol (memoryview, array.array, …) goes through bytes().
    let py = data.py();
    let builtins = py.import("builtins")?;
    match builtins.getattr("bytes")?.call1((data,)) {
        Ok(b) if !data.is_instance_of::<pyo3::types::PyInt>() => {
            let b = b.cast_into::<PyBytes>()?;
            Ok(Message::Binary(bytes::Bytes::copy_from_slice(b.as_bytes())))
        }
        _ => Err(crate::errors::invalid_type(
            py,
            format!(
                "a message must be str (text) or bytes-like (binary), not {}",
                data.get_type().name()?
            ),
        )),
    }
}

/// A message payload as Python sees it: `str` for text, `bytes` for binary.
#[inline]
pub(crate) fn message_data<'py>(py: Python<'py>, message: &Message) -> Bound<'py, PyAny> {
    match message {
        Message::Text(t) => PyString::new(py, t.as_str()).into_any(),
        Message::Binary(b) => PyBytes::new(py, b).into_any(),
    }
}

/// Take a `Message` out of the cycle collector's view. Its one field is a `str` or `bytes` and it
/// is frozen, so it can never be part of a cycle; but pyo3 makes every class collectable, and
/// an asyncio consumer holds thousands of them in a batch. Left tracked, each batch made the
/// collector walk them several times over (a tenth of the loop's time at 64 B).
fn untrack(message: &Bound<'_, events::Message>) {
    // SAFETY: a live object of a GC type; untracking one that is never in a cycle is what
    // CPython itself does for atomic tuples and dicts, and its dealloc untracks only if tracked.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(message.as_ptr().cast()) }
}

/// A batch item's payload as `str` or `bytes`, if it is a message.
pub(crate) fn item_data<'py>(py: Python<'py>, item: Item<'_>) -> Option<Bound<'py, PyAny>> {
    match item {
        Item::Text(text) => Some(PyString::new(py, text).into_any()),
        Item::Binary(bytes) => Some(PyBytes::new(py, bytes).into_any()),
        Item::Event(Event::Message(m)) => Some(message_data(py, m)),
        Item::Event(_) => None,
    }
}

/// A `Message` object around a payload made by [`message_data`].
pub(crate) fn message_to_py<'py>(
    py: Python<'py>,
    data: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let message = Bound::new(
        py,
        events::Message {
            data: data.unbind(),
        },
    )?;
    untrack(&message);
    Ok(message.into_any())
}

/// A list of payloads (for `unsent`).
pub(crate) fn messages_to_list<'py>(
    py: Python<'py>,
    messages: &[Message],
) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, messages.iter().map(|m| message_data(py, m)))
}

/// A core cause as a `Cause` object.
pub(crate) fn cause_to_py(py: Python<'_>, cause: &Cause) -> PyResult<Py<events::Cause>> {
    let mut out = events::Cause {
        kind: cause.kind().to_string(),
        message: cause.to_string(),
        code: None,
        reason: None,
        status: None,
        retry_after: None,
        attempts: None,
        elapsed: None,
        last: None,
        socks_reply: None,
    };
    match cause {
        Cause::Closed { code, reason } => {
            out.code = Some(*code);
            out.reason = Some(reason.clone());
        }
        Cause::HandshakeRejected {
            status,
            retry_after,
        } => {
            out.status = Some(*status);
            out.retry_after = retry_after.map(|d| d.as_secs_f64());
        }
        Cause::ProxyRejected { status } => out.status = Some(*status),
        Cause::SocksRejected { reply } => out.socks_reply = Some(*reply),
        Cause::RetriesExhausted { attempts, last } => {
            out.attempts = Some(*attempts);
            out.last = Some(cause_to_py(py, last)?);
        }
        Cause::ElapsedExhausted { elapsed, last } => {
            out.elapsed = Some(elapsed.as_secs_f64());
            out.last = Some(cause_to_py(py, last)?);
        }
        _ => {}
    }
    Py::new(py, out)
}

/// A core event as one of the event classes.
pub(crate) fn event_to_py<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyAny>> {
    let obj = match event {
        Event::Message(m) => message_to_py(py, message_data(py, m))?,
        Event::StateChanged { state } => Bound::new(
            py,
            events::StateChanged {
                state: state.as_str().to_string(),
            },
        )?
        .into_any(),
        Event::Connecting { attempt } => {
            Bound::new(py, events::Connecting { attempt: *attempt })?.into_any()
        }
        Event::Open {
            attempt,
            protocol,
            compression,
            address,
        } => Bound::new(
            py,
            events::Open {
                attempt: *attempt,
                protocol: protocol.clone(),
                compression: compression.clone(),
                address: address.map(|a| a.to_string()),
            },
        )?
        .into_any(),
        Event::Pong { rtt } => Bound::new(
            py,
            events::Pong {
                rtt: rtt.as_secs_f64(),
            },
        )?
        .into_any(),
        Event::Closed {
            code,
            reason,
            initiator,
            will_reconnect,
        } => Bound::new(
            py,
            events::Closed {
                code: *code,
                reason: reason.clone(),
                initiator: initiator.as_str().to_string(),
                will_reconnect: *will_reconnect,
            },
        )?
        .into_any(),
        Event::Reconnecting {
            attempt,
            delay,
            cause,
        } => Bound::new(
            py,
            events::Reconnecting {
                attempt: *attempt,
                delay: delay.as_secs_f64(),
                cause: cause_to_py(py, cause)?,
            },
        )?
        .into_any(),
        Event::Error { kind, message } => Bound::new(
            py,
            events::ErrorEvent {
                kind: kind.as_str().to_string(),
                message: message.clone(),
            },
        )?
        .into_any(),
        Event::Failed { reason, unsent } => Bound::new(
            py,
            events::Failed {
                reason: cause_to_py(py, reason)?,
                unsent: messages_to_list(py, unsent)?.into_any().unbind(),
            },
        )?
        .into_any(),
    };
    Ok(obj)
}

/// Core stats → `Stats`.
pub(crate) fn stats_to_py(s: wstether::Stats) -> stats::Stats {
    stats::Stats {
        attempts: s.attempts,
        opens: s.opens,
        messages_in: s.messages_in,
        messages_out: s.messages_out,
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
        queued_messages: s.queued_messages,
        queued_bytes: s.queued_bytes,
        last_rtt: s.last_rtt.map(|d| d.as_secs_f64()),
        last_close_code: s.last_close.as_ref().map(|c| c.code),
        last_close_reason: s.last_close.map(|c| c.reason),
        time_connected: s.time_connected.as_secs_f64(),
        time_disconnected: s.time_disconnected.as_secs_f64(),
        address: s.address.map(|a| a.to_string()),
    }
}

/// Core transition → `Transition`.
pub(crate) fn transition_to_py(t: wstether::Transition) -> stats::Transition {
    stats::Transition {
        at: t
            .at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        from_state: t.from.as_str().to_string(),
        to_state: t.to.as_str().to_string(),
        cause: t.cause,
    }
}

/// Auth/greeting results: a list of `(name, value)` pairs.
pub(crate) fn header_pairs(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    obj.extract::<Vec<(String, String)>>()
}

/// A sequence of `str | bytes` → messages.
pub(crate) fn messages_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Message>> {
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        out.push(message_from_py(&item?)?);
    }
    Ok(out)
}

/// The package's compression tuple (`None`: off) → the core's options. Window bits arrive as
/// ints clamped to 64 bits; the core checks the range (`Compression::validate`, in `build()`).
pub(crate) fn compression(
    py: Python<'_>,
    args: Option<crate::client::CompressionArgs>,
) -> PyResult<wstether::Compression> {
    let Some((client_bits, server_bits, client_nct, server_nct)) = args else {
        return Ok(wstether::Compression::disabled());
    };
    let bits = |option: &'static str, min: u8, v: Option<i64>| -> PyResult<Option<u8>> {
        v.map(|b| {
            u8::try_from(b).map_err(|_| {
                crate::errors::to_py(
                    py,
                    wstether::Error::InvalidOption {
                        option,
                        reason: format!(
                            "must be {min} to {} (got {b})",
                            wstether::limits::MAX_WINDOW_BITS
                        ),
                    },
                )
            })
        })
        .transpose()
    };
    Ok(wstether::Compression {
        client_max_window_bits: bits(
            "compression.client_max_window_bits",
            wstether::limits::MIN_CLIENT_WINDOW_BITS,
            client_bits,
        )?,
        server_max_window_bits: bits(
            "compression.server_max_window_bits",
            wstether::limits::MIN_SERVER_WINDOW_BITS,
            server_bits,
        )?,
        client_no_context_takeover: client_nct,
        server_no_context_takeover: server_nct,
        ..wstether::Compression::default()
    })
}
