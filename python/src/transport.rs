//! How a client reaches its server, from Python: the proxy, pinned certificates, a client
//! certificate, fixed addresses, and a URL callable run before every attempt. Kept apart from
//! `client.rs` so this group of options converts in one place.

use std::net::IpAddr;
use std::sync::Arc;

use pyo3::prelude::*;
use wstether::{AuthRequest, ClientBuilder, Proxy, UrlFuture, UrlProvider};

use crate::auth::{describe, on_python_thread};
use crate::errors::IntoPyResult;

/// `(proxy_kind "env"|"off"|"url", proxy_url, pinned PEMs, client cert PEM, client key PEM,
/// [(host, [ip])], url callable)`, as `wstether/_transport.py` builds it.
pub(crate) type TransportArgs = (
    String,
    Option<String>,
    Vec<String>,
    Option<String>,
    Option<String>,
    Vec<(String, Vec<String>)>,
    Option<Py<PyAny>>,
);

fn invalid(py: Python<'_>, option: &'static str, reason: String) -> PyErr {
    crate::errors::to_py(py, wstether::Error::InvalidOption { option, reason })
}

/// Apply the transport options; the core checks the PEM text and the proxy URL.
pub(crate) fn apply(
    py: Python<'_>,
    mut b: ClientBuilder,
    t: TransportArgs,
) -> PyResult<ClientBuilder> {
    let (kind, proxy_url, pins, cert, key, resolve, url_provider) = t;
    b = b.proxy(match (kind.as_str(), proxy_url) {
        ("env", _) => Proxy::FromEnv,
        ("off", _) => Proxy::None,
        ("url", Some(url)) => Proxy::url(&url).py_err(py)?,
        _ => {
            return Err(invalid(
                py,
                "proxy",
                "must be True, None or a proxy URL".into(),
            ))
        }
    });
    for pem in pins {
        b = b.pin_certificate_pem(pem);
    }
    match (cert, key) {
        (None, None) => {}
        (Some(cert), Some(key)) => b = b.client_certificate_pem(cert, key),
        _ => {
            return Err(invalid(
                py,
                "client_cert_pem",
                "client_cert_pem and client_key_pem must be given together".into(),
            ))
        }
    }
    for (host, addresses) in resolve {
        let mut ips = Vec::with_capacity(addresses.len());
        for a in &addresses {
            let ip = a.trim().trim_start_matches('[').trim_end_matches(']');
            ips.push(
                ip.parse::<IpAddr>()
                    .map_err(|_| invalid(py, "resolve", format!("{a:?} is not an IP address")))?,
            );
        }
        b = b.resolve(host, ips);
    }
    if let Some(func) = url_provider {
        b = b.url_provider(PyUrl(Arc::new(func)));
    }
    Ok(b)
}

/// The URL provider backed by a Python callable `(attempt, after_unauthorized) -> str`, run on
/// a thread of its own like the auth provider (never on a tokio worker).
struct PyUrl(Arc<Py<PyAny>>);

impl UrlProvider for PyUrl {
    fn url(&self, request: AuthRequest) -> UrlFuture {
        let func = self.0.clone();
        let rx = on_python_thread("wstether-url", move |py| {
            let result = func
                .bind(py)
                .call1((request.attempt, request.after_unauthorized))
                .and_then(|r| r.extract::<String>())
                .map_err(|e| describe(py, e));
            drop(func);
            result
        });
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err("the url callable's thread ended without an answer".into()))
        })
    }
}
