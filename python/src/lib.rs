//! `wstether._native`: the thin pyo3 layer between the Rust core and the `wstether` package.
//!
//! The public Python API lives in `python/wstether/*.py`; this module only converts types and
//! moves events across. Threading rules (why the files look the way they do):
//! - tokio workers never attach to Python: callback events cross on the process's shared
//!   dispatcher threads (Python threads that wait here with the GIL released, `dispatch.rs`), auth and greeting callables run on
//!   short-lived threads of their own (`auth.rs`), and log records wait in a queue that a Python
//!   thread drains (`logging.rs`);
//! - every pyclass is `frozen` and holds only `Sync` state (mutexes, atomics, core handles), so the
//!   module is also correct on free-threaded CPython.

/// The extension's Rust allocations use mimalloc, as the Node addon's do (why: docs/architecture.md,
/// "The bindings"); Python's own allocator is untouched.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod auth;
mod client;
mod convert;
mod defaults;
mod dispatch;
mod errors;
mod events;
mod logging;
#[cfg(unix)]
mod pump;
mod stats;
mod transport;

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;

/// Set by the package's `atexit` hook: from then on, no thread of ours attaches to Python again.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Whether the interpreter is on its way out (see [`SHUTTING_DOWN`]).
pub(crate) fn shutting_down() -> bool {
    SHUTTING_DOWN.load(Ordering::Acquire)
}

/// Called from `atexit` before the clients are closed: stop calling into Python from our threads.
#[pyfunction]
fn _begin_shutdown() {
    SHUTTING_DOWN.store(true, Ordering::Release);
}

/// The native module; see `wstether/_native.pyi` for its typed surface.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    wstether::runtime::install_crypto_provider();
    m.add_class::<client::NativeClient>()?;
    events::register(m)?;
    m.add_class::<stats::Stats>()?;
    m.add_class::<stats::Transition>()?;
    m.add_function(wrap_pyfunction!(_begin_shutdown, m)?)?;
    defaults::register(m)?;
    dispatch::register(m)?;
    m.add_function(wrap_pyfunction!(errors::_panic_for_tests, m)?)?;
    logging::register(m)?;
    Ok(())
}
