//! URLs checked by the core's rules (`ws://` or `wss://`, a host, a real port, no fragment),
//! with the browser's own parser first, so what reaches the machine is the form the browser's
//! `WebSocket` will use (its IDNA mapping, its normalisation); redacted by the core's rules.

use wstether::redact::url_text as redact;
use wstether::Error;

/// A `ws://` or `wss://` URL with a host, a real port and no fragment, as the native builder
/// checks it; the error text never holds a secret.
pub fn check(raw: &str) -> Result<String, Error> {
    let raw = raw.trim();
    let refuse = |reason: &str| Error::InvalidUrl {
        url: redact(raw),
        reason: reason.into(),
    };
    if raw.chars().any(char::is_control) {
        return Err(refuse("contains control characters"));
    }
    let url = web_sys::Url::new(raw).map_err(|_| refuse("not a URL"))?;
    let scheme = url.protocol();
    if scheme != "ws:" && scheme != "wss:" {
        return Err(Error::InvalidScheme {
            scheme: scheme.trim_end_matches(':').to_string(),
        });
    }
    let authority = raw
        .split_once("://")
        .map(|(_, rest)| rest)
        .filter(|rest| !rest.starts_with(['/', '\\', '?', '#']) && !rest.is_empty());
    if authority.is_none() || url.hostname().is_empty() {
        return Err(refuse("no host (expected ws://host/...)"));
    }
    if url.port() == "0" {
        return Err(refuse("port 0 is not a port a server can listen on"));
    }
    if !url.hash().is_empty() || raw.contains('#') {
        return Err(refuse("WebSocket URLs cannot have a #fragment"));
    }
    Ok(url.href())
}

/// A checked URL as the machine takes it.
pub fn parse(raw: &str) -> Result<url::Url, Error> {
    let href = check(raw)?;
    url::Url::parse(&href).map_err(|e| Error::InvalidUrl {
        url: redact(&href),
        reason: e.to_string(),
    })
}
