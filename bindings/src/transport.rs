//! How a client reaches its server, as the host layers set it: the proxy, the TLS trust
//! (pinned certificates) and identity (a client certificate), fixed addresses for names, and
//! a URL provider. Kept apart from `options.rs` so each group of options converts in one place.

use std::net::IpAddr;
use std::sync::Arc;

use wstether::{AuthRequest, ClientBuilder, Proxy, UrlFuture};

use crate::convert;
use crate::errors::FfiError;
use crate::options::FfiAuthRequest;

/// Which proxy attempts go through.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FfiProxy {
    /// From the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`): the default.
    FromEnv,
    /// Always direct.
    Off,
    /// Always through this proxy: `http://[user:pass@]host:port`, `https://…`, `socks5h://…`.
    Url { url: String },
}

/// Addresses a host name resolves to, instead of asking the system resolver.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiResolve {
    pub host: String,
    /// IP addresses as text (`::1`, `127.0.0.1`).
    pub addresses: Vec<String>,
}

/// The proxy, TLS trust and identity, and fixed addresses of a client.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiTransport {
    pub proxy: FfiProxy,
    /// Trust exactly these server certificates (PEM), self-signed or CA-flagged; with any,
    /// the roots are not consulted.
    pub pinned_certificate_pem: Vec<String>,
    /// A client certificate chain (PEM) for mutual TLS; needs `client_key_pem`.
    pub client_certificate_pem: Option<String>,
    /// Its private key (PEM). A secret: never shown.
    pub client_key_pem: Option<String>,
    pub resolve: Vec<FfiResolve>,
}

/// The defaults: proxy from the environment, roots only, no client certificate.
pub(crate) fn defaults() -> FfiTransport {
    FfiTransport {
        proxy: FfiProxy::FromEnv,
        pinned_certificate_pem: Vec::new(),
        client_certificate_pem: None,
        client_key_pem: None,
        resolve: Vec::new(),
    }
}

fn invalid(option: &str, reason: String) -> FfiError {
    FfiError::InvalidOption {
        option: option.into(),
        description: format!("invalid option {option}: {reason}"),
        reason,
    }
}

/// The transport options on a builder; the core checks the PEM text in `build()`.
pub(crate) fn apply(mut b: ClientBuilder, t: FfiTransport) -> Result<ClientBuilder, FfiError> {
    b = b.proxy(match t.proxy {
        FfiProxy::FromEnv => Proxy::FromEnv,
        FfiProxy::Off => Proxy::None,
        FfiProxy::Url { url } => Proxy::url(&url).map_err(convert::error)?,
    });
    for pem in t.pinned_certificate_pem {
        b = b.pin_certificate_pem(pem);
    }
    match (t.client_certificate_pem, t.client_key_pem) {
        (None, None) => {}
        (Some(cert), Some(key)) => b = b.client_certificate_pem(cert, key),
        _ => {
            return Err(invalid(
                "client_certificate",
                "a client certificate needs both its certificate and its key".into(),
            ))
        }
    }
    for FfiResolve { host, addresses } in t.resolve {
        let ips = addresses
            .iter()
            .map(|a| {
                a.trim()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .map_err(|_| invalid("resolve", format!("{a:?} is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        b = b.resolve(host, ips);
    }
    Ok(b)
}

/// Names the URL of every attempt (e.g. a one-time URL fetched over HTTPS). Called on a
/// blocking-pool thread, so it may block.
#[uniffi::export(with_foreign)]
pub trait UrlProvider: Send + Sync {
    /// The `ws://`/`wss://` URL for this attempt; an error fails the attempt and the client retries.
    fn url(&self, request: FfiAuthRequest) -> Result<String, FfiError>;
}

/// The core's `UrlProvider` over a foreign one.
pub(crate) struct ForeignUrl(pub Arc<dyn UrlProvider>);

impl wstether::UrlProvider for ForeignUrl {
    fn url(&self, request: AuthRequest) -> UrlFuture {
        let provider = self.0.clone();
        let request = FfiAuthRequest {
            attempt: request.attempt,
            after_unauthorized: request.after_unauthorized,
        };
        Box::pin(async move {
            let call = wstether::runtime::handle().spawn_blocking(move || provider.url(request));
            match call.await {
                Ok(Ok(url)) => Ok(url),
                Ok(Err(e)) => Err(e.to_string()),
                Err(join) => Err(format!("URL provider panicked: {join}")),
            }
        })
    }
}
