//! One attempt: auth provider, then TCP, TLS and the HTTP upgrade (`upgrade`) within
//! `connect_timeout`,
//! ending in an open socket or a typed [`Cause`].

use std::net::SocketAddr;
use std::sync::Arc;

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::MaybeTlsStream;

use crate::config::{AuthRequest, Config};
use crate::deflate::Params;
use crate::event::Cause;
use crate::{redact, upgrade};

/// The transport under the WebSocket: TCP, or TLS over TCP.
pub(crate) type Transport = MaybeTlsStream<TcpStream>;

/// An upgraded connection and what its handshake said.
pub(crate) struct Link {
    pub transport: Transport,
    /// Bytes that arrived behind the `101` response: the start of the first frames.
    pub leftover: Vec<u8>,
    pub protocol: Option<String>,
    /// permessage-deflate as negotiated.
    pub compression: Option<Params>,
    /// The address connected to.
    pub address: Option<SocketAddr>,
}

/// Make one attempt. Dropping the future abandons it and closes any half-made socket.
pub(crate) async fn attempt(config: &Config, auth: AuthRequest) -> Result<Link, Cause> {
    let mut extra = config.headers.clone();
    if let Some(provider) = &config.auth {
        // A provider that panics fails this attempt like one that returns an error; it must
        // never take the client's task down with it.
        let headers = AssertUnwindSafe(provider.headers(auth))
            .catch_unwind()
            .await
            .map_err(|panic| Cause::Auth(format!("provider panicked: {}", panic_text(&*panic))))?
            .map_err(Cause::Auth)?;
        for (name, value) in &headers {
            crate::config::check_header(name, value)
                .map_err(|e| Cause::Auth(format!("provider returned a bad header: {e}")))?;
        }
        extra.extend(headers);
    }
    let secrets: Vec<String> = extra
        .iter()
        .filter(|(k, _)| redact::is_secret_header(k))
        .map(|(_, v)| v.clone())
        .collect();
    handshake(config, &extra)
        .await
        .map_err(|cause| scrub_cause(cause, &secrets))
}

/// TCP, TLS and the upgrade, all by one deadline (`connect_timeout`). A server that accepts
/// the connection but answers the upgrade too slowly is told apart from one never reached.
async fn handshake(config: &Config, headers: &[(String, String)]) -> Result<Link, Cause> {
    let deadline = Instant::now() + config.connect_timeout;
    let tcp = timeout_at(deadline, tcp_connect(&config.url))
        .await
        .map_err(|_| Cause::ConnectTimeout)??;
    let address = tcp.peer_addr().ok();
    let mut transport = timeout_at(deadline, secure(&config.url, config.tls.as_ref(), tcp))
        .await
        .map_err(|_| Cause::ConnectTimeout)??;
    let offer = upgrade::Offer {
        url: &config.url,
        headers,
        protocols: &config.protocols,
        protocol_required: config.protocol_required,
        compression: &config.compression,
    };
    let accepted = timeout_at(deadline, upgrade::perform(&mut transport, &offer))
        .await
        .map(|upgrade| upgrade.outcome)
        .map_err(|_| {
            Cause::Handshake(format!(
                "handshake too slow: no complete upgrade response within connect_timeout ({:?})",
                config.connect_timeout
            ))
        })??;
    Ok(Link {
        transport,
        leftover: accepted.leftover,
        protocol: accepted.protocol,
        compression: accepted.compression,
        address,
    })
}

/// The text of a caught panic, for the cause that reports it.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// TLS over the TCP connection for `wss://` (the config builds a TLS setup for every `wss` URL).
pub(crate) async fn secure(
    url: &url::Url,
    tls: Option<&Arc<rustls::ClientConfig>>,
    tcp: TcpStream,
) -> Result<Transport, Cause> {
    if url.scheme() != "wss" {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    let Some(tls) = tls else {
        return Err(Cause::Tls("no TLS configuration for a wss:// URL".into()));
    };
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| Cause::Tls(format!("invalid server name {host:?}: {e}")))?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(tls_cause)?;
    Ok(MaybeTlsStream::Rustls(stream))
}

/// The TCP connection to the URL's host and port, with Nagle off (small messages must not wait).
pub(crate) async fn tcp_connect(url: &url::Url) -> Result<TcpStream, Cause> {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| Cause::ConnectFailed(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// The cause behind a failed TLS handshake: rustls reports its reasons as I/O errors of kind
/// `InvalidData`; anything else is the connection failing underneath.
pub(crate) fn tls_cause(err: std::io::Error) -> Cause {
    if err.kind() == std::io::ErrorKind::InvalidData {
        Cause::Tls(err.to_string())
    } else {
        Cause::ConnectFailed(err.to_string())
    }
}

/// The cause with any secret value that leaked into its text hidden.
pub(crate) fn scrub_cause(cause: Cause, secrets: &[String]) -> Cause {
    match cause {
        Cause::Handshake(m) => Cause::Handshake(redact::scrub(&m, secrets)),
        Cause::Tls(m) => Cause::Tls(redact::scrub(&m, secrets)),
        Cause::ConnectFailed(m) => Cause::ConnectFailed(redact::scrub(&m, secrets)),
        Cause::Network(m) => Cause::Network(redact::scrub(&m, secrets)),
        other => other,
    }
}
