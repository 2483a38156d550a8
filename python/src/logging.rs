//! Core `tracing` output → Python's `logging` (logger `wstether`).
//!
//! Tracing events fire on tokio workers, which must never attach to Python. So a tracing layer
//! formats each record into a bounded in-memory queue, and a Python thread started by the
//! package (`wstether/_logging.py`) drains it with the GIL released while it waits. The layer
//! only formats records at or above the level the Python logger currently lets through.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Records kept while Python is slow to drain; beyond this they are counted and dropped.
const QUEUE_LIMIT: usize = 10_000;

/// One formatted record: Python level number, logger suffix, message.
type Record = (u8, String, String);

struct Queue {
    records: Mutex<VecDeque<Record>>,
    ready: Condvar,
}

static QUEUE: Queue = Queue {
    records: Mutex::new(VecDeque::new()),
    ready: Condvar::new(),
};
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// The lowest Python level number forwarded (WARNING by default, like Python's root logger).
static MIN_LEVEL: AtomicU8 = AtomicU8::new(30);

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// Collects `message` and `key=value` fields into one line.
#[derive(Default)]
struct LineVisitor {
    message: String,
    fields: String,
}

impl Visit for LineVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

/// The tracing layer that feeds [`QUEUE`].
struct ToPythonLogging;

impl<S: Subscriber> Layer<S> for ToPythonLogging {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = python_level(meta.level());
        if level < MIN_LEVEL.load(Ordering::Relaxed) || !meta.target().starts_with("wstether") {
            return;
        }
        let mut line = LineVisitor::default();
        event.record(&mut line);
        let target = meta
            .target()
            .trim_start_matches("wstether")
            .trim_start_matches("::");
        let record = (
            level,
            target.replace("::", "."),
            line.message + &line.fields,
        );
        let mut records = QUEUE.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= QUEUE_LIMIT {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        records.push_back(record);
        drop(records);
        QUEUE.ready.notify_one();
    }
}

/// Install the layer as this extension's global subscriber (the extension has its own copy of
/// `tracing`, so this touches no other library in the process).
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let subscriber = tracing_subscriber::registry().with(ToPythonLogging);
    let _ = tracing::subscriber::set_global_default(subscriber);
    m.add_function(wrap_pyfunction!(_next_log_records, m)?)?;
    m.add_function(wrap_pyfunction!(_set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(_wake_log_thread, m)?)?;
    Ok(())
}

/// Wait up to `timeout` seconds (GIL released) for records; returns `(levelno, name, message)`
/// tuples and how many records were dropped since the last call.
#[pyfunction]
fn _next_log_records(py: Python<'_>, timeout: f64) -> PyResult<(Vec<Record>, u64)> {
    // NaN would make `from_secs_f64` panic: treat it as "do not wait".
    let secs = if timeout.is_nan() {
        0.0
    } else {
        timeout.clamp(0.0, 60.0)
    };
    let wait = Duration::from_secs_f64(secs);
    crate::errors::guard(py, || {
        let records = py.detach(|| {
            let mut records = QUEUE.records.lock().unwrap_or_else(|e| e.into_inner());
            if records.is_empty() {
                records = QUEUE
                    .ready
                    .wait_timeout(records, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            records.drain(..).collect::<Vec<_>>()
        });
        Ok((records, DROPPED.swap(0, Ordering::Relaxed)))
    })
}

/// Forward records at or above this Python level number (the `wstether` logger's effective level).
#[pyfunction]
fn _set_log_level(py: Python<'_>, level: i64) -> PyResult<()> {
    crate::errors::guard(py, || {
        MIN_LEVEL.store(level.clamp(0, 255) as u8, Ordering::Relaxed);
        Ok(())
    })
}

/// Wake the log thread now (used when stopping it).
#[pyfunction]
fn _wake_log_thread(py: Python<'_>) -> PyResult<()> {
    crate::errors::guard(py, || {
        QUEUE.ready.notify_all();
        Ok(())
    })
}
