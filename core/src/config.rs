//! The builder: every option, its default (the numbers in docs/contract.md live here and in the
//! option types), and validation so that bad input fails at build time, never at first use.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use url::Url;

use crate::backoff::Backoff;
use crate::deflate::Compression;
use crate::dns::Overrides;
use crate::error::Error;
use crate::event::Message;
use crate::heartbeat::Heartbeat;
use crate::limits::{self, positive_count as count, positive_duration as duration};
use crate::outbox::OutboxLimits;
use crate::policy::TerminalPolicy;
use crate::proxy::{Proxy, Route};
use crate::redact;
use crate::tls::TlsOptions;

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

/// What a URL provider's future resolves to: the attempt's URL, or why there is none.
pub type UrlResult = Result<String, String>;
/// The boxed future a URL provider returns.
pub type UrlFuture = Pin<Box<dyn Future<Output = UrlResult> + Send>>;

/// Names the URL of each attempt (a one-time URL fetched before every connect, as Slack's
/// Socket Mode hands out). Told the same as an auth provider; a failure, a panic or a URL that
/// is not `ws://`/`wss://` fails that attempt ([`Cause::UrlProvider`](crate::Cause)).
pub trait UrlProvider: Send + Sync + 'static {
    /// The URL for this attempt.
    fn url(&self, request: AuthRequest) -> UrlFuture;
}

impl<F, Fut> UrlProvider for F
where
    F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = UrlResult> + Send + 'static,
{
    fn url(&self, request: AuthRequest) -> UrlFuture {
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

/// Settings of one client: the builder fills one in, `build()` validates it. Each option is a
/// field here, its default in `Config::new`, its setter on [`ClientBuilder`](crate::ClientBuilder)
/// and its range check in `Config::validate`; nothing else repeats it.
#[derive(Clone)]
pub struct Config {
    pub(crate) url: Url,
    pub(crate) host_key: String,
    pub(crate) protocols: Vec<String>,
    pub(crate) protocol_required: bool,
    pub(crate) compression: Compression,
    pub(crate) headers: Headers,
    pub(crate) auth: Option<Arc<dyn AuthProvider>>,
    /// Names each attempt's URL; `url` is then only where logs point before the first answer.
    pub(crate) url_provider: Option<Arc<dyn UrlProvider>>,
    /// The proxy setting as given; `route` is decided from it by `build()`.
    pub(crate) proxy: Proxy,
    pub(crate) route: Route,
    /// Fixed addresses for host names, consulted before the system resolver.
    pub(crate) resolve: Overrides,
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
    /// Roots, pins and the client certificate as given; `tls` and `proxy_tls` are built from
    /// them by `build()`.
    pub(crate) tls_options: TlsOptions,
    /// For `wss://` servers (every client has one: a URL provider or `reconnect_to` may move a
    /// `ws://` client to `wss://`).
    pub(crate) tls: Arc<rustls::ClientConfig>,
    /// For `https://` proxies: the roots, never the pins or the client certificate (those are
    /// for the server).
    pub(crate) proxy_tls: Arc<rustls::ClientConfig>,
    pub(crate) event_buffer: usize,
    pub(crate) close_timeout: Duration,
}

impl Config {
    /// Every default of docs/contract.md, for `url`.
    pub(crate) fn new(url: Url) -> Self {
        let shared_tls = crate::tls::client_config(&TlsOptions::default())
            .expect("the default TLS configuration builds");
        Config {
            host_key: crate::budget::host_key(&url),
            url,
            url_provider: None,
            proxy: Proxy::FromEnv,
            route: Route::Direct,
            resolve: Overrides::default(),
            protocols: Vec::new(),
            protocol_required: false,
            compression: Compression::default(),
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
            tls_options: TlsOptions::default(),
            tls: shared_tls.clone(),
            proxy_tls: shared_tls,
            event_buffer: DEFAULT_EVENT_BUFFER,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
        }
    }

    /// The URL with secrets hidden, for logs.
    pub fn redacted_url(&self) -> String {
        redact::url(&self.url)
    }

    /// Every range check: bad input fails at build time, never at first use.
    fn validate(&self) -> Result<(), Error> {
        for (name, value) in &self.headers {
            check_header(name, value)?;
        }
        self.compression.validate()?;
        for p in &self.protocols {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
                return Err(Error::InvalidHeader {
                    name: "Sec-WebSocket-Protocol".into(),
                    reason: format!("invalid subprotocol {p:?}"),
                });
            }
        }
        duration("connect_timeout", self.connect_timeout)?;
        duration("close_timeout", self.close_timeout)?;
        limits::check_backoff(&self.backoff)?;
        if let Some(n) = self.max_retries {
            if n > limits::MAX_RETRIES {
                return Err(limits::too_large("max_retries", limits::MAX_RETRIES));
            }
        }
        if let Some(d) = self.max_elapsed {
            duration("max_elapsed", d)?;
        }
        if let Some(hb) = &self.heartbeat {
            limits::check_heartbeat(hb, self.max_message_size)?;
        }
        count(
            "outbox.max_messages",
            self.outbox.max_messages,
            limits::MAX_OUTBOX_MESSAGES,
        )?;
        count(
            "outbox.max_bytes",
            self.outbox.max_bytes,
            limits::MAX_OUTBOX_BYTES,
        )?;
        count(
            "max_message_size",
            self.max_message_size,
            limits::MAX_MESSAGE_SIZE,
        )?;
        count("event_buffer", self.event_buffer, limits::MAX_EVENT_BUFFER)?;
        limits::check_handshake_budget(self.handshake_budget)?;
        Ok(())
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
            .field("compression", &self.compression)
            .field("headers", &headers)
            .field("auth", &self.auth.as_ref().map(|_| "provider"))
            .field(
                "url_provider",
                &self.url_provider.as_ref().map(|_| "provider"),
            )
            .field("proxy", &self.proxy)
            .field("resolve", &self.resolve)
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
            .field("tls", &self.tls_options)
            .field("event_buffer", &self.event_buffer)
            .field("close_timeout", &self.close_timeout)
            .finish()
    }
}

impl Config {
    /// Check every option and build what the checked options imply (the TLS setup).
    pub(crate) fn finish(mut self) -> Result<Config, Error> {
        self.validate()?;
        self.tls = crate::tls::client_config(&self.tls_options)?;
        self.proxy_tls = crate::tls::client_config(&TlsOptions {
            extra_roots: self.tls_options.extra_roots.clone(),
            ..TlsOptions::default()
        })?;
        self.route = Route::new(&self.proxy);
        if let (Route::Env(env), None) = (&self.route, &self.url_provider) {
            // A proxy variable that applies to this URL and is not a proxy URL is a setup
            // mistake: say so now, not at every attempt.
            if let Err(why) = env.select(&self.url) {
                return Err(Error::InvalidOption {
                    option: "proxy",
                    reason: format!("from the environment: {why}"),
                });
            }
        }
        Ok(self)
    }
}

/// Parse and check a `ws://` / `wss://` URL: a host after `//`, a real port, no fragment.
pub fn parse_url(raw: &str) -> Result<Url, Error> {
    let raw = raw.trim();
    let refuse = |reason: &str| Error::InvalidUrl {
        url: redact::raw_url(raw),
        reason: reason.into(),
    };
    if raw.chars().any(char::is_control) {
        // The URL parser silently drops tabs and newlines; a URL holding them is a mistake.
        return Err(refuse("contains control characters"));
    }
    let url = Url::parse(raw).map_err(|e| refuse(&e.to_string()))?;
    match url.scheme() {
        "ws" | "wss" => {}
        other => {
            return Err(Error::InvalidScheme {
                scheme: other.to_string(),
            })
        }
    }
    // WHATWG parsing takes the first path segment as the host when the authority is missing or
    // empty (`ws:///path`, `ws:/path`, `ws:path` all become host `path`): require one.
    let authority = raw
        .split_once("://")
        .map(|(_, rest)| rest)
        .filter(|rest| !rest.starts_with(['/', '\\', '?', '#']) && !rest.is_empty());
    if authority.is_none() || url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("no host (expected ws://host/...)"));
    }
    if url.port() == Some(0) {
        return Err(refuse("port 0 is not a port a server can listen on"));
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

// The number conversions are pure: they live with the limits (a driver without this module,
// the browser's, uses them too).
pub use crate::limits::{count_from_f64, count_from_i64, duration_from_millis, duration_from_secs};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heartbeat::PongMatch;
    use crate::AppPing;
    use crate::ClientBuilder;

    fn reason(result: Result<Config, Error>, option: &str) -> String {
        match result {
            Err(Error::InvalidOption { option: o, reason }) if o == option => reason,
            other => panic!("{option}: expected InvalidOption, got {other:?}"),
        }
    }

    fn builder() -> ClientBuilder {
        ClientBuilder::new("ws://h/")
    }

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
    fn urls_without_a_host_or_with_port_zero_are_refused() {
        // The URL parser turns all of these into host "path" or "h"; none names a host.
        for raw in [
            "ws:///path",
            "ws:/path",
            "ws:path",
            "wss:///",
            "ws:\\\\h/",
            "ws://:80",
            "ws://:80/x",
            "ws://user:pw@/x",
            "ws://@/x",
            "ws://h:0/",
            "wss://h:0",
            "ws://ex\tample.com/",
            "ws://example.com/\npath",
        ] {
            match parse_url(raw) {
                Err(Error::InvalidUrl { reason, .. }) => assert!(!reason.is_empty(), "{raw}"),
                other => panic!("{raw:?} should not build: {other:?}"),
            }
        }
        let e = parse_url("ws:///path").unwrap_err().to_string();
        assert!(e.contains("no host"), "{e}");
        let e = parse_url("ws://h:0/").unwrap_err().to_string();
        assert!(e.contains("port 0"), "{e}");
    }

    #[test]
    fn ordinary_odd_urls_still_build() {
        for (raw, host_key) in [
            ("ws://[::1]:8080/x", "[::1]:8080"),
            ("wss://[2001:db8::1]/", "[2001:db8::1]:443"),
            ("ws://127.0.0.1:65535", "127.0.0.1:65535"),
            ("WS://Example.COM/Path", "example.com:80"),
            ("  ws://h/  ", "h:80"),
            ("ws://user:pw@h:81/?token=t", "h:81"),
        ] {
            let config = builder_for(raw).into_config().unwrap();
            assert_eq!(config.host_key, host_key, "{raw}");
        }
    }

    fn builder_for(url: &str) -> ClientBuilder {
        ClientBuilder::new(url)
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
        assert_eq!(
            duration_from_secs("x", limits::MAX_DURATION.as_secs_f64()).unwrap(),
            limits::MAX_DURATION
        );
        // Too long, however it is spelled, is refused naming the limit and the option as given.
        for secs in [1e19, 1e300, f64::INFINITY, 365.0 * 86_400.0 + 1.0] {
            let e = duration_from_secs("heartbeat.interval", secs).unwrap_err();
            assert_eq!(
                e.to_string(),
                "invalid option heartbeat.interval: must be at most 365 days",
                "{secs}"
            );
        }
        let e = duration_from_millis("heartbeat.intervalMs", 1e22).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid option heartbeat.intervalMs: must be at most 365 days"
        );
    }

    #[test]
    fn counts_from_foreign_numbers() {
        assert_eq!(count_from_f64("n", 3.0).unwrap(), 3);
        assert_eq!(count_from_f64("n", 1e22).unwrap(), u64::MAX);
        assert_eq!(count_from_f64("n", f64::INFINITY).unwrap(), u64::MAX);
        for bad in [-1.0, 1.5, f64::NAN, f64::NEG_INFINITY] {
            assert!(count_from_f64("n", bad).is_err(), "{bad}");
        }
        assert_eq!(count_from_i64("n", i64::MAX).unwrap(), i64::MAX as u64);
        assert!(count_from_i64("n", -1).is_err());
    }

    #[test]
    fn every_duration_option_is_refused_over_the_limit() {
        let long = limits::MAX_DURATION + Duration::from_nanos(1);
        let huge = Duration::from_secs(u64::MAX / 2);
        for d in [long, huge, Duration::MAX] {
            let hb = |interval, timeout| {
                Some(Heartbeat {
                    interval,
                    timeout,
                    app_ping: None,
                })
            };
            let bo = |f: &dyn Fn(&mut Backoff)| {
                let mut b = Backoff::default();
                f(&mut b);
                b
            };
            let cases: Vec<(&str, ClientBuilder)> = vec![
                ("connect_timeout", builder().connect_timeout(d)),
                ("close_timeout", builder().close_timeout(d)),
                ("max_elapsed", builder().max_elapsed(Some(d))),
                (
                    "heartbeat.interval",
                    builder().heartbeat(hb(d, Duration::from_secs(1))),
                ),
                (
                    "heartbeat.timeout",
                    builder().heartbeat(hb(Duration::from_secs(1), d)),
                ),
                ("heartbeat.interval", builder().heartbeat(hb(d, d))),
                (
                    "backoff.initial",
                    builder().backoff(bo(&|b| {
                        b.initial = d;
                        b.max = d;
                    })),
                ),
                ("backoff.max", builder().backoff(bo(&|b| b.max = d))),
                (
                    "backoff.stable_after",
                    builder().backoff(bo(&|b| b.stable_after = d)),
                ),
            ];
            for (option, b) in cases {
                let r = reason(b.into_config(), option);
                assert_eq!(r, "must be at most 365 days", "{option} {d:?}");
            }
        }
        // The limit itself is accepted everywhere.
        let max = limits::MAX_DURATION;
        builder()
            .connect_timeout(max)
            .close_timeout(max)
            .max_elapsed(Some(max))
            .heartbeat(Some(Heartbeat {
                interval: max,
                timeout: max,
                app_ping: None,
            }))
            .backoff(Backoff {
                initial: max,
                max,
                stable_after: max,
                ..Backoff::default()
            })
            .into_config()
            .unwrap();
    }

    #[test]
    fn every_size_option_is_refused_over_the_limit() {
        let outbox = |max_messages, max_bytes| OutboxLimits {
            max_messages,
            max_bytes,
        };
        let cases: Vec<(&str, ClientBuilder, u64)> = vec![
            (
                "event_buffer",
                builder().event_buffer(usize::MAX),
                limits::MAX_EVENT_BUFFER as u64,
            ),
            (
                "event_buffer",
                builder().event_buffer(limits::MAX_EVENT_BUFFER + 1),
                limits::MAX_EVENT_BUFFER as u64,
            ),
            (
                "max_message_size",
                builder().max_message_size(usize::MAX),
                limits::MAX_MESSAGE_SIZE as u64,
            ),
            (
                "outbox.max_messages",
                builder().outbox(outbox(usize::MAX, 1)),
                limits::MAX_OUTBOX_MESSAGES as u64,
            ),
            (
                "outbox.max_bytes",
                builder().outbox(outbox(1, usize::MAX)),
                limits::MAX_OUTBOX_BYTES as u64,
            ),
            (
                "handshake_budget",
                builder().handshake_budget(Some(u32::MAX)),
                limits::MAX_HANDSHAKE_BUDGET.into(),
            ),
            (
                "max_retries",
                builder().max_retries(Some(u32::MAX)),
                limits::MAX_RETRIES.into(),
            ),
        ];
        for (option, b, limit) in cases {
            let r = reason(b.into_config(), option);
            assert_eq!(r, format!("must be at most {limit}"), "{option}");
        }
        builder()
            .event_buffer(limits::MAX_EVENT_BUFFER)
            .max_message_size(limits::MAX_MESSAGE_SIZE)
            .outbox(outbox(
                limits::MAX_OUTBOX_MESSAGES,
                limits::MAX_OUTBOX_BYTES,
            ))
            .handshake_budget(Some(limits::MAX_HANDSHAKE_BUDGET))
            .max_retries(Some(limits::MAX_RETRIES))
            .into_config()
            .unwrap();
    }

    #[tokio::test]
    async fn the_largest_event_buffer_builds_a_client() {
        // Before the limit, event_buffer(usize::MAX) hit tokio's semaphore assert in build().
        let client = builder()
            .event_buffer(limits::MAX_EVENT_BUFFER)
            .build()
            .unwrap();
        assert_eq!(client.state(), crate::State::Idle);
    }

    #[test]
    fn app_ping_must_fit_a_message_and_its_pong_must_match_something() {
        let ping = |payload: &str, pong: PongMatch| {
            Some(Heartbeat {
                app_ping: Some(AppPing {
                    payload: Message::text(payload),
                    pong,
                }),
                ..Heartbeat::default()
            })
        };
        let r = reason(
            builder()
                .max_message_size(4)
                .heartbeat(ping("ping!", PongMatch::Exact("pong".into())))
                .into_config(),
            "heartbeat.app_ping",
        );
        assert!(r.contains("exceeds max_message_size 4"), "{r}");
        for empty in [
            PongMatch::Exact(String::new()),
            PongMatch::Contains(String::new()),
        ] {
            reason(
                builder().heartbeat(ping("ping", empty)).into_config(),
                "heartbeat.app_ping.pong",
            );
        }
        builder()
            .heartbeat(ping("ping", PongMatch::Contains("pong".into())))
            .into_config()
            .unwrap();
    }

    #[test]
    fn debug_redacts_and_the_url_error_waits_for_build() {
        let b = ClientBuilder::new("wss://u:hunter2@h/?token=abc123")
            .header("Authorization", "Bearer sekrit");
        let shown = format!("{b:?}");
        for secret in ["hunter2", "abc123", "sekrit"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let bad = ClientBuilder::new("http://u:hunter2@h/?token=abc123").heartbeat(None);
        let shown = format!("{bad:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("abc123"),
            "{shown}"
        );
        assert!(matches!(
            bad.into_config(),
            Err(Error::InvalidScheme { .. })
        ));
    }
}
