//! The builder: every option, its default (the numbers in SPEC.md live here and in the
//! option types), and validation so that bad input fails at build time, never at first use.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use url::Url;

use crate::backoff::Backoff;
use crate::client::Client;
use crate::error::Error;
use crate::event::Message;
use crate::heartbeat::Heartbeat;
use crate::outbox::OutboxLimits;
use crate::policy::TerminalPolicy;
use crate::redact;

/// Default for `connect_timeout`: TCP + TLS + HTTP upgrade.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default handshakes per second per host, shared by the whole process.
pub const DEFAULT_HANDSHAKE_BUDGET: u32 = 50;
/// Default largest inbound (and outbound) message.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
/// Default number of inbound messages buffered for a slow consumer before reading stops.
pub const DEFAULT_EVENT_BUFFER: usize = 1024;
/// Default time a local close waits for the server's close frame.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Headers returned by an auth provider: `(name, value)` pairs.
pub type Headers = Vec<(String, String)>;
/// What an auth provider's future resolves to.
pub type AuthResult = Result<Headers, String>;
/// The boxed future an auth provider returns.
pub type AuthFuture = Pin<Box<dyn Future<Output = AuthResult> + Send>>;

/// What the auth provider is told about the attempt it is called for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    /// Attempt number since the last stable link, from 1.
    pub attempt: u32,
    /// The previous attempt was rejected with 401: the credentials must be fresh.
    pub after_unauthorized: bool,
}

/// Supplies handshake headers (e.g. a fresh bearer token) before every attempt.
pub trait AuthProvider: Send + Sync + 'static {
    /// Produce the headers for this attempt.
    fn headers(&self, request: AuthRequest) -> AuthFuture;
}

impl<F, Fut> AuthProvider for F
where
    F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AuthResult> + Send + 'static,
{
    fn headers(&self, request: AuthRequest) -> AuthFuture {
        Box::pin(self(request))
    }
}

/// What an async greeting provider's future resolves to: the messages, or why it failed.
pub type GreetingFuture = Pin<Box<dyn Future<Output = Result<Vec<Message>, String>> + Send>>;

/// Messages sent first on every open, before the outbox.
#[derive(Clone, Default)]
pub enum Greeting {
    /// Nothing.
    #[default]
    None,
    /// The same messages on every open.
    Fixed(Vec<Message>),
    /// Computed on every open (resubscribe with current state).
    Provider(Arc<dyn Fn() -> Vec<Message> + Send + Sync>),
    /// Computed on every open by a future: for providers that live on another thread or in
    /// another language (bindings), so no runtime worker blocks while they run.
    Async(Arc<dyn Fn() -> GreetingFuture + Send + Sync>),
}

impl Greeting {
    /// The messages for this open.
    pub(crate) async fn messages(&self) -> Result<Vec<Message>, String> {
        match self {
            Greeting::None => Ok(Vec::new()),
            Greeting::Fixed(m) => Ok(m.clone()),
            Greeting::Provider(f) => Ok(f()),
            Greeting::Async(f) => f().await,
        }
    }
}

impl fmt::Debug for Greeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Greeting::None => f.write_str("None"),
            Greeting::Fixed(m) => write!(f, "Fixed({} messages)", m.len()),
            Greeting::Provider(_) => f.write_str("Provider"),
            Greeting::Async(_) => f.write_str("Async"),
        }
    }
}

/// Validated settings of one client. Built by [`ClientBuilder`].
#[derive(Clone)]
pub struct Config {
    pub(crate) url: Url,
    pub(crate) host_key: String,
    pub(crate) protocols: Vec<String>,
    pub(crate) protocol_required: bool,
    pub(crate) headers: Headers,
    pub(crate) auth: Option<Arc<dyn AuthProvider>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) max_retries: Option<u32>,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) outbox: OutboxLimits,
    pub(crate) handshake_budget: Option<u32>,
    pub(crate) greeting: Greeting,
    pub(crate) terminal: TerminalPolicy,
    pub(crate) max_message_size: usize,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) event_buffer: usize,
    pub(crate) close_timeout: Duration,
}

impl Config {
    /// The URL with secrets hidden, for logs.
    pub fn redacted_url(&self) -> String {
        redact::url(&self.url)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), redact::header_value(k, v)))
            .collect();
        f.debug_struct("Config")
            .field("url", &self.redacted_url())
            .field("protocols", &self.protocols)
            .field("protocol_required", &self.protocol_required)
            .field("headers", &headers)
            .field("auth", &self.auth.as_ref().map(|_| "provider"))
            .field("connect_timeout", &self.connect_timeout)
            .field("backoff", &self.backoff)
            .field("max_retries", &self.max_retries)
            .field("max_elapsed", &self.max_elapsed)
            .field("heartbeat", &self.heartbeat)
            .field("outbox", &self.outbox)
            .field("handshake_budget", &self.handshake_budget)
            .field("greeting", &self.greeting)
            .field("terminal", &self.terminal)
            .field("max_message_size", &self.max_message_size)
            .field("tls_custom_roots", &self.tls.is_some())
            .finish()
    }
}

/// Builds a [`Client`]: `Client::builder(url).heartbeat(..).build()?`.
#[must_use]
pub struct ClientBuilder {
    url: String,
    protocols: Vec<String>,
    protocol_required: bool,
    headers: Headers,
    auth: Option<Arc<dyn AuthProvider>>,
    connect_timeout: Duration,
    backoff: Backoff,
    max_retries: Option<u32>,
    max_elapsed: Option<Duration>,
    heartbeat: Option<Heartbeat>,
    outbox: OutboxLimits,
    handshake_budget: Option<u32>,
    greeting: Greeting,
    terminal: TerminalPolicy,
    max_message_size: usize,
    extra_root_pem: Option<String>,
    event_buffer: usize,
    close_timeout: Duration,
    runtime: Option<Handle>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &redact::raw_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(crate) fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            protocols: Vec::new(),
            protocol_required: false,
            headers: Vec::new(),
            auth: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            backoff: Backoff::default(),
            max_retries: None,
            max_elapsed: None,
            heartbeat: Some(Heartbeat::default()),
            outbox: OutboxLimits::default(),
            handshake_budget: Some(DEFAULT_HANDSHAKE_BUDGET),
            greeting: Greeting::None,
            terminal: TerminalPolicy::default(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            extra_root_pem: None,
            event_buffer: DEFAULT_EVENT_BUFFER,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            runtime: None,
        }
    }

    /// Subprotocols offered in the handshake.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the server must select one of the offered subprotocols (default `false`: a server
    /// that selects none opens with `protocol = None`). When required, a server that selects
    /// none fails the client (terminal), naming the protocols offered.
    pub fn require_protocol(mut self, required: bool) -> Self {
        self.protocol_required = required;
        self
    }

    /// Add a static handshake header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Called before every attempt; its headers are added to that handshake.
    pub fn auth(mut self, provider: impl AuthProvider) -> Self {
        self.auth = Some(Arc::new(provider));
        self
    }

    /// Same as [`auth`](Self::auth), for a provider already behind an `Arc`.
    pub fn auth_arc(mut self, provider: Arc<dyn AuthProvider>) -> Self {
        self.auth = Some(provider);
        self
    }

    /// Limit on TCP + TLS + HTTP upgrade (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The reconnect delay curve.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Give up after this many failed attempts since the last stable link (default: never).
    pub fn max_retries(mut self, n: Option<u32>) -> Self {
        self.max_retries = n;
        self
    }

    /// Give up after this long without a link (default: never).
    pub fn max_elapsed(mut self, d: Option<Duration>) -> Self {
        self.max_elapsed = d;
        self
    }

    /// Keep-alive settings; `None` turns the heartbeat off (not advised).
    pub fn heartbeat(mut self, hb: Option<Heartbeat>) -> Self {
        self.heartbeat = hb;
        self
    }

    /// Limits on messages waiting to be sent.
    pub fn outbox(mut self, limits: OutboxLimits) -> Self {
        self.outbox = limits;
        self
    }

    /// Handshakes per second per host for the whole process; `None` turns the guard off.
    pub fn handshake_budget(mut self, per_second: Option<u32>) -> Self {
        self.handshake_budget = per_second;
        self
    }

    /// Messages sent first on every open.
    pub fn greeting(mut self, messages: Vec<Message>) -> Self {
        self.greeting = Greeting::Fixed(messages);
        self
    }

    /// A function computing the greeting on every open.
    pub fn greeting_with(mut self, f: impl Fn() -> Vec<Message> + Send + Sync + 'static) -> Self {
        self.greeting = Greeting::Provider(Arc::new(f));
        self
    }

    /// An async function computing the greeting on every open. If it fails, or gives no answer
    /// within `connect_timeout`, an `Error` event says so and the link carries on without it.
    pub fn greeting_async<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Message>, String>> + Send + 'static,
    {
        self.greeting = Greeting::Async(Arc::new(move || Box::pin(f())));
        self
    }

    /// Which closes and handshake statuses end in `Failed`.
    pub fn terminal(mut self, policy: TerminalPolicy) -> Self {
        self.terminal = policy;
        self
    }

    /// Largest message in either direction (default 16 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Trust this root CA (PEM) in addition to the webpki roots.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        self.extra_root_pem = Some(pem.into());
        self
    }

    /// Inbound messages buffered for a slow consumer before the client stops reading (default 1024).
    pub fn event_buffer(mut self, messages: usize) -> Self {
        self.event_buffer = messages;
        self
    }

    /// How long a local close waits for the server's close frame (default 2 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Run the client's task on this runtime (default: the current one, else [`crate::runtime::handle`]).
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Validate everything and start the client's task (in `Idle`; call `connect()`).
    pub fn build(self) -> Result<Client, Error> {
        let runtime = self
            .runtime
            .clone()
            .or_else(|| Handle::try_current().ok())
            .unwrap_or_else(crate::runtime::handle);
        let config = self.validate()?;
        Ok(Client::start(config, runtime))
    }

    fn validate(self) -> Result<Config, Error> {
        let url = parse_url(&self.url)?;
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        for (name, value) in &self.headers {
            check_header(name, value)?;
        }
        for p in &self.protocols {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
                return Err(Error::InvalidHeader {
                    name: "Sec-WebSocket-Protocol".into(),
                    reason: format!("invalid subprotocol {p:?}"),
                });
            }
        }
        positive("connect_timeout", self.connect_timeout)?;
        positive("close_timeout", self.close_timeout)?;
        let b = &self.backoff;
        positive("backoff.initial", b.initial)?;
        positive("backoff.max", b.max)?;
        if b.max < b.initial {
            return Err(invalid("backoff.max", "must be at least backoff.initial"));
        }
        if !(b.factor.is_finite() && b.factor >= 1.0) {
            return Err(invalid("backoff.factor", "must be a finite number >= 1"));
        }
        if !(0.0..=1.0).contains(&b.jitter) {
            return Err(invalid("backoff.jitter", "must be between 0 and 1"));
        }
        if let Some(hb) = &self.heartbeat {
            positive("heartbeat.interval", hb.interval)?;
            positive("heartbeat.timeout", hb.timeout)?;
        }
        if let Some(d) = self.max_elapsed {
            positive("max_elapsed", d)?;
        }
        if self.outbox.max_messages == 0 || self.outbox.max_bytes == 0 {
            return Err(invalid("outbox", "limits must be positive"));
        }
        if self.max_message_size == 0 {
            return Err(invalid("max_message_size", "must be positive"));
        }
        if self.event_buffer == 0 {
            return Err(invalid("event_buffer", "must be positive"));
        }
        if self.handshake_budget == Some(0) {
            return Err(invalid(
                "handshake_budget",
                "must be positive (None turns it off)",
            ));
        }
        let tls = match (url.scheme(), &self.extra_root_pem) {
            ("wss", pem) => Some(crate::tls::client_config(pem.as_deref())?),
            (_, Some(pem)) => {
                // Validate anyway so a bad PEM is reported even before the URL turns wss.
                crate::tls::client_config(Some(pem))?;
                None
            }
            _ => None,
        };
        Ok(Config {
            host_key: format!("{host}:{port}"),
            url,
            protocols: self.protocols,
            protocol_required: self.protocol_required,
            headers: self.headers,
            auth: self.auth,
            connect_timeout: self.connect_timeout,
            backoff: self.backoff,
            max_retries: self.max_retries,
            max_elapsed: self.max_elapsed,
            heartbeat: self.heartbeat,
            outbox: self.outbox,
            handshake_budget: self.handshake_budget,
            greeting: self.greeting,
            terminal: self.terminal,
            max_message_size: self.max_message_size,
            tls,
            event_buffer: self.event_buffer,
            close_timeout: self.close_timeout,
        })
    }
}

fn invalid(option: &'static str, reason: &str) -> Error {
    Error::InvalidOption {
        option,
        reason: reason.to_string(),
    }
}

fn positive(option: &'static str, d: Duration) -> Result<(), Error> {
    if d.is_zero() {
        Err(invalid(option, "must be greater than zero"))
    } else {
        Ok(())
    }
}

/// Parse and check a `ws://` / `wss://` URL.
pub fn parse_url(raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim()).map_err(|e| Error::InvalidUrl {
        url: redact::raw_url(raw),
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "ws" | "wss" => {}
        other => {
            return Err(Error::InvalidScheme {
                scheme: other.to_string(),
            })
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidUrl {
            url: redact::url(&url),
            reason: "no host".into(),
        });
    }
    if url.fragment().is_some() {
        return Err(Error::InvalidUrl {
            url: redact::url(&url),
            reason: "WebSocket URLs cannot have a #fragment".into(),
        });
    }
    Ok(url)
}

/// Check that a header can be sent as-is (no CR/LF, a valid token name).
pub fn check_header(name: &str, value: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::InvalidHeader {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if value.contains(['\r', '\n']) || name.contains(['\r', '\n']) {
        return Err(bad("contains CR or LF"));
    }
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a valid header name"))?;
    HeaderValue::from_str(value).map_err(|_| bad("value has characters HTTP does not allow"))?;
    Ok(())
}

/// Seconds as a float (Python's convention) to a `Duration`, refusing negatives, NaN and infinity.
pub fn duration_from_secs(option: &'static str, secs: f64) -> Result<Duration, Error> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(invalid(
            option,
            "must be a finite, non-negative number of seconds",
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| invalid(option, "out of range"))
}

/// Milliseconds as a float (JavaScript's convention) to a `Duration`, refusing negatives and NaN.
pub fn duration_from_millis(option: &'static str, ms: f64) -> Result<Duration, Error> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(invalid(
            option,
            "must be a finite, non-negative number of milliseconds",
        ));
    }
    duration_from_secs(option, ms / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_checks() {
        assert!(matches!(
            parse_url("http://x"),
            Err(Error::InvalidScheme { .. })
        ));
        assert!(matches!(
            parse_url("not a url"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(parse_url("ws://"), Err(Error::InvalidUrl { .. })));
        assert!(parse_url("wss://example.com/socket?x=1").is_ok());
    }

    #[test]
    fn header_checks() {
        assert!(check_header("X-Ok", "fine").is_ok());
        assert!(matches!(
            check_header("X-Bad", "a\r\nInjected: 1"),
            Err(Error::InvalidHeader { .. })
        ));
        assert!(check_header("Bad Name", "v").is_err());
    }

    #[test]
    fn durations_from_foreign_numbers() {
        assert_eq!(
            duration_from_secs("x", 1.5).unwrap(),
            Duration::from_millis(1500)
        );
        assert!(duration_from_secs("x", -1.0).is_err());
        assert!(duration_from_secs("x", f64::NAN).is_err());
        assert_eq!(
            duration_from_millis("x", 250.0).unwrap(),
            Duration::from_millis(250)
        );
    }
}
