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
use std::time::Duration;

use pyo3::prelude::*;
use wstether::{AuthFuture, AuthProvider, AuthRequest, Message};

use crate::convert;

/// Run `f` with the interpreter attached on a fresh thread, and wait for it without blocking tokio.
fn on_python_thread<T: Send + 'static>(
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
fn describe(py: Python<'_>, err: PyErr) -> String {
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

/// Longest wait for a greeting callable; after that the link opens without a greeting.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

/// The greeting provider: called by the supervisor on every open (synchronously, on a worker).
pub(crate) fn greeting_provider(func: Py<PyAny>) -> impl Fn() -> Vec<Message> + Send + Sync {
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
        // The core's greeting hook is synchronous: wait here, letting tokio move other tasks off
        // this worker meanwhile. The waiting worker never touches Python itself.
        let wait = move || {
            let handle = tokio::runtime::Handle::current();
            handle.block_on(async { tokio::time::timeout(GREETING_TIMEOUT, rx).await })
        };
        let outcome = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => return Vec::new(),
        };
        match outcome {
            Ok(Ok(Ok(messages))) => messages,
            Ok(Ok(Err(e))) => {
                tracing::warn!(target: "wstether", "greeting callable failed: {e}");
                Vec::new()
            }
            _ => {
                tracing::warn!(target: "wstether", "greeting callable gave no answer in time");
                Vec::new()
            }
        }
    }
}
