//! What leaves the core: events, messages, states and the causes behind them.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

/// UTF-8 text in shared, reference-counted bytes: a text message's payload, cheap to clone.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Text that lives for the whole program, without a copy.
    pub const fn from_static(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }

    /// Bytes known to be UTF-8, without checking them again.
    ///
    /// # Safety
    /// `bytes` must be valid UTF-8.
    pub(crate) unsafe fn from_bytes_unchecked(bytes: Bytes) -> Self {
        Utf8Bytes(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor takes a `str` or checks the bytes are UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The bytes of the text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;

    /// Checks the bytes are UTF-8; no copy.
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Bytes {
        text.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A data message, inbound or outbound.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t.as_str()),
            Message::Binary(_) => None,
        }
    }
}

impl fmt::Debug for Message {
    // Payloads can be large or sensitive: show kind and size, and a short text prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Text(t) if t.len() <= 32 => write!(f, "Text({:?})", t.as_str()),
            Message::Text(t) => write!(f, "Text({} bytes)", t.len()),
            Message::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s.into())
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.into())
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b.into())
    }
}

/// The client's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Built, `connect()` not called yet.
    Idle,
    /// An attempt is in flight (TCP, TLS, HTTP upgrade).
    Connecting,
    /// The link is open.
    Open,
    /// The link was lost; waiting out the backoff delay.
    Waiting,
    /// Paused by `pause()`; nothing happens until `resume()`.
    Paused,
    /// `close()` is shutting the link down.
    Closing,
    /// Closed by `close()` (or by dropping the client). Terminal.
    Closed,
    /// Gave up: retry limit, or a cause retrying cannot fix. Terminal.
    Failed,
}

impl State {
    /// Whether the client will never connect again.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Closed | State::Failed)
    }

    /// Lower-case name, as bindings show it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Connecting => "connecting",
            State::Open => "open",
            State::Waiting => "waiting",
            State::Paused => "paused",
            State::Closing => "closing",
            State::Closed => "closed",
            State::Failed => "failed",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side ended a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// This client closed it with a close frame (`close()`, `pause()`, a protocol error or an
    /// oversized message from the server).
    Local,
    /// The server sent a close frame.
    Remote,
    /// Nobody closed it: the socket failed (reset, EOF without close frame), or the client found
    /// it dead (heartbeat timeout, a stalled write) and dropped it without a closing handshake.
    Network,
}

impl Initiator {
    /// Lower-case name, as bindings show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Initiator::Local => "local",
            Initiator::Remote => "remote",
            Initiator::Network => "network",
        }
    }
}

/// Why a link ended or an attempt failed: the reason behind a `Reconnecting` or `Failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The TCP connection could not be made (refused, unreachable, DNS).
    ConnectFailed(String),
    /// TCP + TLS + upgrade took longer than `connect_timeout`.
    ConnectTimeout,
    /// TLS failed (certificate not trusted, handshake error).
    Tls(String),
    /// The server answered the upgrade with a non-101 status.
    HandshakeRejected {
        /// HTTP status code.
        status: u16,
        /// `Retry-After` in seconds, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The HTTP upgrade failed for another reason (bad response, protocol mismatch).
    Handshake(String),
    /// The auth provider returned an error (or panicked).
    Auth(String),
    /// The URL provider returned an error, panicked, or gave a URL that is not `ws://`/`wss://`.
    UrlProvider(String),
    /// The HTTP proxy answered `CONNECT` with this status (407, or 401 from some proxies: it
    /// wants other credentials, which is terminal; 403: it forbids the destination; 502: it
    /// could not reach it).
    ProxyRejected {
        /// HTTP status code of the proxy's answer.
        status: u16,
    },
    /// The SOCKS5 proxy refused the connection with this reply code (RFC 1928 §6: 2 not
    /// allowed, 3 network unreachable, 4 host unreachable, 5 refused, …).
    SocksRejected {
        /// The reply code.
        reply: u8,
    },
    /// The SOCKS5 proxy refused the credentials, or wants some and none were given. Terminal.
    ProxyAuth(String),
    /// The server's upgrade answer does not fit the offer (a subprotocol or extension that was
    /// not offered, or none when one is required). Terminal: retrying gets the same answer.
    Incompatible(String),
    /// The link was closed with this close code (sent by the server, or by us).
    Closed {
        /// Close code (1006 when no close frame arrived).
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// Nothing arrived for heartbeat interval + timeout: the link was dead.
    HeartbeatTimeout,
    /// A write made no progress for as long as the link may stay silent (heartbeat interval +
    /// timeout, or 30 s without a heartbeat): the link was dead.
    WriteStalled,
    /// The socket failed while open (reset, EOF without a close frame).
    Network(String),
    /// The server broke the WebSocket protocol.
    Protocol(String),
    /// An inbound message exceeded `max_message_size` (we closed with 1009).
    MessageTooLarge,
    /// `network_changed()` found the link dead.
    NetworkChanged,
    /// `max_retries` attempts failed.
    RetriesExhausted {
        /// Attempts made since the last stable open.
        attempts: u32,
        /// Why the last one failed.
        last: Box<Cause>,
    },
    /// The client's task stopped unexpectedly (a panic in the client, or its runtime shut
    /// down). Terminal: the `Failed` event carries every unsent message.
    Internal(String),
    /// `max_elapsed` passed without a link.
    ElapsedExhausted {
        /// How long the client had been without a link.
        elapsed: Duration,
        /// Why the last attempt failed.
        last: Box<Cause>,
    },
}

impl Cause {
    /// A stable short name for the cause, for logs and bindings.
    pub fn kind(&self) -> &'static str {
        match self {
            Cause::ConnectFailed(_) => "connect_failed",
            Cause::ConnectTimeout => "connect_timeout",
            Cause::Tls(_) => "tls",
            Cause::HandshakeRejected { .. } => "handshake_rejected",
            Cause::Handshake(_) => "handshake",
            Cause::Auth(_) => "auth",
            Cause::UrlProvider(_) => "url_provider",
            Cause::ProxyRejected { .. } => "proxy_rejected",
            Cause::SocksRejected { .. } => "socks_rejected",
            Cause::ProxyAuth(_) => "proxy_auth",
            Cause::Incompatible(_) => "incompatible",
            Cause::Closed { .. } => "closed",
            Cause::HeartbeatTimeout => "heartbeat_timeout",
            Cause::WriteStalled => "write_stalled",
            Cause::Network(_) => "network",
            Cause::Protocol(_) => "protocol",
            Cause::MessageTooLarge => "message_too_large",
            Cause::NetworkChanged => "network_changed",
            Cause::RetriesExhausted { .. } => "retries_exhausted",
            Cause::ElapsedExhausted { .. } => "elapsed_exhausted",
            Cause::Internal(_) => "internal",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::ConnectFailed(m) => write!(f, "connect failed: {m}"),
            Cause::ConnectTimeout => f.write_str("connect timed out"),
            Cause::Tls(m) => write!(f, "TLS error: {m}"),
            Cause::HandshakeRejected {
                status,
                retry_after: Some(d),
            } => {
                write!(
                    f,
                    "handshake rejected with HTTP {status} (Retry-After {}s)",
                    d.as_secs()
                )
            }
            Cause::HandshakeRejected { status, .. } => {
                write!(f, "handshake rejected with HTTP {status}")
            }
            Cause::Handshake(m) => write!(f, "handshake failed: {m}"),
            Cause::Auth(m) => write!(f, "auth provider failed: {m}"),
            Cause::UrlProvider(m) => write!(f, "URL provider failed: {m}"),
            Cause::ProxyRejected {
                status: status @ (401 | 407),
            } => write!(
                f,
                "proxy rejected CONNECT with HTTP {status}: it wants other credentials (put them in the proxy URL: http://user:password@host:port)"
            ),
            Cause::ProxyRejected { status } => {
                write!(f, "proxy rejected CONNECT with HTTP {status}")
            }
            Cause::SocksRejected { reply } => write!(
                f,
                "SOCKS5 proxy refused the connection: {} (reply {reply})",
                socks_reply_text(*reply)
            ),
            Cause::ProxyAuth(m) => write!(f, "proxy authentication failed: {m}"),
            Cause::Incompatible(m) => write!(f, "server incompatible with the offer: {m}"),
            Cause::Closed { code, reason } if reason.is_empty() => {
                write!(f, "closed with {code} ({})", close_code_name(*code))
            }
            Cause::Closed { code, reason } => write!(
                f,
                "closed with {code} ({}): {reason}",
                close_code_name(*code)
            ),
            Cause::HeartbeatTimeout => f.write_str("heartbeat timeout: no data from the server"),
            Cause::WriteStalled => f.write_str("write made no progress: the link is dead"),
            Cause::Network(m) => write!(f, "network error: {m}"),
            Cause::Protocol(m) => write!(f, "protocol error: {m}"),
            Cause::MessageTooLarge => f.write_str("inbound message larger than max_message_size"),
            Cause::NetworkChanged => f.write_str("link dead after network change"),
            Cause::RetriesExhausted { attempts, last } => {
                write!(f, "gave up after {attempts} failed attempts; last: {last}")
            }
            Cause::Internal(m) => write!(f, "the client stopped unexpectedly: {m}"),
            Cause::ElapsedExhausted { elapsed, last } => {
                // Tenths of a second in integers: float formatting would be a fifth of what
                // a browser downloads for the machine.
                let tenths = (elapsed.as_millis() as u64).saturating_add(50) / 100;
                write!(
                    f,
                    "gave up after {}.{}s without a link; last: {last}",
                    tenths / 10,
                    tenths % 10
                )
            }
        }
    }
}

/// What a SOCKS5 reply code means (RFC 1928 §6).
fn socks_reply_text(reply: u8) -> &'static str {
    match reply {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown reply",
    }
}

/// The name of a close code, for logs ("1006 abnormal closure: no close frame").
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status received",
        1006 => "abnormal closure: no close frame",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal server error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake failure",
        3000..=3999 => "registered application code",
        4000..=4999 => "private application code",
        _ => "unknown code",
    }
}

/// What kind of trouble an `Error` event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An attempt failed (TCP, TLS, handshake, timeout).
    Connect,
    /// The auth provider failed, or the server rejected credentials.
    Auth,
    /// The open link failed (protocol error, oversized message, heartbeat).
    Link,
    /// An application callback raised (reported by a binding).
    Callback,
}

impl ErrorKind {
    /// Lower-case name, as bindings show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Auth => "auth",
            ErrorKind::Link => "link",
            ErrorKind::Callback => "callback",
        }
    }
}

/// Something the client tells its user, in order, one at a time.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The state changed (emitted before the event that explains it).
    StateChanged {
        /// The new state.
        state: State,
    },
    /// An attempt begins.
    Connecting {
        /// Attempt number since the last stable link, from 1.
        attempt: u32,
    },
    /// The link is open.
    Open {
        /// Attempt number that succeeded.
        attempt: u32,
        /// Subprotocol the server chose.
        protocol: Option<String>,
        /// The extension the server accepted, as negotiated (e.g. `permessage-deflate;
        /// server_max_window_bits=12`); `None` when messages travel uncompressed.
        compression: Option<String>,
        /// The address the TCP connection reached (after DNS and Happy Eyeballs): the server's,
        /// or the proxy's when the link goes through one.
        address: Option<std::net::SocketAddr>,
    },
    /// A message arrived.
    Message(Message),
    /// A heartbeat got its answer.
    Pong {
        /// Round-trip time of the ping.
        rtt: Duration,
    },
    /// An open link ended.
    Closed {
        /// Close code (1006 when no close frame was exchanged).
        code: u16,
        /// Close reason.
        reason: String,
        /// Who ended it.
        initiator: Initiator,
        /// Whether the client will try again.
        will_reconnect: bool,
    },
    /// Waiting before the next attempt.
    Reconnecting {
        /// Number of the attempt that will follow the delay.
        attempt: u32,
        /// The delay before it.
        delay: Duration,
        /// Why the previous link or attempt ended.
        cause: Cause,
    },
    /// Something failed and the client is still trying.
    Error {
        /// What kind of failure.
        kind: ErrorKind,
        /// Human-readable description (secrets redacted).
        message: String,
    },
    /// Terminal: the client gave up.
    Failed {
        /// Why it gave up.
        reason: Cause,
        /// Every accepted message that was never written.
        unsent: Vec<Message>,
    },
}

impl Event {
    /// A stable short name, as bindings use for event types.
    pub fn name(&self) -> &'static str {
        match self {
            Event::StateChanged { .. } => "state",
            Event::Connecting { .. } => "connecting",
            Event::Open { .. } => "open",
            Event::Message(_) => "message",
            Event::Pong { .. } => "pong",
            Event::Closed { .. } => "closed",
            Event::Reconnecting { .. } => "reconnecting",
            Event::Error { .. } => "error",
            Event::Failed { .. } => "failed",
        }
    }

    /// The `Error` event a binding reports when an application callback raised.
    pub fn callback_error(message: impl Into<String>) -> Event {
        Event::Error {
            kind: ErrorKind::Callback,
            message: message.into(),
        }
    }
}

/// What a binding does when an application callback raised (the `callback-error` scenario of
/// `tests/README.md`, one rule for every language): log [`message`](Self::message) with the
/// exception through the language's logging, then deliver [`report`](Self::report), if any,
/// to every consumer right after the event being handled. The client carries on either way.
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackFailure {
    /// What to log, e.g. `on_message raised ValueError('boom')`.
    pub message: String,
    /// The `Error { kind: Callback }` event to deliver; `None` when the callback was handling an
    /// `Error` event itself (reporting that failure as another `Error` could loop).
    pub report: Option<Event>,
}

impl CallbackFailure {
    /// `callback` (the handler's name in the binding's language) raised `exception` (as the
    /// language prints it) while handling an `Error` event or not.
    pub fn new(callback: &str, exception: &str, handling_error: bool) -> CallbackFailure {
        let message = format!("{callback} raised {exception}");
        let report = (!handling_error).then(|| Event::callback_error(message.clone()));
        CallbackFailure { message, report }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_failure_is_reported_unless_it_handled_an_error() {
        let f = CallbackFailure::new("on_message", "ValueError('boom')", false);
        assert_eq!(f.message, "on_message raised ValueError('boom')");
        assert_eq!(
            f.report,
            Some(Event::Error {
                kind: ErrorKind::Callback,
                message: f.message.clone()
            })
        );
        // A failing error handler is logged only: no report, so no loop.
        assert_eq!(CallbackFailure::new("on_error", "E", true).report, None);
    }
}
