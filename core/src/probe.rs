//! A one-shot health check of a WebSocket endpoint: one attempt, never retried, reporting what
//! it saw — the handshake status and headers, the subprotocol, the TLS version and the
//! certificates the server presented, and the round trip of a few protocol pings.
//!
//! It uses the same URL and header validation, TLS roots and socket settings as a
//! [`Client`](crate::Client), so a healthy probe means a client would connect the same way.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use crate::config::{check_header, parse_url, Headers, DEFAULT_MAX_MESSAGE_SIZE};
use crate::deflate::{Deflater, Inflater};
use crate::error::Error;
use crate::event::Cause;
use crate::wire::{Decoded, Decoder, Encoder};
use crate::{redact, upgrade};

/// What to send and how long to wait.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Handshake headers (e.g. `Authorization`); values are checked like a client's.
    pub headers: Headers,
    /// Subprotocols offered.
    pub protocols: Vec<String>,
    /// The server must select one of `protocols` (as `ClientBuilder::require_protocol`): a
    /// server that selects none makes the probe fail with `Cause::Incompatible`.
    pub require_protocol: bool,
    /// Limit on TCP + TLS + HTTP upgrade.
    pub connect_timeout: Duration,
    /// Trust this root CA (PEM) in addition to the webpki roots.
    pub extra_root_pem: Option<String>,
    /// Protocol pings sent once the link is open.
    pub pings: u32,
    /// The compression offered (a client's default unless changed).
    pub compression: crate::Compression,
    /// How long each ping waits for its pong.
    pub ping_timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            headers: Vec::new(),
            protocols: Vec::new(),
            require_protocol: false,
            connect_timeout: crate::config::DEFAULT_CONNECT_TIMEOUT,
            extra_root_pem: None,
            pings: 3,
            compression: crate::Compression::default(),
            ping_timeout: Duration::from_secs(2),
        }
    }
}

/// What the TLS layer showed, when the URL was `wss://`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// Negotiated protocol version ("TLSv1.3"), when the handshake got that far.
    pub version: Option<String>,
    /// Negotiated cipher suite, when the TLS handshake succeeded.
    pub cipher_suite: Option<String>,
    /// The certificates the server presented (DER), end-entity first.
    pub certificates: Vec<Vec<u8>>,
    /// Why verification refused the chain, if it did.
    pub verify_error: Option<String>,
}

/// Everything one probe attempt observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeReport {
    /// The URL probed, secrets redacted.
    pub url: String,
    /// The address the TCP connection reached.
    pub address: Option<SocketAddr>,
    /// Time to establish TCP.
    pub tcp_time: Option<Duration>,
    /// Time from TCP established to the end of the HTTP upgrade (TLS included).
    pub handshake_time: Option<Duration>,
    /// HTTP status of the upgrade (101 when it succeeded).
    pub status: Option<u16>,
    /// Response headers, secret values redacted.
    pub headers: Headers,
    /// Subprotocol the server chose.
    pub protocol: Option<String>,
    /// The extension the server accepted (`permessage-deflate; ...`).
    pub compression: Option<String>,
    /// TLS details, for `wss://`.
    pub tls: Option<TlsInfo>,
    /// Round trip of each ping sent; `None` when its pong did not come in time.
    pub pings: Vec<Option<Duration>>,
    /// Why the link could not be opened or ended early.
    pub failure: Option<Cause>,
}

impl ProbeReport {
    /// Whether the WebSocket upgrade succeeded.
    pub fn opened(&self) -> bool {
        self.status == Some(101)
    }

    /// Whether every ping got its pong (false when none was sent).
    pub fn answers_pings(&self) -> bool {
        !self.pings.is_empty() && self.pings.iter().all(Option::is_some)
    }

    /// Opened, nothing failed, and every ping (if any were asked for) was answered.
    pub fn healthy(&self) -> bool {
        self.opened() && self.failure.is_none() && (self.pings.is_empty() || self.answers_pings())
    }
}

/// Probe `url` once. Bad input is an `Err`; anything the network or server did is in the report.
pub async fn probe(url: &str, options: ProbeOptions) -> Result<ProbeReport, Error> {
    let url = parse_url(url)?;
    for (name, value) in &options.headers {
        check_header(name, value)?;
    }
    for p in &options.protocols {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(Error::InvalidHeader {
                name: "Sec-WebSocket-Protocol".into(),
                reason: format!("invalid subprotocol {p:?}"),
            });
        }
    }
    for (option, d) in [
        ("connect_timeout", options.connect_timeout),
        ("ping_timeout", options.ping_timeout),
    ] {
        if d.is_zero() {
            return Err(Error::InvalidOption {
                option,
                reason: "must be greater than zero".into(),
            });
        }
    }
    let tls = match url.scheme() {
        "wss" => Some(RecordingVerifier::client_config(
            options.extra_root_pem.as_deref(),
        )?),
        _ => None,
    };
    let recorder = tls.as_ref().map(|(rec, _)| rec.clone());
    let secrets: Vec<String> = options
        .headers
        .iter()
        .filter(|(k, _)| redact::is_secret_header(k))
        .map(|(_, v)| v.clone())
        .collect();

    let mut report = ProbeReport {
        url: redact::url(&url),
        ..ProbeReport::default()
    };
    let deadline = Instant::now() + options.connect_timeout;
    let opened = timeout_at(
        deadline,
        open(&url, &options, tls.map(|(_, config)| config), &mut report),
    )
    .await;
    if let Some(rec) = &recorder {
        let seen = rec.seen();
        let tls = report.tls.get_or_insert_with(TlsInfo::default);
        if tls.version.is_none() {
            tls.version = seen.version.map(str::to_string);
        }
        tls.certificates = seen.certificates;
        tls.verify_error = seen.verify_error;
    }
    let mut link = match opened {
        Ok(Ok(link)) => link,
        Ok(Err(cause)) => {
            report.failure = Some(crate::connect::scrub_cause(cause, &secrets));
            return Ok(report);
        }
        Err(_) => {
            report.failure = Some(Cause::ConnectTimeout);
            return Ok(report);
        }
    };

    for i in 0..options.pings {
        let payload = format!("wstether-probe-{i}");
        let sent = Instant::now();
        if let Err(e) = link
            .send(|enc, out| enc.ping(payload.as_bytes(), out))
            .await
        {
            report.failure = Some(Cause::Network(e.to_string()));
            break;
        }
        let answer = timeout_at(sent + options.ping_timeout, async {
            loop {
                match link.next().await {
                    Ok(Decoded::Pong(p)) if p.as_ref() == payload.as_bytes() => {
                        return Ok(sent.elapsed())
                    }
                    Ok(Decoded::Close(status)) => {
                        let (code, reason) = status.unwrap_or((1005, String::new()));
                        return Err(Cause::Closed { code, reason });
                    }
                    Ok(Decoded::Ping(p)) => {
                        let _ = link.send(|enc, out| enc.pong(&p, out)).await;
                    }
                    // Data messages and stray pongs are not what we wait for.
                    Ok(_) => {}
                    Err(cause) => return Err(cause),
                }
            }
        })
        .await;
        match answer {
            Ok(Ok(rtt)) => report.pings.push(Some(rtt)),
            Ok(Err(cause)) => {
                report.pings.push(None);
                report.failure = Some(cause);
                break;
            }
            Err(_) => report.pings.push(None),
        }
    }

    if report.failure.is_none() {
        // Be polite: a proper close, but never wait long for the server's answer.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            link.send(|enc, out| enc.close(Some((1000, "probe done")), out))
                .await?;
            while !matches!(link.next().await, Ok(Decoded::Close(_)) | Err(_)) {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    }
    Ok(report)
}

/// TCP, TLS and upgrade — the client's own steps (`connect`, `upgrade`) — filling `report` as
/// each completes, so a timeout keeps what was seen.
async fn open(
    url: &url::Url,
    options: &ProbeOptions,
    tls: Option<Arc<rustls::ClientConfig>>,
    report: &mut ProbeReport,
) -> Result<ProbeLink, Cause> {
    let started = Instant::now();
    let (host, port) = crate::connect::host_port(url);
    let (tcp, address) = crate::dns::connect(host, port, &Default::default()).await?;
    report.tcp_time = Some(started.elapsed());
    report.address = Some(address);

    let upgrading = Instant::now();
    let tunnel = crate::connect::Tunnel::Tcp(tcp);
    let secured = match &tls {
        Some(tls) => crate::connect::secure(url, tls, tunnel).await,
        None => Ok(crate::connect::Transport::Plain(tunnel)),
    };
    if secured.is_err() {
        report.handshake_time = Some(upgrading.elapsed());
    }
    let mut transport = secured?;
    if let crate::connect::Transport::Tls(tls) = &transport {
        let (_, session) = tls.get_ref();
        report.tls = Some(TlsInfo {
            version: session
                .protocol_version()
                .and_then(|v| v.as_str())
                .map(|v| v.replace("TLSv1_", "TLSv1.")),
            cipher_suite: session
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .map(str::to_string),
            ..TlsInfo::default()
        });
    }
    let offer = upgrade::Offer {
        url,
        headers: &options.headers,
        protocols: &options.protocols,
        protocol_required: options.require_protocol,
        compression: &options.compression,
    };
    let upgrade = upgrade::perform(&mut transport, &offer).await;
    report.handshake_time = Some(upgrading.elapsed());
    if let Some(head) = &upgrade.head {
        report.status = Some(head.status);
        report.headers = head
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), redact::header_value(k, v).to_string()))
            .collect();
    }
    let accepted = upgrade.outcome?;
    report.protocol = accepted.protocol;
    report.compression = accepted.compression.as_ref().map(|p| p.to_string());
    let (inflater, deflater) = match &accepted.compression {
        Some(params) => (Some(Inflater::new(params)), Some(Deflater::new(params))),
        None => (None, None),
    };
    Ok(ProbeLink {
        transport,
        decoder: Decoder::new(DEFAULT_MAX_MESSAGE_SIZE, &accepted.leftover, inflater),
        encoder: Encoder::new(rand::random(), deflater, options.compression.min_size),
    })
}

/// The probe's open link: it owns the socket alone, so plain async reads and writes do.
struct ProbeLink {
    transport: crate::connect::Transport,
    decoder: Decoder,
    encoder: Encoder,
}

impl ProbeLink {
    /// Encode one frame with `frame` and write it.
    async fn send(
        &mut self,
        frame: impl FnOnce(&mut Encoder, &mut BytesMut),
    ) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        frame(&mut self.encoder, &mut out);
        self.transport.write_all(&out).await?;
        self.transport.flush().await
    }

    /// The next frame or message.
    async fn next(&mut self) -> Result<Decoded, Cause> {
        loop {
            match self.decoder.decode() {
                Ok(Some(decoded)) => return Ok(decoded),
                Ok(None) => {}
                Err(v) => return Err(Cause::Protocol(v.detail)),
            }
            let (transport, decoder) = (&mut self.transport, &mut self.decoder);
            let n = std::future::poll_fn(|cx| {
                let mut buf = tokio::io::ReadBuf::uninit(decoder.spare());
                match Pin::new(&mut *transport).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
            .map_err(|e| Cause::Network(e.to_string()))?;
            self.decoder.filled(n);
            if n == 0 {
                return Err(Cause::Network("connection ended".into()));
            }
        }
    }
}

#[derive(Debug, Default)]
struct Seen {
    certificates: Vec<Vec<u8>>,
    version: Option<&'static str>,
    verify_error: Option<String>,
}

/// The client's usual webpki verifier, wrapped to remember what the server presented — so a
/// probe can show the certificate even when verification or the upgrade fails. Every decision
/// is the inner verifier's: this adds no way to skip verification.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    seen: Mutex<Seen>,
}

impl RecordingVerifier {
    fn new(extra_root_pem: Option<&str>) -> Result<Self, Error> {
        let roots = crate::tls::root_store(extra_root_pem)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::InvalidCertificate(e.to_string()))?;
        Ok(RecordingVerifier {
            inner,
            provider,
            seen: Mutex::new(Seen::default()),
        })
    }

    /// The verifier and a client TLS configuration that uses it (same roots and provider as a client's).
    fn client_config(
        extra_root_pem: Option<&str>,
    ) -> Result<(Arc<Self>, Arc<rustls::ClientConfig>), Error> {
        let verifier = Arc::new(Self::new(extra_root_pem)?);
        let config = rustls::ClientConfig::builder_with_provider(verifier.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::InvalidCertificate(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        Ok((verifier, Arc::new(config)))
    }

    fn seen(&self) -> Seen {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn record(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.seen.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.record(|s| {
            s.certificates = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.as_ref().to_vec())
                .collect();
        });
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Err(e) = &verdict {
            let text = e.to_string();
            self.record(|s| s.verify_error = Some(text));
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.record(|s| s.version = Some("TLSv1.2"));
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.record(|s| s.version = Some("TLSv1.3"));
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}
