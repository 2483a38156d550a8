//! Core errors → the exception classes defined in `wstether/errors.py` (one place for the mapping),
//! and the belt that keeps a panic from ever reaching Python as `PanicException` (a
//! `BaseException`, which `except Exception` does not catch).

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

/// The Python class name for each core error.
fn class_name(err: &wstether::Error) -> &'static str {
    use wstether::Error as E;
    match err {
        E::InvalidUrl { .. } => "InvalidUrl",
        E::InvalidScheme { .. } => "InvalidScheme",
        E::InvalidHeader { .. } => "InvalidHeader",
        E::InvalidOption { .. } => "InvalidOption",
        E::InvalidCertificate(_) => "InvalidCertificate",
        E::MessageTooLarge { .. } => "MessageTooLarge",
        E::QueueFull { .. } => "QueueFull",
        E::InvalidCloseCode(_) => "InvalidCloseCode",
        E::CloseReasonTooLong(_) => "CloseReasonTooLong",
        E::Closed => "ClientClosed",
        E::Failed => "ClientFailed",
        E::EventsTaken => "EventsTaken",
        E::Timeout(_) => "Timeout",
        _ => "Error",
    }
}

/// Build the Python exception for a core error.
pub(crate) fn to_py(py: Python<'_>, err: wstether::Error) -> PyErr {
    new_error(py, class_name(&err), err.to_string())
}

/// An instance of `wstether.errors.<class>` with `message`.
fn new_error(py: Python<'_>, class: &str, message: String) -> PyErr {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = match MODULE.get_or_try_init(py, || {
        PyModule::import(py, "wstether.errors").map(Bound::unbind)
    }) {
        Ok(m) => m.bind(py),
        Err(e) => return e,
    };
    match module.getattr(class).and_then(|cls| cls.call1((message,))) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// `wstether.InvalidType` (also a `TypeError`): a value of the wrong type.
pub(crate) fn invalid_type(py: Python<'_>, message: String) -> PyErr {
    new_error(py, "InvalidType", message)
}

/// A close code that is not even a 16-bit number: the same class and text as the core's
/// `InvalidCloseCode`, which can only carry a `u16`.
pub(crate) fn close_code_out_of_range(py: Python<'_>, code: i64) -> PyErr {
    new_error(
        py,
        "InvalidCloseCode",
        format!("invalid close code {code}: use 1000 or 3000-4999"),
    )
}

/// Run the body of an entry point called from Python. A panic in it (a bug) becomes
/// `wstether.InternalError`, an ordinary `Exception`, instead of pyo3's `PanicException`;
/// the client's own task is not affected by a panic on the caller's thread.
pub(crate) fn guard<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            Err(new_error(
                py,
                "InternalError",
                format!("wstether internal error (please report): {what}"),
            ))
        }
    }
}

/// `result.py_err(py)?`: convert a core result at the call site.
pub(crate) trait IntoPyResult<T> {
    /// Map the core error to its Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, wstether::Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// Panic inside the belt, for the test that proves no `PanicException` reaches Python.
#[pyfunction]
pub(crate) fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    guard(py, || {
        panic!("a deliberate panic from wstether's test of its boundary")
    })
}
