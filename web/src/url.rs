//! URLs checked with the browser's own parser (the `url` crate's IDNA tables would double what
//! a page downloads) by the core's rules, and redacted by the core's list of secret-looking
//! query names.

use wstether::redact::{is_secret_param, REDACTED};
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

/// `host:port` of a checked URL, the handshake budget's key.
pub fn host_key(url: &str) -> String {
    match web_sys::Url::new(url) {
        Ok(u) => {
            let port = match (u.port().as_str(), u.protocol().as_str()) {
                ("", "wss:") => "443".to_string(),
                ("", _) => "80".to_string(),
                (p, _) => p.to_string(),
            };
            format!("{}:{port}", u.hostname())
        }
        Err(_) => String::new(),
    }
}

/// The URL with its password and token-like query values hidden (string work, so it also
/// serves a URL that does not parse).
pub fn redact(raw: &str) -> String {
    let (head, fragment) = match raw.split_once('#') {
        Some((h, _)) => (h, true),
        None => (raw, false),
    };
    let (base, query) = match head.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (head, None),
    };
    let mut out = hide_password(base);
    if let Some(q) = query {
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_param(k) => format!("{k}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    if fragment {
        out.push_str("#…");
    }
    out
}

fn hide_password(base: &str) -> String {
    let start = base.find("://").map_or(0, |s| s + 3);
    let end = base[start..].find('/').map_or(base.len(), |e| start + e);
    let authority = &base[start..end];
    match authority.rfind('@') {
        Some(at) if authority[..at].contains(':') => {
            let user = authority[..at].split(':').next().unwrap_or("");
            format!(
                "{}{user}:{REDACTED}@{}",
                &base[..start],
                &base[start + at + 1..]
            )
        }
        _ => base.to_string(),
    }
}
