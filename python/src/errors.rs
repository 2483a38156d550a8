//! Core errors → the exception classes defined in `wstether/errors.py` (one place for the mapping).

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
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = match MODULE.get_or_try_init(py, || {
        PyModule::import(py, "wstether.errors").map(Bound::unbind)
    }) {
        Ok(m) => m.bind(py),
        Err(e) => return e,
    };
    match module
        .getattr(class_name(&err))
        .and_then(|cls| cls.call1((err.to_string(),)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
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
