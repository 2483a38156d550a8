//! The callback API's delivery: every `Client` of the process is served by the core's
//! `dispatch::Dispatcher` on a few Python threads (`wstether/_dispatch.py` starts them), not a
//! thread per client. Workers wait for work with the GIL released, attach once per batch and
//! call the `on_*` handlers themselves.
//!
//! A callback that raises follows the core's [`CallbackFailure`] rule (tests/README.md,
//! `callback-error`): logged on the `wstether` logger with its traceback, then reported as one
//! `ErrorEvent(kind="callback")` to `on_event` and `on_error` right after the event it was
//! handling; a failure while handling an `ErrorEvent` is logged only.

use std::sync::{Arc, Mutex};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyString;
use wstether::batch::{Batch, Item};
use wstether::dispatch::{Dispatcher, Next, Work};
use wstether::{CallbackFailure, Event};

use crate::convert;

/// What a slot carries: the Python `Client`, released when its stream has ended.
pub(crate) type Target = Mutex<Option<Py<PyAny>>>;

static DISPATCHER: Mutex<Option<Arc<Dispatcher<Target>>>> = Mutex::new(None);

/// The process's dispatcher (a new one in a forked child: the parent's threads stayed behind).
pub(crate) fn shared() -> Arc<Dispatcher<Target>> {
    let mut slot = DISPATCHER.lock().unwrap_or_else(|e| e.into_inner());
    match slot.as_ref() {
        Some(d) if d.is_current() => d.clone(),
        _ => {
            // A parent's dispatcher is never touched in the child (its locks may be held by
            // threads that do not exist here): leak it rather than drop it.
            std::mem::forget(slot.take());
            let d = Arc::new(Dispatcher::new());
            *slot = Some(d.clone());
            d
        }
    }
}

/// Register the module's functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_dispatch_watch, m)?)?;
    m.add_function(wrap_pyfunction!(_dispatch_work, m)?)?;
    m.add_function(wrap_pyfunction!(_dispatch_shutdown, m)?)?;
    Ok(())
}

/// Block (GIL released) until another worker thread is needed: `True`; `False` once shut down.
#[pyfunction]
fn _dispatch_watch(py: Python<'_>) -> bool {
    let d = shared();
    py.detach(|| d.watch())
}

/// Serve as a worker until the dispatcher lets this thread go (idle, or shut down).
#[pyfunction]
fn _dispatch_work(py: Python<'_>) {
    let d = shared();
    let worker = d.worker();
    loop {
        match py.detach(|| worker.next()) {
            Next::Exit => return,
            Next::Work(work) => {
                handle(py, &work);
                worker.done(work);
            }
        }
    }
}

/// Stop the watcher and the workers (interpreter exit, after every client was closed).
#[pyfunction]
fn _dispatch_shutdown() {
    shared().shutdown();
}

fn handle(py: Python<'_>, work: &Work<Target>) {
    let mut target = work.tag().lock().unwrap_or_else(|e| e.into_inner());
    if work.ended() {
        // The stream's end: release the client (no cycle through the slot) and tell it.
        if let Some(t) = target.take() {
            let _ = t.bind(py).call_method0(intern!(py, "_dispatch_ended"));
        }
        return;
    }
    let Some(t) = target.as_ref().map(|t| t.clone_ref(py)) else {
        return;
    };
    drop(target);
    deliver(py, t.bind(py), &work.batch);
}

/// The `on_*` attributes of the Python client, read once per batch (users may reassign them).
struct Handlers<'py> {
    message: Option<Bound<'py, PyAny>>,
    open: Option<Bound<'py, PyAny>>,
    close: Option<Bound<'py, PyAny>>,
    connecting: Option<Bound<'py, PyAny>>,
    reconnecting: Option<Bound<'py, PyAny>>,
    error: Option<Bound<'py, PyAny>>,
    failed: Option<Bound<'py, PyAny>>,
    state: Option<Bound<'py, PyAny>>,
    pong: Option<Bound<'py, PyAny>>,
    any: Option<Bound<'py, PyAny>>,
}

fn handler<'py>(
    target: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> Option<Bound<'py, PyAny>> {
    target.getattr(name).ok().filter(|h| !h.is_none())
}

impl<'py> Handlers<'py> {
    fn load(py: Python<'py>, t: &Bound<'py, PyAny>) -> Self {
        Handlers {
            message: handler(t, intern!(py, "on_message")),
            open: handler(t, intern!(py, "on_open")),
            close: handler(t, intern!(py, "on_close")),
            connecting: handler(t, intern!(py, "on_connecting")),
            reconnecting: handler(t, intern!(py, "on_reconnecting")),
            error: handler(t, intern!(py, "on_error")),
            failed: handler(t, intern!(py, "on_failed")),
            state: handler(t, intern!(py, "on_state")),
            pong: handler(t, intern!(py, "on_pong")),
            any: handler(t, intern!(py, "on_event")),
        }
    }

    /// The handler for an event and its attribute name.
    fn for_item(&self, item: Item<'_>) -> (Option<&Bound<'py, PyAny>>, &'static str) {
        let event = match item {
            Item::Text(_) | Item::Binary(_) => return (self.message.as_ref(), "on_message"),
            Item::Event(event) => event,
        };
        match event {
            Event::Message(_) => (self.message.as_ref(), "on_message"),
            Event::Open { .. } => (self.open.as_ref(), "on_open"),
            Event::Closed { .. } => (self.close.as_ref(), "on_close"),
            Event::Connecting { .. } => (self.connecting.as_ref(), "on_connecting"),
            Event::Reconnecting { .. } => (self.reconnecting.as_ref(), "on_reconnecting"),
            Event::Error { .. } => (self.error.as_ref(), "on_error"),
            Event::Failed { .. } => (self.failed.as_ref(), "on_failed"),
            Event::StateChanged { .. } => (self.state.as_ref(), "on_state"),
            Event::Pong { .. } => (self.pong.as_ref(), "on_pong"),
        }
    }
}

/// Hand one batch to the client's handlers, in order.
fn deliver(py: Python<'_>, target: &Bound<'_, PyAny>, batch: &Batch) {
    let handlers = Handlers::load(py, target);
    let mut reports = Vec::new();
    for item in batch {
        call_handlers(py, target, &handlers, item, &mut reports);
        // Reports follow the event that caused them; failures while handling them are only
        // logged (they are `Error` events), so this never loops.
        for report in std::mem::take(&mut reports) {
            call_handlers(py, target, &handlers, Item::Event(&report), &mut Vec::new());
        }
    }
}

fn call_handlers(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    handlers: &Handlers<'_>,
    item: Item<'_>,
    reports: &mut Vec<Event>,
) {
    let handling_error = matches!(item, Item::Event(Event::Error { .. }));
    // A message's payload, made once for both handlers: the cheapest crossing.
    let data = convert::item_data(py, item);
    let as_event = || match (&data, item) {
        (Some(data), _) => convert::message_to_py(py, data.clone()),
        (None, Item::Event(event)) => convert::event_to_py(py, event),
        (None, _) => unreachable!("every message has its payload"),
    };
    if let Some(any) = &handlers.any {
        if let Err(err) = as_event().and_then(|ev| any.call1((ev,))) {
            failed(py, target, "on_event", err, handling_error, reports);
        }
    }
    let (Some(h), name) = handlers.for_item(item) else {
        return;
    };
    // Messages go to on_message as their payload alone.
    let arg = match &data {
        Some(data) => Ok(data.clone()),
        None => as_event(),
    };
    if let Err(err) = arg.and_then(|a| h.call1((a,))) {
        failed(py, target, name, err, handling_error, reports);
    }
}

/// A callback raised: log it with its traceback (Python side) and queue the core's report.
fn failed(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    name: &str,
    err: PyErr,
    handling_error: bool,
    reports: &mut Vec<Event>,
) {
    let exception = err
        .value(py)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "an exception".into());
    let failure = CallbackFailure::new(name, &exception, handling_error);
    let _ = target.call_method1(
        intern!(py, "_log_callback_error"),
        (failure.message, err.into_value(py)),
    );
    reports.extend(failure.report);
}
