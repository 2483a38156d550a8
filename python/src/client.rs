//! `NativeClient`: the core `Client` plus the loops that move its events to Python.
//!
//! The callback API hands the stream to the process's shared dispatcher (`dispatch.rs`); the
//! asyncio API uses the fd bridge (`pump.rs`), or on other platforms a batch loop on a thread
//! of its own that waits with the GIL released and gives each batch to a sink.

use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use wstether::{
    AppPing, Backoff, Client, Events, Heartbeat, OutboxLimits, PongMatch, SendStatus,
    TerminalPolicy,
};

use crate::auth;
use crate::convert;
use crate::errors::{guard, IntoPyResult};
use crate::stats::{Stats, Transition};

/// `(interval, timeout, app_ping payload, pong text, pong matches by "contains")`.
type HeartbeatArgs<'py> = (f64, f64, Option<Bound<'py, PyAny>>, Option<String>, bool);

/// `(client_max_window_bits, server_max_window_bits, client_no_context_takeover,
/// server_no_context_takeover)`; `None` turns compression off.
pub(crate) type CompressionArgs = (Option<i64>, Option<i64>, bool, bool);

/// Most events taken from the core per crossing.
const BATCH: usize = 4096;

/// A wstether client. Built by `wstether.Client` / `wstether.AsyncClient`, not by users.
#[pyclass(frozen, module = "wstether._native")]
pub struct NativeClient {
    client: Client,
    /// The event stream until the dispatcher takes it (once).
    events: Mutex<Option<Events>>,
    /// The callback API's slot in the shared dispatcher, once started.
    dispatch: std::sync::OnceLock<wstether::dispatch::Handle<crate::dispatch::Target>>,
    /// The asyncio bridge, once started.
    #[cfg(unix)]
    pump: std::sync::OnceLock<crate::pump::Pump>,
}

impl NativeClient {
    fn take_events(&self, py: Python<'_>) -> PyResult<Events> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(wstether::Error::EventsTaken)
            .py_err(py)
    }
}

#[pymethods]
impl NativeClient {
    /// Validate every option and build the core client (idle until `connect()`). Counts and
    /// sizes arrive as ints clamped to 64 bits; every range check is the core's.
    #[new]
    #[pyo3(signature = (url, *, protocols, headers, auth, connect_timeout, backoff, max_retries,
        max_elapsed, heartbeat, outbox, handshake_budget, greeting, greeting_provider,
        terminal, max_message_size, ca_pem, event_buffer, close_timeout, require_protocol,
        compression, transport))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: String,
        protocols: Vec<String>,
        headers: Vec<(String, String)>,
        auth: Option<Py<PyAny>>,
        connect_timeout: f64,
        backoff: (f64, f64, f64, f64, f64),
        max_retries: Option<i64>,
        max_elapsed: Option<f64>,
        heartbeat: Option<HeartbeatArgs<'_>>,
        outbox: (i64, i64),
        handshake_budget: Option<i64>,
        greeting: Option<Bound<'_, PyAny>>,
        greeting_provider: Option<Py<PyAny>>,
        terminal: (Vec<i64>, Vec<i64>),
        max_message_size: i64,
        ca_pem: Option<String>,
        event_buffer: i64,
        close_timeout: f64,
        require_protocol: bool,
        compression: Option<CompressionArgs>,
        transport: crate::transport::TransportArgs,
    ) -> PyResult<Self> {
        guard(py, || {
            let (initial, max, factor, jitter, stable_after) = backoff;
            let mut b = Client::builder(url)
                .protocols(protocols)
                .connect_timeout(convert::secs(py, "connect_timeout", connect_timeout)?)
                .backoff(Backoff {
                    initial: convert::secs(py, "backoff.initial", initial)?,
                    max: convert::secs(py, "backoff.max", max)?,
                    factor,
                    jitter,
                    stable_after: convert::secs(py, "backoff.stable_after", stable_after)?,
                })
                .max_retries(match max_retries {
                    Some(n) => Some(convert::count_u32(py, "max_retries", n)?),
                    None => None,
                })
                .max_elapsed(match max_elapsed {
                    Some(s) => Some(convert::secs(py, "max_elapsed", s)?),
                    None => None,
                })
                .outbox(OutboxLimits {
                    max_messages: convert::size(py, "outbox.max_messages", outbox.0)?,
                    max_bytes: convert::size(py, "outbox.max_bytes", outbox.1)?,
                })
                .handshake_budget(match handshake_budget {
                    Some(n) => Some(convert::count_u32(py, "handshake_budget", n)?),
                    None => None,
                })
                .terminal(TerminalPolicy {
                    close_codes: convert::u16_list(py, "terminal.close_codes", terminal.0)?,
                    statuses: convert::u16_list(py, "terminal.statuses", terminal.1)?,
                })
                .max_message_size(convert::size(py, "max_message_size", max_message_size)?)
                .event_buffer(convert::size(py, "event_buffer", event_buffer)?)
                .close_timeout(convert::secs(py, "close_timeout", close_timeout)?)
                .require_protocol(require_protocol)
                .compression(convert::compression(py, compression)?)
                .runtime(wstether::runtime::handle());
            for (name, value) in headers {
                b = b.header(name, value);
            }
            if let Some(auth) = auth {
                b = b.auth(auth::PyAuth::new(auth));
            }
            b = b.heartbeat(match heartbeat {
                None => None,
                Some((interval, timeout, app_ping, pong, contains)) => Some(Heartbeat {
                    interval: convert::secs(py, "heartbeat.interval", interval)?,
                    timeout: convert::secs(py, "heartbeat.timeout", timeout)?,
                    app_ping: match (app_ping, pong) {
                        (Some(payload), Some(pong)) => Some(AppPing {
                            payload: convert::message_from_py(&payload)?,
                            pong: if contains {
                                PongMatch::Contains(pong)
                            } else {
                                PongMatch::Exact(pong)
                            },
                        }),
                        (None, None) => None,
                        _ => {
                            return Err(crate::errors::to_py(
                                py,
                                wstether::Error::InvalidOption {
                                    option: "heartbeat.app_ping",
                                    reason: "app_ping and pong must be given together".into(),
                                },
                            ))
                        }
                    },
                }),
            });
            if let Some(messages) = greeting {
                b = b.greeting(convert::messages_from_py(&messages)?);
            }
            if let Some(provider) = greeting_provider {
                b = b.greeting_async(auth::greeting_provider(provider));
            }
            if let Some(pem) = ca_pem {
                b = b.add_root_certificate_pem(pem);
            }
            b = crate::transport::apply(py, b, transport)?;
            let client = b.build().py_err(py)?;
            let events = client.events().py_err(py)?;
            Ok(NativeClient {
                client,
                events: Mutex::new(Some(events)),
                dispatch: std::sync::OnceLock::new(),
                #[cfg(unix)]
                pump: std::sync::OnceLock::new(),
            })
        })
    }

    /// Start connecting (does nothing while connecting or open).
    fn connect(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || self.client.connect().py_err(py))
    }

    /// Queue `data` (str → text, bytes-like → binary); returns "sent" or "queued".
    fn send<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyString>> {
        guard(py, || {
            let message = convert::message_from_py(data)?;
            Ok(match self.client.send(message).py_err(py)? {
                SendStatus::Sent => intern!(py, "sent").clone(),
                SendStatus::Queued => intern!(py, "queued").clone(),
            })
        })
    }

    /// Close and wait (GIL released) for the client's task; returns the unsent payloads. `code`
    /// arrives clamped to 64 bits; what a `u16` cannot hold is `InvalidCloseCode`.
    fn close<'py>(&self, py: Python<'py>, code: i64, reason: &str) -> PyResult<Bound<'py, PyList>> {
        guard(py, || {
            let code = convert::close_code(py, code)?;
            let client = self.client.clone();
            let reason = reason.to_string();
            let unsent = py
                .detach(move || wstether::runtime::handle().block_on(client.close(code, &reason)))
                .py_err(py)?;
            convert::messages_to_list(py, &unsent)
        })
    }

    /// Close the link and stay disconnected until `resume()`.
    fn pause(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || self.client.pause().py_err(py))
    }

    /// Leave `paused` and connect at once.
    fn resume(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || self.client.resume().py_err(py))
    }

    /// Move to `url` at once (a server-directed reconnect).
    fn reconnect_to(&self, py: Python<'_>, url: &str) -> PyResult<()> {
        guard(py, || self.client.reconnect_to(url).py_err(py))
    }

    /// Skip the current backoff delay.
    fn reconnect_now(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || self.client.reconnect_now().py_err(py))
    }

    /// The network changed: verify the link now.
    fn network_changed(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || self.client.network_changed().py_err(py))
    }

    /// The current state name.
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<&'static str> {
        guard(py, || Ok(self.client.state().as_str()))
    }

    /// A snapshot of the counters.
    fn stats(&self, py: Python<'_>) -> PyResult<Stats> {
        guard(py, || Ok(convert::stats_to_py(self.client.stats())))
    }

    /// The last state changes, oldest first.
    fn history(&self, py: Python<'_>) -> PyResult<Vec<Transition>> {
        guard(py, || {
            Ok(self
                .client
                .history()
                .into_iter()
                .map(convert::transition_to_py)
                .collect())
        })
    }

    /// The URL with secrets redacted.
    #[getter]
    fn url(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || Ok(self.client.config().redacted_url()))
    }

    /// The callback API: deliver every event to `target.on_*` on the process's shared
    /// dispatcher threads (`wstether/_dispatch.py`) until the stream ends. Once per client.
    fn dispatch_callbacks(&self, py: Python<'_>, target: Py<PyAny>) -> PyResult<()> {
        guard(py, || {
            let events = self.take_events(py)?;
            let handle = crate::dispatch::shared().add(events, Mutex::new(Some(target)));
            let _ = self.dispatch.set(handle);
            Ok(())
        })
    }

    /// Wait (GIL released) until the callbacks of the stream's last events have run, at most
    /// `timeout` seconds; false at once when called from one of this client's callbacks.
    fn wait_dispatched(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        guard(py, || {
            let Some(handle) = self.dispatch.get() else {
                return Ok(true);
            };
            let timeout = convert::secs(py, "timeout", timeout)?;
            Ok(py.detach(|| handle.wait_finished(timeout)))
        })
    }

    /// Dispatcher loop for the asyncio API: call `sink(list_of_events)` per batch until the
    /// stream ends. An exception from `sink` stops the loop and propagates.
    fn run_batches(&self, py: Python<'_>, sink: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(py, || {
            let mut events = self.take_events(py)?;
            loop {
                let batch = py.detach(|| events.blocking_next_batch(BATCH));
                if batch.is_empty() {
                    return Ok(());
                }
                let list = PyList::empty(py);
                for event in &batch {
                    list.append(convert::event_to_py(py, event)?)?;
                }
                sink.call1((list,))?;
            }
        })
    }

    /// asyncio bridge: hand the event stream to the loop; returns the fd for `loop.add_reader`.
    #[cfg(unix)]
    fn start_pump(&self, py: Python<'_>) -> PyResult<i32> {
        guard(py, || {
            let events = self.take_events(py)?;
            let pump = crate::pump::Pump::start(events)
                .map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
            let fd = pump.fileno();
            let _ = self.pump.set(pump);
            Ok(fd)
        })
    }

    /// asyncio bridge: the fd became readable; empty it (the consumer drains next).
    #[cfg(unix)]
    fn ack_pump(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            if let Some(pump) = self.pump.get() {
                pump.ack();
            }
            Ok(())
        })
    }

    /// asyncio bridge: up to `max` events ready now (maybe none); `None` once the stream ended.
    #[cfg(unix)]
    fn drain_pump<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Option<Bound<'py, PyList>>> {
        guard(py, || {
            let Some(batch) = self.pump.get().and_then(|p| p.drain(max)) else {
                return Ok(None);
            };
            let list = PyList::empty(py);
            for event in &batch {
                list.append(convert::event_to_py(py, event)?)?;
            }
            Ok(Some(list))
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            Ok(format!(
                "NativeClient(url={:?}, state={:?})",
                self.client.config().redacted_url(),
                self.client.state().as_str()
            ))
        })
    }
}

// Free-threaded CPython may call any method from many threads at once: keep the state `Sync`.
const _: () = {
    const fn is_sync<T: Sync + Send>() {}
    is_sync::<NativeClient>()
};
