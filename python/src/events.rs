//! The event classes Python code receives: immutable, typed, with a readable `repr`.
//! They mirror `wstether::Event`; `convert.rs` builds them.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// Register every event class on the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StateChanged>()?;
    m.add_class::<Connecting>()?;
    m.add_class::<Open>()?;
    m.add_class::<Message>()?;
    m.add_class::<Pong>()?;
    m.add_class::<Closed>()?;
    m.add_class::<Reconnecting>()?;
    m.add_class::<ErrorEvent>()?;
    m.add_class::<Failed>()?;
    m.add_class::<Cause>()?;
    Ok(())
}

/// Python's repr of a value (strings quoted the Python way).
fn pyrepr(py: Python<'_>, v: &Py<PyAny>) -> String {
    v.bind(py)
        .repr()
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into())
}

fn str_repr(py: Python<'_>, s: &str) -> String {
    pyrepr(py, &PyString::new(py, s).into_any().unbind())
}

/// The client's state changed (to one of the `State` names).
#[pyclass(frozen, get_all, module = "wstether")]
pub struct StateChanged {
    pub state: String,
}

#[pymethods]
impl StateChanged {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok(format!("StateChanged(state={})", str_repr(py, &self.state)))
        })
    }
}

/// An attempt begins.
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Connecting {
    pub attempt: u32,
}

#[pymethods]
impl Connecting {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || Ok(format!("Connecting(attempt={})", self.attempt)))
    }
}

/// The link is open.
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Open {
    pub attempt: u32,
    pub protocol: Option<String>,
    /// The negotiated extension (`"permessage-deflate; ..."`), or None.
    pub compression: Option<String>,
    /// `"ip:port"` the link connected to, or None.
    pub address: Option<String>,
}

#[pymethods]
impl Open {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                let protocol = match &self.protocol {
                    Some(p) => str_repr(py, p),
                    None => "None".into(),
                };
                format!("Open(attempt={}, protocol={protocol})", self.attempt)
            })
        })
    }
}

/// A message arrived: `data` is `str` for text, `bytes` for binary.
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Message {
    pub data: Py<PyAny>,
}

#[pymethods]
impl Message {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                let data = self.data.bind(py);
                if let Ok(b) = data.cast::<PyBytes>() {
                    return Ok(format!("Message(<{} bytes>)", b.as_bytes().len()));
                }
                let len = data.len().unwrap_or(0);
                if len <= 48 {
                    format!("Message({})", pyrepr(py, &self.data))
                } else {
                    format!("Message(<text, {len} chars>)")
                }
            })
        })
    }
}

/// A heartbeat got its answer after `rtt` seconds.
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Pong {
    pub rtt: f64,
}

#[pymethods]
impl Pong {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || Ok(format!("Pong(rtt={:.6})", self.rtt)))
    }
}

/// An open link ended. `initiator` is "local", "remote" or "network".
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Closed {
    pub code: u16,
    pub reason: String,
    pub initiator: String,
    pub will_reconnect: bool,
}

#[pymethods]
impl Closed {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                format!(
                    "Closed(code={}, reason={}, initiator={}, will_reconnect={})",
                    self.code,
                    str_repr(py, &self.reason),
                    str_repr(py, &self.initiator),
                    if self.will_reconnect { "True" } else { "False" }
                )
            })
        })
    }
}

/// Waiting `delay` seconds before attempt number `attempt`, because of `cause`.
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Reconnecting {
    pub attempt: u32,
    pub delay: f64,
    pub cause: Py<Cause>,
}

#[pymethods]
impl Reconnecting {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                format!(
                    "Reconnecting(attempt={}, delay={:.3}, cause={})",
                    self.attempt,
                    self.delay,
                    self.cause.get().__repr__(py)?
                )
            })
        })
    }
}

/// Something failed and the client is still trying. `kind`: "connect", "auth", "link" or "callback".
#[pyclass(frozen, get_all, module = "wstether")]
pub struct ErrorEvent {
    pub kind: String,
    pub message: String,
}

#[pymethods]
impl ErrorEvent {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                format!(
                    "ErrorEvent(kind={}, message={})",
                    str_repr(py, &self.kind),
                    str_repr(py, &self.message)
                )
            })
        })
    }
}

/// Terminal: the client gave up. `unsent` holds every accepted message never written.
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Failed {
    pub reason: Py<Cause>,
    pub unsent: Py<PyAny>,
}

#[pymethods]
impl Failed {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                let n = self.unsent.bind(py).len().unwrap_or(0);
                format!(
                    "Failed(reason={}, unsent=<{n} messages>)",
                    self.reason.get().__repr__(py)?
                )
            })
        })
    }
}

/// Why a link ended or an attempt failed. `kind` is a stable name ("closed", "network",
/// "heartbeat_timeout", "connect_failed", "handshake_rejected", "retries_exhausted",
/// "url_provider", "proxy_rejected" (`status` is the proxy's), "socks_rejected"
/// (`socks_reply`), "proxy_auth", …); the other fields are set when they apply to that kind.
#[pyclass(frozen, get_all, module = "wstether")]
pub struct Cause {
    pub kind: String,
    pub message: String,
    pub code: Option<u16>,
    pub reason: Option<String>,
    pub status: Option<u16>,
    pub retry_after: Option<f64>,
    pub attempts: Option<u32>,
    pub elapsed: Option<f64>,
    pub last: Option<Py<Cause>>,
    /// The SOCKS5 reply code, for kind "socks_rejected".
    pub socks_reply: Option<u8>,
}

#[pymethods]
impl Cause {
    pub(crate) fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || {
            Ok({
                format!(
                    "Cause(kind={}, message={})",
                    str_repr(py, &self.kind),
                    str_repr(py, &self.message)
                )
            })
        })
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        crate::errors::guard(py, || Ok(self.message.clone()))
    }
}
