//! The handle users hold: commands in, events out, both through the engine's lock.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use bytes::BytesMut;
use futures_util::Stream;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::budget;
use std::future::Future;
use std::time::Duration;

use url::Url;

use crate::backoff::Backoff;
use crate::batch::Batch;
use crate::config::{parse_url, AuthProvider, Config, Greeting, UrlProvider};
use crate::driver::{settings, Driver};
use crate::engine::{lock, release_idle_arena, Engine, Shared, Unpacking};
use crate::error::Error;
use crate::event::{Event, Message, State};
use crate::heartbeat::Heartbeat;
use crate::machine::{Command, Machine};
use crate::outbox::OutboxLimits;
use crate::policy::TerminalPolicy;
use crate::stats::{Stats, Transition};

/// What `send` did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStatus {
    /// The link is open: the message goes out now.
    Sent,
    /// The link is not open: the message waits in the outbox for the next open.
    Queued,
}

/// What every clone of a client shares; dropping the last one closes the client.
struct Inner {
    engine: Arc<Mutex<Engine>>,
    shared: Arc<Shared>,
    config: Arc<Config>,
    /// The fork generation this client was built in (see `runtime::fork_generation`).
    generation: u32,
    events: Mutex<Option<Events>>,
}

impl Inner {
    /// Whether this is a forked child's copy of a client: its task ran on threads that did not
    /// survive `fork()`, and its socket belongs to the parent. It acts as closed.
    fn forked(&self) -> bool {
        crate::runtime::fork_generation() != self.generation
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // In a forked child the engine's lock may be held by a thread that no longer exists.
        if !self.forked() {
            lock(&self.engine).command(Command::Dropped, None);
        }
    }
}

/// A WebSocket client that stays connected. Cheap to clone; dropping the last clone closes it.
#[derive(Clone)]
pub struct Client {
    handle: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.handle.config.redacted_url())
            .field("state", &self.state())
            .finish()
    }
}

impl Client {
    /// Start building a client for `url` (`ws://` or `wss://`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// Start building a client whose URL `provider` names before every attempt.
    pub fn builder_with_url_provider(provider: Arc<dyn UrlProvider>) -> ClientBuilder {
        ClientBuilder::new(PROVIDED_URL).url_provider_arc(provider)
    }

    pub(crate) fn start(config: Config, runtime: Handle) -> Client {
        let config = Arc::new(config);
        let shared = Arc::new(Shared::new());
        let machine = Machine::new(settings(&config), budget::shared(), rand::random());
        let engine = Arc::new(Mutex::new(Engine::new(
            machine,
            config.clone(),
            shared.clone(),
        )));
        let generation = crate::runtime::fork_generation();
        // Spawned on the handle the client holds: never a bare `tokio::spawn`.
        runtime.spawn(Driver::new(engine.clone(), config.clone()).run_guarded());
        let events = Events {
            engine: engine.clone(),
            generation,
            ready: VecDeque::new(),
            arena: BytesMut::new(),
        };
        Client {
            handle: Arc::new(Inner {
                engine,
                shared,
                config,
                generation,
                events: Mutex::new(Some(events)),
            }),
        }
    }

    /// Take the event stream (once). Until it is taken, inbound messages are buffered up to
    /// `event_buffer`; then the client stops reading the socket (TCP backpressure).
    pub fn events(&self) -> Result<Events, Error> {
        let events = self
            .handle
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(Error::EventsTaken)?;
        if !self.handle.forked() {
            lock(&self.handle.engine).attach_consumer();
        }
        Ok(events)
    }

    /// Start connecting. Does nothing while connecting or open; an error once closed or failed.
    pub fn connect(&self) -> Result<(), Error> {
        self.command(Command::Connect)
    }

    /// Queue a text message. Never blocks.
    pub fn send_text(&self, text: impl Into<String>) -> Result<SendStatus, Error> {
        self.send(Message::text(text.into()))
    }

    /// Queue a binary message. Never blocks.
    pub fn send_binary(&self, data: impl Into<bytes::Bytes>) -> Result<SendStatus, Error> {
        self.send(Message::Binary(data.into()))
    }

    /// Queue a message: `Sent` if the link is open, `Queued` if it waits for the next open,
    /// or an error (`QueueFull`, `MessageTooLarge`, `Closed`, `Failed`); nothing is dropped
    /// silently. When the link is open and idle, the message is written on this thread.
    pub fn send(&self, message: Message) -> Result<SendStatus, Error> {
        if self.handle.forked() {
            // Never write into the parent's socket from a forked child.
            return Err(Error::Closed);
        }
        let max = self.handle.config.max_message_size;
        if message.len() > max {
            return Err(Error::MessageTooLarge {
                size: message.len(),
                max,
            });
        }
        lock(&self.handle.engine).send(message)?;
        Ok(if self.state() == State::Open {
            SendStatus::Sent
        } else {
            SendStatus::Queued
        })
    }

    /// Close with `code` (1000 or 3000–4999) and `reason`; returns every accepted message that
    /// was never written. Idempotent: a second call returns an empty list.
    pub async fn close(&self, code: u16, reason: &str) -> Result<Vec<Message>, Error> {
        if !(code == 1000 || (3000..=4999).contains(&code)) {
            return Err(Error::InvalidCloseCode(code));
        }
        if reason.len() > 123 {
            return Err(Error::CloseReasonTooLong(reason.len()));
        }
        if self.handle.forked() {
            // Nothing to close here: the link and the task belong to the parent process.
            return Ok(Vec::new());
        }
        let (tx, rx) = oneshot::channel();
        let command = Command::Close {
            code,
            reason: reason.to_string(),
        };
        lock(&self.handle.engine).command(command, Some(tx));
        Ok(rx.await.unwrap_or_default())
    }

    /// Close the link and stay disconnected until `resume()`. Sends keep queueing.
    pub fn pause(&self) -> Result<(), Error> {
        self.command(Command::Pause)
    }

    /// Leave `Paused` and connect at once.
    pub fn resume(&self) -> Result<(), Error> {
        self.command(Command::Resume)
    }

    /// Skip the current backoff delay (the handshake budget still applies).
    pub fn reconnect_now(&self) -> Result<(), Error> {
        self.command(Command::ReconnectNow)
    }

    /// Move to `url` at once (a server-directed reconnect, as Twitch and Discord send): an open
    /// link closes with 1000 and the client connects to `url` without a backoff delay (the
    /// handshake budget still applies); an attempt in flight is dropped for it. From then on
    /// `url` is the client's URL; with a URL provider, only the next attempt goes to `url` and
    /// later ones ask the provider again. Idle or paused, the move waits for `connect()` or
    /// `resume()`.
    pub fn reconnect_to(&self, url: &str) -> Result<(), Error> {
        let url = parse_url(url)?;
        self.command(Command::ReconnectTo(url))
    }

    /// The network changed: verify an open link with a short ping, or retry now if waiting.
    pub fn network_changed(&self) -> Result<(), Error> {
        self.command(Command::NetworkChanged)
    }

    /// The current state.
    pub fn state(&self) -> State {
        if self.handle.forked() {
            return State::Closed;
        }
        self.handle.shared.state()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let (n, b) = if self.handle.forked() {
            (0, 0)
        } else {
            lock(&self.handle.engine).queued()
        };
        let now = crate::clock::Clock::shared().now();
        self.handle.shared.counters.snapshot(n, b, now)
    }

    /// The last 64 state changes, oldest first, with their causes.
    pub fn history(&self) -> Vec<Transition> {
        self.handle.shared.counters.history()
    }

    /// The client's settings (secrets hidden in `Debug`).
    pub fn config(&self) -> &Config {
        &self.handle.config
    }

    fn command(&self, command: Command) -> Result<(), Error> {
        match self.state() {
            State::Closed | State::Closing => return Err(Error::Closed),
            State::Failed => return Err(Error::Failed),
            _ => {}
        }
        lock(&self.handle.engine).command(command, None);
        Ok(())
    }
}

/// Builds a [`Client`]: `Client::builder(url).heartbeat(..).build()?`.
///
/// Like reqwest's builder it holds the [`Config`] being filled in, plus the first error met on
/// the way (an unparsable URL), which `build()` returns.
#[must_use]
pub struct ClientBuilder {
    config: Config,
    error: Option<Error>,
    runtime: Option<Handle>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => f.debug_struct("ClientBuilder").field("error", e).finish(),
            None => f
                .debug_struct("ClientBuilder")
                .field("config", &self.config)
                .finish_non_exhaustive(),
        }
    }
}

/// The URL a client with a URL provider shows until the provider's first answer.
const PROVIDED_URL: &str = "ws://url-provider.invalid/";

/// Stands in for a URL that did not parse; never used, since `build()` returns the error first.
const UNUSED_URL: &str = "ws://invalid.invalid/";

impl ClientBuilder {
    pub(crate) fn new(url: impl Into<String>) -> Self {
        let (url, error) = match parse_url(&url.into()) {
            Ok(url) => (url, None),
            Err(e) => (Url::parse(UNUSED_URL).expect("a constant URL"), Some(e)),
        };
        ClientBuilder {
            config: Config::new(url),
            error,
            runtime: None,
        }
    }

    /// Subprotocols offered in the handshake.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the server must select one of the offered subprotocols (default `false`: a server
    /// that selects none opens with `protocol = None`). When required, a server that selects
    /// none fails the client (terminal), naming the protocols offered.
    pub fn require_protocol(mut self, required: bool) -> Self {
        self.config.protocol_required = required;
        self
    }

    /// permessage-deflate (RFC 7692): offered by default with 12-bit windows;
    /// [`Compression::disabled()`](crate::Compression::disabled) turns it off.
    pub fn compression(mut self, compression: crate::Compression) -> Self {
        self.config.compression = compression;
        self
    }

    /// Add a static handshake header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.headers.push((name.into(), value.into()));
        self
    }

    /// Called before every attempt; its headers are added to that handshake.
    pub fn auth(mut self, provider: impl AuthProvider) -> Self {
        self.config.auth = Some(Arc::new(provider));
        self
    }

    /// Same as [`auth`](Self::auth), for a provider already behind an `Arc`.
    pub fn auth_arc(mut self, provider: Arc<dyn AuthProvider>) -> Self {
        self.config.auth = Some(provider);
        self
    }

    /// Limit on TCP + TLS + HTTP upgrade (default 10 s, at most [`crate::limits::MAX_DURATION`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The reconnect delay curve (every duration at most [`crate::limits::MAX_DURATION`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// Give up after this many failed attempts since the last stable link (default: never; at
    /// most [`crate::limits::MAX_RETRIES`]).
    pub fn max_retries(mut self, n: Option<u32>) -> Self {
        self.config.max_retries = n;
        self
    }

    /// Give up after this long without a link (default: never; at most [`crate::limits::MAX_DURATION`]).
    pub fn max_elapsed(mut self, d: Option<Duration>) -> Self {
        self.config.max_elapsed = d;
        self
    }

    /// Keep-alive settings; `None` turns the heartbeat off (not advised).
    pub fn heartbeat(mut self, hb: Option<Heartbeat>) -> Self {
        self.config.heartbeat = hb;
        self
    }

    /// Limits on messages waiting to be sent.
    pub fn outbox(mut self, limits: OutboxLimits) -> Self {
        self.config.outbox = limits;
        self
    }

    /// Handshakes per second per host for the whole process; `None` turns the guard off.
    pub fn handshake_budget(mut self, per_second: Option<u32>) -> Self {
        self.config.handshake_budget = per_second;
        self
    }

    /// Messages sent first on every open.
    pub fn greeting(mut self, messages: Vec<Message>) -> Self {
        self.config.greeting = Greeting::Fixed(messages);
        self
    }

    /// A function computing the greeting on every open.
    pub fn greeting_with(mut self, f: impl Fn() -> Vec<Message> + Send + Sync + 'static) -> Self {
        self.config.greeting = Greeting::Provider(Arc::new(f));
        self
    }

    /// An async function computing the greeting on every open. If it fails, or gives no answer
    /// within `connect_timeout`, an `Error` event says so and the link carries on without it.
    pub fn greeting_async<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Message>, String>> + Send + 'static,
    {
        self.config.greeting = Greeting::Async(Arc::new(move || Box::pin(f())));
        self
    }

    /// Which closes and handshake statuses end in `Failed`.
    pub fn terminal(mut self, policy: TerminalPolicy) -> Self {
        self.config.terminal = policy;
        self
    }

    /// Largest message in either direction (default 16 MiB, at most [`crate::limits::MAX_MESSAGE_SIZE`]).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// Trust this root CA (PEM, one or more certificates) in addition to the webpki roots.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        let pem = pem.into();
        let roots = &mut self.config.tls_options.extra_roots;
        *roots = Some(match roots.take() {
            Some(before) => format!("{before}\n{pem}"),
            None => pem,
        });
        self
    }

    /// Trust exactly this server certificate (PEM; self-signed or CA-flagged alike): the
    /// server's certificate must be byte-for-byte one of the pinned ones, within its validity
    /// period, and name the host if it lists names at all. With a pin, the roots are not
    /// consulted. May be called more than once (for a rotation).
    pub fn pin_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        self.config.tls_options.pins.push(pem.into());
        self
    }

    /// Present this client certificate (PEM chain, leaf first) and its private key (PEM:
    /// PKCS#8, PKCS#1 or SEC1) to servers that ask for one (mutual TLS). The key is a secret:
    /// it never appears in `Debug` or errors.
    pub fn client_certificate_pem(
        mut self,
        cert_chain: impl Into<String>,
        private_key: impl Into<String>,
    ) -> Self {
        self.config.tls_options.client = Some((cert_chain.into(), private_key.into()));
        self
    }

    /// Which proxy attempts go through: [`Proxy::FromEnv`](crate::Proxy) (the default: `HTTP_PROXY`,
    /// `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, read at `build()`), `Proxy::None`, or
    /// `Proxy::url("http://user:pass@proxy:3128")?` (also `https://` and `socks5h://`).
    pub fn proxy(mut self, proxy: crate::Proxy) -> Self {
        self.config.proxy = proxy;
        self
    }

    /// Resolve `host` to these addresses instead of asking the system resolver (like curl's
    /// `--resolve`; the port stays the URL's). Happy Eyeballs races them as it would DNS's.
    pub fn resolve(
        mut self,
        host: impl AsRef<str>,
        addresses: impl IntoIterator<Item = std::net::IpAddr>,
    ) -> Self {
        self.config
            .resolve
            .insert(host.as_ref(), addresses.into_iter().collect());
        self
    }

    /// Ask `provider` for the URL before every attempt (sync or async, as `auth` is). The
    /// builder's URL is then used only until the first answer (in logs); a provider that fails,
    /// panics or names no `ws://`/`wss://` URL fails that attempt like an auth provider does.
    pub fn url_provider(mut self, provider: impl UrlProvider) -> Self {
        self.config.url_provider = Some(Arc::new(provider));
        self
    }

    /// Same as [`url_provider`](Self::url_provider), for a provider already behind an `Arc`.
    pub fn url_provider_arc(mut self, provider: Arc<dyn UrlProvider>) -> Self {
        self.config.url_provider = Some(provider);
        self
    }

    /// Inbound messages buffered for a slow consumer before the client stops reading (default
    /// 1024, at most [`crate::limits::MAX_EVENT_BUFFER`]).
    pub fn event_buffer(mut self, messages: usize) -> Self {
        self.config.event_buffer = messages;
        self
    }

    /// How long a local close waits for the server's close frame (default 2 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
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
        if let Some(e) = self.error {
            return Err(e);
        }
        let config = self.config.finish()?;
        Ok(Client::start(config, runtime))
    }

    /// The checked settings `build()` would start a client with.
    #[cfg(test)]
    pub(crate) fn into_config(self) -> Result<Config, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.config.finish()
    }
}

/// The client's events, in order. Also a `Stream`. Bindings drain it in batches.
///
/// A consumer that has caught up reads the socket itself (on its own task or thread) rather
/// than waiting for the client's task to read and hand over: come back promptly, as a pump
/// loop does. A consumer away in the app's handlers is covered by the client's task, which
/// takes reading back at heartbeat ticks (at once without a heartbeat), so a blocked handler
/// stalls reading but is never taken for a dead link.
pub struct Events {
    engine: Arc<Mutex<Engine>>,
    /// The fork generation of the client; in a forked child the stream has ended.
    generation: u32,
    /// Events taken from the engine and not yet handed out (by `next`, one at a time).
    ready: VecDeque<Event>,
    /// Where small messages' payloads are copied as they are taken (`engine::Unpacking`);
    /// empty until the first, and given back when a wait finds nothing and no payload holds it.
    arena: BytesMut,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

/// Events `next()` takes from the engine at once (one lock per chunk, not per event).
const NEXT_CHUNK: usize = 256;

impl Events {
    /// The next event; `None` after the terminal event (`Closed` by `close()`, or `Failed`).
    pub async fn next(&mut self) -> Option<Event> {
        poll_fn(|cx| self.poll_one(cx)).await
    }

    /// Wait for at least one event and take up to `max`; empty means the stream has ended.
    pub async fn next_batch(&mut self, max: usize) -> Vec<Event> {
        poll_fn(|cx| self.poll_batch(cx, max)).await
    }

    /// Blocking form of [`next_batch`](Self::next_batch) for a binding's own thread (never call
    /// it from async code). Holds no lock of the caller's while it waits, and reads the link on
    /// this thread while it has caught up.
    pub fn blocking_next_batch(&mut self, max: usize) -> Vec<Event> {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            match self.poll_batch(&mut cx, max) {
                Poll::Ready(batch) => return batch,
                // Woken by the socket or by events arriving.
                Poll::Pending => std::thread::park(),
            }
        }
    }

    /// The same as [`blocking_next_batch`](Self::blocking_next_batch) (every consumer reads
    /// the link itself now); kept for bindings written against the earlier name.
    pub fn blocking_pull_batch(&mut self, max: usize) -> Vec<Event> {
        self.blocking_next_batch(max)
    }

    /// Poll form of [`next_batch`](Self::next_batch), for a binding that runs many clients'
    /// streams from its own threads (see `wstether::dispatch`): `cx`'s waker is woken when
    /// events may be ready. An empty batch means the stream has ended.
    pub fn poll_next_batch(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<Vec<Event>> {
        self.poll_batch(cx, max)
    }

    /// For a consumer that runs its own event loop and polls this stream from it (Node's JS
    /// thread): from the next link on, that loop watches the link's socket for readability
    /// ([`watched_link`](Self::watched_link), [`duplicate_watched_socket`](Self::duplicate_watched_socket))
    /// and polls the stream when it is readable,
    /// instead of the runtime waking it through one of its threads on every arrival. The
    /// stream's waker is still woken for everything else. Unix only.
    #[cfg(unix)]
    pub fn read_on_own_loop(&mut self) {
        if !self.forked() {
            lock(&self.engine).read_on_own_loop();
        }
    }

    /// The link whose socket to watch for readability now (after
    /// [`read_on_own_loop`](Self::read_on_own_loop)), or `None` (no link, or one the runtime
    /// keeps: TLS to an `https://` proxy). A different number means a different socket.
    #[cfg(unix)]
    pub fn watched_link(&self) -> Option<u64> {
        if self.forked() {
            return None;
        }
        lock(&self.engine).watched_link()
    }

    /// A duplicate of link `link`'s socket for the loop to watch (closing it is the caller's),
    /// or `None` once that link has ended.
    #[cfg(unix)]
    pub fn duplicate_watched_socket(&self, link: u64) -> Option<std::os::fd::OwnedFd> {
        if self.forked() {
            return None;
        }
        lock(&self.engine).duplicate_watched_socket(link)
    }

    /// Take up to `max` events that are ready now, without waiting.
    pub fn try_next_batch(&mut self, max: usize) -> Vec<Event> {
        if self.forked() {
            return Vec::new();
        }
        let max = max.max(1);
        let mut out: Vec<Event> = self.ready.drain(..self.ready.len().min(max)).collect();
        if out.len() < max {
            let mut sink = Unpacking {
                queue: &mut out,
                arena: &mut self.arena,
            };
            lock(&self.engine).take_ready(max, &mut sink);
        }
        out
    }

    /// Poll form for a binding that copies every payload into its host language (see
    /// [`Batch`]): small messages come packed, with no allocation per message. `cx`'s waker is
    /// woken when events may be ready; an empty batch means the stream has ended.
    pub fn poll_next_packed(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<Batch> {
        let mut out = Batch::default();
        if self.forked() {
            return Poll::Ready(out);
        }
        let max = max.max(1);
        if !self.ready.is_empty() {
            for event in self.ready.drain(..self.ready.len().min(max)) {
                out.push(event);
            }
            return Poll::Ready(out);
        }
        match lock(&self.engine).poll_events(cx, max, &mut out) {
            Poll::Ready(()) => Poll::Ready(out),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_batch(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<Vec<Event>> {
        if self.forked() {
            return Poll::Ready(Vec::new());
        }
        let max = max.max(1);
        if !self.ready.is_empty() {
            return Poll::Ready(self.ready.drain(..self.ready.len().min(max)).collect());
        }
        let mut out = Vec::with_capacity(max.min(1024));
        let mut sink = Unpacking {
            queue: &mut out,
            arena: &mut self.arena,
        };
        let polled = lock(&self.engine).poll_events(cx, max, &mut sink);
        match polled {
            Poll::Ready(()) => Poll::Ready(out),
            Poll::Pending => {
                self.release_arena();
                Poll::Pending
            }
        }
    }

    fn poll_one(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        if let Some(event) = self.ready.pop_front() {
            return Poll::Ready(Some(event));
        }
        if self.forked() {
            return Poll::Ready(None);
        }
        // Straight into `ready`: each event moves once on its way out, not through a batch.
        let mut sink = Unpacking {
            queue: &mut self.ready,
            arena: &mut self.arena,
        };
        let polled = lock(&self.engine).poll_events(cx, NEXT_CHUNK, &mut sink);
        match polled {
            Poll::Ready(()) => Poll::Ready(self.ready.pop_front()),
            Poll::Pending => {
                self.release_arena();
                Poll::Pending
            }
        }
    }

    /// A wait that found nothing gives the arena back, unless payloads still hold it.
    fn release_arena(&mut self) {
        release_idle_arena(&mut self.arena);
    }

    /// In a forked child nothing feeds the stream any more (see `Inner::forked`).
    fn forked(&self) -> bool {
        crate::runtime::fork_generation() != self.generation
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.poll_one(cx)
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        // In a forked child the engine's lock may be held by a thread that no longer exists.
        if !self.forked() {
            lock(&self.engine).detach_consumer();
        }
    }
}

/// Wakes a thread parked in [`Events::blocking_next_batch`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
