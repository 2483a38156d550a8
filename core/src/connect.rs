//! One attempt: auth provider, TCP, TLS, HTTP upgrade, all within `connect_timeout`,
//! ending in an open socket or a typed [`Cause`].

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::MaybeTlsStream;

use crate::config::{AuthRequest, Config};
use crate::error::Error;
use crate::event::Cause;
use crate::socket::{self, Socket, Transport};
use crate::{policy, redact};

/// Read buffer per connection. tungstenite's default (128 KiB, zero-filled) would dominate the
/// memory of an idle client; 8 KiB keeps ~64-byte message throughput and a small footprint.
const READ_BUFFER: usize = 8 * 1024;
/// Bytes gathered before tungstenite writes to the socket; we flush after every batch anyway.
const WRITE_BUFFER: usize = 16 * 1024;

/// An open link and what its handshake said.
pub(crate) struct Link {
    pub socket: Socket,
    pub protocol: Option<String>,
}

/// The trusted roots: webpki's, plus the caller's extra root CA (PEM) if any.
pub(crate) fn root_store(extra_root_pem: Option<&str>) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_root_pem {
        for cert in crate::config::parse_pem_certs(pem)? {
            roots
                .add(cert)
                .map_err(|e| Error::InvalidCertificate(e.to_string()))?;
        }
    }
    Ok(roots)
}

/// Build the rustls configuration with an explicit crypto provider (no process default needed).
pub(crate) fn tls_config(extra_root_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let roots = root_store(extra_root_pem)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidCertificate(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The tungstenite settings every link uses.
pub(crate) fn ws_config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
}

/// Make one attempt. Dropping the future abandons it and closes any half-made socket.
pub(crate) async fn attempt(config: &Config, auth: AuthRequest) -> Result<Link, Cause> {
    let mut extra = config.headers.clone();
    if let Some(provider) = &config.auth {
        let headers = provider.headers(auth).await.map_err(Cause::Auth)?;
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
    let fut = handshake(config, extra);
    match tokio::time::timeout(config.connect_timeout, fut).await {
        Ok(Ok(link)) => Ok(link),
        Ok(Err(cause)) => Err(scrub_cause(cause, &secrets)),
        Err(_) => Err(Cause::ConnectTimeout),
    }
}

async fn handshake(config: &Config, headers: crate::config::Headers) -> Result<Link, Cause> {
    let request = build_request(&config.url, &headers, &config.protocols)?;
    let tcp = tcp_connect(&config.url).await?;
    let transport = secure(&config.url, config.tls.as_ref(), tcp).await?;
    let ws_config = ws_config(config.max_message_size);
    let (socket, response) = socket::client_handshake(transport, request, ws_config)
        .await
        .map_err(handshake_cause)?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Link { socket, protocol })
}

/// TLS over the TCP connection for `wss://` (the config builds a TLS setup for every `wss` URL).
async fn secure(
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
        .map_err(|e| handshake_cause(WsError::Io(e)))?;
    Ok(MaybeTlsStream::Rustls(stream))
}

/// The upgrade request: URL, extra headers (already validated) and offered subprotocols.
pub(crate) fn build_request(
    url: &url::Url,
    headers: &[(String, String)],
    protocols: &[String],
) -> Result<Request, Cause> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Cause::Handshake(e.to_string()))?;
    let h = request.headers_mut();
    for (name, value) in headers {
        // Validated at build time; a failure here would be a bug, reported rather than panicking.
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| Cause::Handshake(e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| Cause::Handshake(e.to_string()))?;
        h.append(name, value);
    }
    if !protocols.is_empty() {
        let value = HeaderValue::from_str(&protocols.join(", "))
            .map_err(|e| Cause::Handshake(e.to_string()))?;
        h.insert("sec-websocket-protocol", value);
    }
    Ok(request)
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

/// The cause behind a failed upgrade (status and Retry-After of a refusal, TLS, I/O).
pub(crate) fn handshake_cause(err: WsError) -> Cause {
    match err {
        WsError::Http(response) => {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(policy::parse_retry_after);
            Cause::HandshakeRejected {
                status: response.status().as_u16(),
                retry_after,
            }
        }
        WsError::Tls(e) => Cause::Tls(e.to_string()),
        WsError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => Cause::Tls(e.to_string()),
        WsError::Io(e) => Cause::ConnectFailed(e.to_string()),
        other => Cause::Handshake(other.to_string()),
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
