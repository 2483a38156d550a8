//! How a client reaches its server, from JS: the proxy, pinned certificates, a client
//! certificate, fixed addresses, and a `url` function called before every attempt. Kept apart
//! from `convert.rs` so this group of options converts in one place.

use std::net::IpAddr;

use napi::bindgen_prelude::{FnArgs, Function, Promise};
use napi_derive::napi;
use wstether::{AuthRequest, ClientBuilder, Proxy, UrlFuture, UrlProvider};

use crate::auth::AttemptCallback;
use crate::errors::{invalid_option, IntoJs, JsResult};

/// The transport options, already type-checked by `lib/options.ts`.
#[napi(object)]
pub struct TransportOptions {
    /// `true`: always direct (the `proxy: null` option).
    pub proxy_off: Option<bool>,
    /// Always through this proxy (`http://user:pass@host:port`, `https://…`, `socks5h://…`).
    pub proxy_url: Option<String>,
    /// Trust exactly these server certificates (PEM).
    pub pinned_cert_pem: Option<Vec<String>>,
    /// Client certificate chain (PEM) for mutual TLS.
    pub client_cert_pem: Option<String>,
    /// Its private key (PEM).
    pub client_key_pem: Option<String>,
    /// `[host, ip, ip, …]` entries: addresses used instead of DNS.
    pub resolve: Option<Vec<Vec<String>>>,
}

/// Apply the transport options; the core checks the PEM text and the proxy URL.
pub fn apply(mut b: ClientBuilder, t: TransportOptions) -> JsResult<ClientBuilder> {
    if t.proxy_off == Some(true) {
        b = b.proxy(Proxy::None);
    } else if let Some(url) = t.proxy_url {
        b = b.proxy(Proxy::url(&url).js()?);
    }
    for pem in t.pinned_cert_pem.unwrap_or_default() {
        b = b.pin_certificate_pem(pem);
    }
    match (t.client_cert_pem, t.client_key_pem) {
        (None, None) => {}
        (Some(cert), Some(key)) => b = b.client_certificate_pem(cert, key),
        _ => {
            return Err(invalid_option(
                "tls.clientCertPem",
                "clientCertPem and clientKeyPem must be given together",
            ))
        }
    }
    for entry in t.resolve.unwrap_or_default() {
        let mut it = entry.into_iter();
        let Some(host) = it.next() else { continue };
        let mut ips = Vec::new();
        for a in it {
            let ip = a.trim().trim_start_matches('[').trim_end_matches(']');
            ips.push(
                ip.parse::<IpAddr>().map_err(|_| {
                    invalid_option("resolve", &format!("{a:?} is not an IP address"))
                })?,
            );
        }
        b = b.resolve(host, ips);
    }
    Ok(b)
}

/// What the TypeScript wrapper of the user's `url` function resolves to.
#[napi(object)]
pub struct UrlOutcome {
    /// The URL for this attempt.
    pub url: Option<String>,
    /// The function threw or rejected: its message.
    pub error: Option<String>,
}

/// The JS function type the constructor receives.
pub type UrlFunction<'a> = Function<'a, FnArgs<(u32, bool)>, Promise<UrlOutcome>>;

/// A `UrlProvider` calling into JS.
pub struct JsUrl(AttemptCallback<UrlOutcome>);

impl JsUrl {
    /// Wrap `f` (called on the JS thread, while constructing the client).
    pub fn new(f: UrlFunction<'_>) -> JsResult<Self> {
        AttemptCallback::new(f, "url").map(JsUrl)
    }
}

impl UrlProvider for JsUrl {
    fn url(&self, request: AuthRequest) -> UrlFuture {
        let outcome = self.0.call(request);
        Box::pin(async move {
            let outcome = outcome.await?;
            match (outcome.url, outcome.error) {
                (_, Some(message)) => Err(message),
                (Some(url), None) => Ok(url),
                (None, None) => Err("the url function returned nothing".into()),
            }
        })
    }
}
