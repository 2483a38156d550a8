//! Python callables the core calls from tokio (auth provider, greeting provider).
//!
//! The core awaits the auth provider on a tokio worker, and tokio workers must never attach to
//! Python (a worker blocked on the GIL stalls every client, and a worker attaching while the
//! interpreter finalizes crashes). So each call runs on a short-lived thread of its own that
//! attaches, calls, and hands the result back through a oneshot. One thread per attempt costs
//! microseconds next to a handshake, and nothing lingers after `close()`.
//! Async auth functions are resolved on the Python side (`wstether/_auth.py`), which this thread
//! calls: the callable we get here is always synchronous.

use std::sync::Arc;

use pyo3::prelude::*;
use wstether::{AuthFuture, AuthProvider, AuthRequest};

use crate::convert;

/// Run `f` with the interpreter attached on a fresh thread, and wait for it without blocking tokio.
pub(crate) fn on_python_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce(Python<'_>) -> Result<T, String> + Send + 'static,
) -> tokio::sync::oneshot::Receiver<Result<T, String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let result = if crate::shutting_down() {
                Err("the Python interpreter is shutting down".to_string())
            } else {
                Python::attach(f)
            };
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        // The sender went with the closure; the receiver reports the loss below.
        tracing::warn!(target: "wstether", "cannot start a thread for a Python callable: {e}");
    }
    rx
}

/// Text of a Python exception, for the `Error{auth}` event.
pub(crate) fn describe(py: Python<'_>, err: PyErr) -> String {
    let value = err.value(py);
    let name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    format!("{name}: {value}")
}

/// The auth provider backed by a Python callable `(attempt, after_unauthorized) -> [(name, value)]`.
pub(crate) struct PyAuth {
    func: Arc<Py<PyAny>>,
}

impl PyAuth {
    /// Wrap the normalised callable built by `wstether/_auth.py`.
    pub(crate) fn new(func: Py<PyAny>) -> Self {
        PyAuth {
            func: Arc::new(func),
        }
    }
}

impl AuthProvider for PyAuth {
    fn headers(&self, request: AuthRequest) -> AuthFuture {
        let func = self.func.clone();
        let rx = on_python_thread("wstether-auth", move |py| {
            let result = func
                .bind(py)
                .call1((request.attempt, request.after_unauthorized))
                .and_then(|r| convert::header_pairs(&r))
                .map_err(|e| describe(py, e));
            drop(func);
            result
        });
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err("the auth callable's thread ended without an answer".into())
            })
        })
    }
}

/// The greeting provider: a Python callable run on every open, on a thread of its own; the core
/// awaits its answer (bounded by `connect_timeout`) and reports a failure as an `Error` event.
pub(crate) fn greeting_provider(
    func: Py<PyAny>,
) -> impl Fn() -> wstether::GreetingFuture + Send + Sync {
    let func = Arc::new(func);
    move || {
        let func = func.clone();
        let rx = on_python_thread("wstether-greeting", move |py| {
            let result = func
                .bind(py)
                .call0()
                .and_then(|r| convert::messages_from_py(&r))
                .map_err(|e| describe(py, e));
            drop(func);
            result
        });
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err("the greeting callable's thread ended without an answer".into())
            })
        })
    }
}
