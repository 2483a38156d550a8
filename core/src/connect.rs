//! One attempt: the URL's route (direct, or through a proxy: `proxy`), the TCP connection
//! (`dns`: resolution and Happy Eyeballs), TLS (`tls`) and the HTTP upgrade (`upgrade`), all
//! within `connect_timeout`, ending in an open socket or a typed [`Cause`].

use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use url::Url;

use crate::config::{AuthRequest, Config};
use crate::deflate::Params;
use crate::event::Cause;
use crate::proxy::{Kind, ProxyUrl};
use crate::{dns, proxy, redact, upgrade};

/// The byte stream a WebSocket runs on: TCP, or a TLS session to an `https://` proxy.
pub(crate) enum Tunnel {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// TCP read on the consumer's own loop (`watched.rs`).
    #[cfg(unix)]
    Watched(crate::watched::Watched),
    /// Only while the socket moves between two of the above.
    Moved(Moved),
}

/// A tunnel whose socket was moved out: every operation fails.
pub(crate) struct Moved;

fn moved() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket was moved")
}

impl AsyncRead for Moved {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(moved()))
    }
}

impl AsyncWrite for Moved {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(moved()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(moved()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(moved()))
    }
}

/// The transport under the WebSocket: the tunnel itself (`ws://`), or TLS over it (`wss://`).
pub(crate) enum Transport {
    Plain(Tunnel),
    Tls(Box<TlsStream<Tunnel>>),
}

impl Transport {
    /// Whether written bytes may wait inside the transport (TLS buffers until flushed).
    pub(crate) fn buffers_writes(&self) -> bool {
        match self {
            Transport::Plain(Tunnel::Tcp(_)) => false,
            #[cfg(unix)]
            Transport::Plain(Tunnel::Watched(_)) => false,
            _ => true,
        }
    }

    /// Hand the TCP socket's readability to the consumer's loop (`watched.rs`); its descriptor,
    /// or `None` for a tunnel that stays with the runtime (TLS to an `https://` proxy).
    #[cfg(unix)]
    pub(crate) fn watch(&mut self) -> io::Result<Option<std::os::fd::RawFd>> {
        let tunnel = match self {
            Transport::Plain(t) => t,
            Transport::Tls(tls) => tls.get_mut().0,
        };
        if !matches!(tunnel, Tunnel::Tcp(_)) {
            return Ok(None);
        }
        let Tunnel::Tcp(tcp) = std::mem::replace(tunnel, Tunnel::Moved(Moved)) else {
            unreachable!("checked above");
        };
        // On failure the tunnel stays `Moved`: the next read fails and the link is replaced.
        let watched = crate::watched::Watched::new(tcp)?;
        let fd = watched.fd();
        *tunnel = Tunnel::Watched(watched);
        Ok(Some(fd))
    }
}

macro_rules! delegate_io {
    ($ty:ty, $($variant:path),+) => {
        impl AsyncRead for $ty {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() { $($variant(s) => Pin::new(s).poll_read(cx, buf),)+ }
            }
        }
        impl AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                match self.get_mut() { $($variant(s) => Pin::new(s).poll_write(cx, buf),)+ }
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() { $($variant(s) => Pin::new(s).poll_flush(cx),)+ }
            }
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() { $($variant(s) => Pin::new(s).poll_shutdown(cx),)+ }
            }
            fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
                match self.get_mut() { $($variant(s) => Pin::new(s).poll_write_vectored(cx, bufs),)+ }
            }
            fn is_write_vectored(&self) -> bool {
                match self { $($variant(s) => s.is_write_vectored(),)+ }
            }
        }
    };
}

#[cfg(unix)]
delegate_io!(
    Tunnel,
    Tunnel::Tcp,
    Tunnel::Tls,
    Tunnel::Watched,
    Tunnel::Moved
);
#[cfg(not(unix))]
delegate_io!(Tunnel, Tunnel::Tcp, Tunnel::Tls, Tunnel::Moved);
delegate_io!(Transport, Transport::Plain, Transport::Tls);

/// An upgraded connection and what its handshake said.
pub(crate) struct Link {
    pub transport: Transport,
    /// Bytes that arrived behind the `101` response: the start of the first frames.
    pub leftover: Vec<u8>,
    pub protocol: Option<String>,
    /// permessage-deflate as negotiated.
    pub compression: Option<Params>,
    /// The address connected to: the server's, or the proxy's when one is used.
    pub address: Option<SocketAddr>,
}

/// Make one attempt to `url`. Dropping the future abandons it and closes any half-made socket.
pub(crate) async fn attempt(config: &Config, url: &Url, auth: AuthRequest) -> Result<Link, Cause> {
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
    let mut secrets: Vec<String> = extra
        .iter()
        .filter(|(k, _)| redact::is_secret_header(k))
        .map(|(_, v)| v.clone())
        .collect();
    let proxy = config.route.proxy_for(url)?;
    if let Some(p) = &proxy {
        secrets.extend(p.secrets());
    }
    handshake(config, url, proxy.as_ref(), &extra)
        .await
        .map_err(|cause| scrub_cause(cause, &secrets))
}

/// Ask the URL provider for this attempt's URL; a failure, a panic or a URL that does not
/// parse fails the attempt ([`Cause::UrlProvider`]).
pub(crate) async fn locate(config: &Config, request: AuthRequest) -> Result<Url, Cause> {
    let Some(provider) = &config.url_provider else {
        return Ok(config.url.clone());
    };
    let raw = AssertUnwindSafe(provider.url(request))
        .catch_unwind()
        .await
        .map_err(|panic| Cause::UrlProvider(format!("provider panicked: {}", panic_text(&*panic))))?
        .map_err(Cause::UrlProvider)?;
    crate::config::parse_url(&raw)
        .map_err(|e| Cause::UrlProvider(format!("provider returned an unusable URL: {e}")))
}

/// Route, TCP, TLS and the upgrade, all by one deadline (`connect_timeout`). A server that
/// accepts the connection but answers the upgrade too slowly is told apart from one never
/// reached.
async fn handshake(
    config: &Config,
    url: &Url,
    proxy: Option<&ProxyUrl>,
    headers: &[(String, String)],
) -> Result<Link, Cause> {
    let deadline = Instant::now() + config.connect_timeout;
    let (mut transport, address) = timeout_at(deadline, establish(config, url, proxy))
        .await
        .map_err(|_| Cause::ConnectTimeout)??;
    let offer = upgrade::Offer {
        url,
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
        address: Some(address),
    })
}

/// The transport to `url`, directly or through `proxy`, secured for `wss://`; and the address
/// the TCP connection reached (the proxy's, through a proxy).
pub(crate) async fn establish(
    config: &Config,
    url: &Url,
    proxy: Option<&ProxyUrl>,
) -> Result<(Transport, SocketAddr), Cause> {
    let (tunnel, address) = open_tunnel(config, url, proxy).await?;
    Ok((secure(url, &config.tls, tunnel).await?, address))
}

/// The byte stream to `url`'s host and port: a TCP connection, or a tunnel through a proxy.
pub(crate) async fn open_tunnel(
    config: &Config,
    url: &Url,
    proxy: Option<&ProxyUrl>,
) -> Result<(Tunnel, SocketAddr), Cause> {
    let (host, port) = host_port(url);
    let Some(proxy) = proxy else {
        let (tcp, address) = dns::connect(host, port, &config.resolve).await?;
        return Ok((Tunnel::Tcp(tcp), address));
    };
    let (tcp, address) = dns::connect(&proxy.host, proxy.port, &config.resolve)
        .await
        .map_err(|cause| match cause {
            Cause::ConnectFailed(m) => Cause::ConnectFailed(format!("proxy {proxy}: {m}")),
            other => other,
        })?;
    let mut tunnel = if proxy.kind == Kind::Https {
        let name = server_name(&proxy.host)?;
        let tls = tokio_rustls::TlsConnector::from(config.proxy_tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| match tls_cause(e) {
                Cause::Tls(m) => Cause::Tls(format!("proxy {proxy}: {m}")),
                other => other,
            })?;
        Tunnel::Tls(Box::new(tls))
    } else {
        Tunnel::Tcp(tcp)
    };
    proxy::tunnel(proxy, &mut tunnel, host, port).await?;
    Ok((tunnel, address))
}

/// The URL's host (brackets stripped) and port.
pub(crate) fn host_port(url: &Url) -> (&str, u16) {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, url.port_or_known_default().unwrap_or(80))
}

fn server_name(host: &str) -> Result<rustls_pki_types::ServerName<'static>, Cause> {
    rustls_pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| Cause::Tls(format!("invalid server name {host:?}: {e}")))
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

/// TLS over the tunnel for `wss://`.
pub(crate) async fn secure(
    url: &Url,
    tls: &Arc<rustls::ClientConfig>,
    tunnel: Tunnel,
) -> Result<Transport, Cause> {
    if url.scheme() != "wss" {
        return Ok(Transport::Plain(tunnel));
    }
    let name = server_name(host_port(url).0)?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tunnel)
        .await
        .map_err(tls_cause)?;
    Ok(Transport::Tls(Box::new(stream)))
}

/// The cause behind a failed TLS handshake: rustls reports its reasons as I/O errors of kind
/// `InvalidData` (said in words that tell what to do); anything else is the connection
/// failing underneath.
pub(crate) fn tls_cause(err: std::io::Error) -> Cause {
    if err.kind() == std::io::ErrorKind::InvalidData {
        Cause::Tls(crate::tls::failure_text(&err))
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
        Cause::ProxyAuth(m) => Cause::ProxyAuth(redact::scrub(&m, secrets)),
        other => other,
    }
}
