//! [`TestServer`]: an echo WebSocket server whose faults are scripted by the test.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::{bind_reuse, bump, rebind, wait_for, ListenerTask};

/// Largest message the server accepts when [`ServerConfig::max_message_size`] is `None`.
const DEFAULT_MAX_MESSAGE: usize = 64 << 20;
/// How long a TCP connection may take to finish its TLS and HTTP upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server waits for the client's reply after sending a close frame.
const CLOSE_DRAIN: Duration = Duration::from_secs(2);
/// Most blast messages encoded into one write.
const BLAST_BATCH: u64 = 256;
/// Most blast bytes encoded into one write.
const BLAST_BYTES: usize = 1 << 20;

/// Settings fixed when a [`TestServer`] starts.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// Accepted subprotocols: the server picks the first one the client offers
    /// that is in this list (none offered or none matching → no protocol).
    pub protocols: Vec<String>,
    /// Required bearer token (see [`TestServer::set_token`]).
    pub token: Option<String>,
    /// Largest inbound message; `None` → 64 MiB.
    pub max_message_size: Option<usize>,
}

/// A snapshot of what the server has seen.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerStats {
    /// Completed upgrades (101).
    pub handshakes: u64,
    /// Handshakes answered with a non-101 status.
    pub rejected: u64,
    /// Currently open WebSocket connections.
    pub live: usize,
    /// Every text message received, in order, across all connections; binary
    /// messages as `bin:<len>`. In-band `!` commands are not recorded.
    pub received: Vec<String>,
    /// The `Authorization` header of every handshake request, in order.
    pub auth_headers: Vec<Option<String>>,
    /// The `Sec-WebSocket-Protocol` offered in every handshake request.
    pub protocols: Vec<Option<String>>,
    /// Milliseconds since server start of every handshake request (accepted or rejected).
    pub handshake_times_ms: Vec<u64>,
    /// Ping frames received.
    pub pings: u64,
    /// Close codes received from clients (1005 when the frame had no code).
    pub close_codes: Vec<u16>,
}

struct Reject {
    remaining: u32,
    status: u16,
    retry_after: Option<u32>,
}

#[derive(Default)]
struct Settings {
    token: Option<String>,
    reject: Option<Reject>,
    close_on_open: Option<(u16, String)>,
}

enum ConnCmd {
    /// Send a close frame, wait briefly for the reply, end. `done` is dropped once the frame is written.
    Close {
        code: u16,
        reason: String,
        done: oneshot::Sender<()>,
    },
    /// End the connection without a close frame. `done` is dropped when it has ended.
    Drop { done: oneshot::Sender<()> },
}

struct Shared {
    port: u16,
    protocols: Vec<String>,
    ws_config: WebSocketConfig,
    tls: Option<TlsAcceptor>,
    started: Instant,
    settings: Mutex<Settings>,
    stats: Mutex<ServerStats>,
    /// Bumped on every stats change; `wait_*` listen to it.
    changes: watch::Sender<u64>,
    /// `false` → every connection goes silent (no reads, no writes).
    answer_pings: watch::Sender<bool>,
    conns: Mutex<HashMap<u64, mpsc::UnboundedSender<ConnCmd>>>,
    next_conn: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An echo WebSocket server on 127.0.0.1 whose faults the test scripts.
///
/// Dropping it ends every task and connection it owns.
pub struct TestServer {
    shared: Arc<Shared>,
    /// Never sent on; dropping it tells every task of this server to end.
    alive: watch::Sender<()>,
    listener: ListenerTask,
}

impl TestServer {
    /// A plain `ws://` server on a random port.
    pub async fn start() -> io::Result<TestServer> {
        Self::start_with(ServerConfig::default()).await
    }

    /// A plain `ws://` server with the given settings.
    pub async fn start_with(cfg: ServerConfig) -> io::Result<TestServer> {
        Self::launch(cfg, None)
    }

    /// A `wss://` server with a fresh certificate for `localhost` and 127.0.0.1.
    /// Returns the server and the PEM of the CA the client must trust.
    pub async fn start_tls() -> io::Result<(TestServer, String)> {
        Self::start_tls_with(ServerConfig::default()).await
    }

    /// Like [`TestServer::start_tls`], with the given settings.
    pub async fn start_tls_with(cfg: ServerConfig) -> io::Result<(TestServer, String)> {
        let (acceptor, ca_pem) = crate::tls::make_acceptor()?;
        Ok((Self::launch(cfg, Some(acceptor))?, ca_pem))
    }

    /// A `wss://` server set up as `setup` says (a self-signed or CA-flagged certificate,
    /// client certificates required). Returns the server and the PEM a client trusts or pins.
    pub async fn start_tls_setup(
        cfg: ServerConfig,
        setup: &crate::tls::TlsSetup,
    ) -> io::Result<(TestServer, String)> {
        let (acceptor, pem) = crate::tls::make_acceptor_with(setup)?;
        Ok((Self::launch(cfg, Some(acceptor))?, pem))
    }

    /// A `wss://` server presenting `cert_pem` with `key_pem` (made elsewhere, e.g. by
    /// `openssl req -x509`); with `client_ca_pem`, clients must present a certificate it signed.
    pub async fn start_tls_pem(
        cfg: ServerConfig,
        cert_pem: &str,
        key_pem: &str,
        client_ca_pem: Option<&str>,
    ) -> io::Result<TestServer> {
        let acceptor = crate::tls::acceptor_from_pem(cert_pem, key_pem, client_ca_pem)?;
        Self::launch(cfg, Some(acceptor))
    }

    fn launch(cfg: ServerConfig, tls: Option<TlsAcceptor>) -> io::Result<TestServer> {
        let listener = bind_reuse(0)?;
        let port = listener.local_addr()?.port();
        let max = cfg.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE);
        let shared = Arc::new(Shared {
            port,
            protocols: cfg.protocols,
            ws_config: WebSocketConfig::default()
                .max_message_size(Some(max))
                .max_frame_size(Some(max)),
            tls,
            started: Instant::now(),
            settings: Mutex::new(Settings {
                token: cfg.token,
                ..Settings::default()
            }),
            stats: Mutex::new(ServerStats::default()),
            changes: watch::channel(0).0,
            answer_pings: watch::channel(true).0,
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
        });
        let (alive, _) = watch::channel(());
        let server = TestServer {
            shared,
            alive,
            listener: ListenerTask::default(),
        };
        server.spawn_listener(listener);
        Ok(server)
    }

    fn spawn_listener(&self, listener: TcpListener) {
        self.listener.start(accept_loop(
            listener,
            self.shared.clone(),
            self.alive.subscribe(),
        ));
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// `ws://127.0.0.1:<port>/`, or `wss://localhost:<port>/` for a TLS server.
    pub fn url(&self) -> String {
        if self.shared.tls.is_some() {
            format!("wss://localhost:{}/", self.shared.port)
        } else {
            format!("ws://127.0.0.1:{}/", self.shared.port)
        }
    }

    /// Require `Authorization: Bearer <token>` (missing or wrong → HTTP 401);
    /// `None` → no authentication.
    pub fn set_token(&self, token: Option<&str>) {
        lock(&self.shared.settings).token = token.map(str::to_owned);
    }

    /// Answer the next `n` handshakes with HTTP `status` (plus `Retry-After`
    /// in seconds when given). `n == u32::MAX` → until [`TestServer::clear_reject`].
    pub fn reject_next(&self, n: u32, status: u16, retry_after: Option<u32>) {
        lock(&self.shared.settings).reject = (n > 0).then_some(Reject {
            remaining: n,
            status,
            retry_after,
        });
    }

    /// Stop rejecting handshakes.
    pub fn clear_reject(&self) {
        lock(&self.shared.settings).reject = None;
    }

    /// `false` makes the server a hung peer: on existing and new connections
    /// (the handshake still completes) it reads nothing, so answers no Ping,
    /// and writes nothing, while the TCP connection stays open. `true` resumes.
    pub fn set_answer_pings(&self, yes: bool) {
        self.shared.answer_pings.send_replace(yes);
    }

    /// Close every new connection right after its handshake with this code and
    /// reason (`None` → off).
    pub fn set_close_on_open(&self, code: Option<(u16, String)>) {
        lock(&self.shared.settings).close_on_open = code;
    }

    /// Send a close frame with `code`/`reason` on every live connection. Returns
    /// once the frames are written; each connection then ends when its client
    /// answers (or after 2 s). Use [`TestServer::wait_connections`] to wait for that.
    pub async fn close_all(&self, code: u16, reason: &str) {
        self.command_all(|done| ConnCmd::Close {
            code,
            reason: reason.to_owned(),
            done,
        })
        .await
    }

    /// Drop every live connection's TCP without a close frame. Returns once they are gone.
    pub async fn drop_all(&self) {
        self.command_all(|done| ConnCmd::Drop { done }).await
    }

    async fn command_all(&self, make: impl Fn(oneshot::Sender<()>) -> ConnCmd) {
        let senders: Vec<_> = lock(&self.shared.conns).values().cloned().collect();
        let mut waits = Vec::with_capacity(senders.len());
        for tx in senders {
            let (done, wait) = oneshot::channel();
            if tx.send(make(done)).is_ok() {
                waits.push(wait);
            }
        }
        // Each receiver resolves (with an error) once its connection task has ended.
        let all = futures_util::future::join_all(waits);
        let _ = tokio::time::timeout(CLOSE_DRAIN + Duration::from_secs(1), all).await;
    }

    /// Stop listening (new connections are refused) and end every connection:
    /// with a close frame of `code` if given, abruptly otherwise.
    pub async fn stop(&self, code: Option<u16>) {
        self.listener.stop().await;
        match code {
            Some(code) => self.close_all(code, "server stopping").await,
            None => self.drop_all().await,
        }
    }

    /// Listen again on the same port, keeping every setting. Does nothing if
    /// the server is already listening.
    pub async fn restart(&self) -> io::Result<()> {
        if self.listener.is_running() {
            return Ok(());
        }
        let listener = rebind(self.shared.port).await?;
        self.spawn_listener(listener);
        Ok(())
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> ServerStats {
        lock(&self.shared.stats).clone()
    }

    /// Waits until exactly `n` connections are live. Returns false on timeout.
    pub async fn wait_connections(&self, n: usize, timeout: Duration) -> bool {
        wait_for(&self.shared.changes, timeout, || {
            lock(&self.shared.stats).live == n
        })
        .await
    }

    /// Waits until at least `n` messages have been received. Returns false on timeout.
    pub async fn wait_received(&self, n: usize, timeout: Duration) -> bool {
        wait_for(&self.shared.changes, timeout, || {
            lock(&self.shared.stats).received.len() >= n
        })
        .await
    }

    /// Forget the messages received so far.
    pub fn clear_received(&self) {
        lock(&self.shared.stats).received.clear();
        bump(&self.shared.changes);
    }
}

impl Shared {
    fn update_stats(&self, f: impl FnOnce(&mut ServerStats)) {
        f(&mut lock(&self.stats));
        bump(&self.changes);
    }

    /// The handshake callback: records the request, then accepts or rejects it.
    /// (The large error type is tungstenite's.)
    #[allow(clippy::result_large_err)]
    fn on_handshake(&self, req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let offered: Vec<String> = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let offered_header = (!offered.is_empty()).then(|| offered.join(", "));
        let elapsed = self.started.elapsed().as_millis() as u64;

        let verdict = {
            let mut settings = lock(&self.settings);
            if let Some(r) = settings.reject.as_mut() {
                let verdict = Err((r.status, r.retry_after));
                if r.remaining != u32::MAX {
                    r.remaining -= 1;
                }
                if r.remaining == 0 {
                    settings.reject = None;
                }
                verdict
            } else if let Some(token) = &settings.token {
                if auth.as_deref() == Some(&format!("Bearer {token}")) {
                    Ok(())
                } else {
                    Err((401, None))
                }
            } else {
                Ok(())
            }
        };

        self.update_stats(|s| {
            s.auth_headers.push(auth);
            s.protocols.push(offered_header);
            s.handshake_times_ms.push(elapsed);
            match verdict {
                Ok(()) => s.handshakes += 1,
                Err(_) => s.rejected += 1,
            }
        });

        match verdict {
            Ok(()) => {
                let chosen = offered
                    .iter()
                    .flat_map(|h| h.split(','))
                    .map(str::trim)
                    .find(|p| self.protocols.iter().any(|a| a == p));
                if let Some(p) = chosen.and_then(|p| HeaderValue::from_str(p).ok()) {
                    resp.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, p);
                }
                Ok(resp)
            }
            Err((status, retry_after)) => Err(error_response(status, retry_after)),
        }
    }
}

fn error_response(status: u16, retry_after: Option<u32>) -> ErrorResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = format!("{status}\n");
    let mut resp = ErrorResponse::new(Some(body.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if let Some(secs) = retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut alive: watch::Receiver<()>) {
    loop {
        tokio::select! {
            _ = alive.changed() => return,
            r = listener.accept() => match r {
                Ok((tcp, _)) => {
                    tokio::spawn(connection(tcp, shared.clone(), alive.clone()));
                }
                Err(e) => {
                    tracing::debug!("test server accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

/// Removes a connection from the registry (and from `live`) when its task ends.
struct ConnGuard {
    shared: Arc<Shared>,
    id: u64,
    live: bool,
    /// Acknowledgements of commands: dropped when the connection ends.
    _done: Vec<oneshot::Sender<()>>,
}

impl ConnGuard {
    fn hold(&mut self, cmd: Option<ConnCmd>) {
        match cmd {
            Some(ConnCmd::Close { done, .. }) | Some(ConnCmd::Drop { done }) => {
                self._done.push(done)
            }
            None => {}
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        lock(&self.shared.conns).remove(&self.id);
        if self.live {
            self.shared.update_stats(|s| s.live -= 1);
        }
    }
}

async fn connection(tcp: TcpStream, shared: Arc<Shared>, mut alive: watch::Receiver<()>) {
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    lock(&shared.conns).insert(id, tx);
    let mut guard = ConnGuard {
        shared: shared.clone(),
        id,
        live: false,
        _done: Vec::new(),
    };
    let _ = tcp.set_nodelay(true);
    match &shared.tls {
        None => serve(tcp, &shared, &mut alive, &mut rx, &mut guard).await,
        Some(acceptor) => {
            let tls = tokio::select! {
                _ = alive.changed() => return,
                cmd = rx.recv() => return guard.hold(cmd),
                r = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)) => match r {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => return tracing::debug!("test server TLS handshake failed: {e}"),
                    Err(_) => return,
                },
            };
            serve(tls, &shared, &mut alive, &mut rx, &mut guard).await
        }
    }
}

/// An in-progress `!blast`: its frames are encoded here and written to the socket directly, not
/// through tungstenite (which copies each message into its own buffer once more), so that a
/// blast measures the client, not this server. Server frames are unmasked, so each one is a
/// header, the message number and the padding: small frames are encoded whole, large ones
/// point at the one padding (a vectored write), so a 64 KiB message costs the server little
/// more than the kernel's copy.
struct Blast {
    next: u64,
    total: u64,
    /// The message size in bytes of `x`, built once.
    padding: String,
    /// Encoded bytes of the current run: headers and prefixes, and whole small frames.
    encoded: Vec<u8>,
    /// The run in order: encoded bytes, each followed by that many bytes of the padding.
    pieces: Vec<Piece>,
    /// Progress through `pieces` (survives a cancelled step).
    at: usize,
    /// Bytes of `pieces[at]` already written.
    partly: usize,
    /// `!blast-done` is encoded (the last frame).
    done: bool,
}

/// Part of a blast run: `encoded[start..end]`, then `pad` bytes of the padding.
struct Piece {
    start: usize,
    end: usize,
    pad: usize,
}

/// From this size on a blast message's padding is not copied but written from the one buffer.
const BLAST_VECTORED: usize = 4096;
/// Most slices handed to one vectored write.
const BLAST_SLICES: usize = 64;

impl Blast {
    fn new(total: u64, size: usize) -> Blast {
        Blast {
            next: 0,
            total,
            padding: "x".repeat(size),
            encoded: Vec::new(),
            pieces: Vec::new(),
            at: 0,
            partly: 0,
            done: false,
        }
    }

    /// Encode the next run once the previous one is written; false when all is.
    fn refill(&mut self) -> bool {
        if self.at < self.pieces.len() {
            return true;
        }
        if self.done {
            return false;
        }
        self.encoded.clear();
        self.pieces.clear();
        self.at = 0;
        self.partly = 0;
        let end = self.total.min(self.next + BLAST_BATCH);
        let mut prefix = String::with_capacity(24);
        let mut bytes = 0;
        while self.next < end && bytes < BLAST_BYTES {
            prefix.clear();
            let _ = write!(prefix, "{}:", self.next);
            let pad = self.padding.len().saturating_sub(prefix.len());
            let start = self.encoded.len();
            text_header(&mut self.encoded, prefix.len() + pad);
            self.encoded.extend_from_slice(prefix.as_bytes());
            if pad >= BLAST_VECTORED {
                self.pieces.push(Piece {
                    start,
                    end: self.encoded.len(),
                    pad,
                });
            } else {
                self.encoded.extend_from_slice(
                    &self.padding.as_bytes()[prefix.len().min(self.padding.len())..],
                );
                self.push_encoded(start);
            }
            bytes += self.encoded.len() - start + pad;
            self.next += 1;
        }
        if self.next == self.total {
            const DONE: &str = "!blast-done";
            let start = self.encoded.len();
            text_header(&mut self.encoded, DONE.len());
            self.encoded.extend_from_slice(DONE.as_bytes());
            self.push_encoded(start);
            self.done = true;
        }
        true
    }

    /// `encoded[start..]` as a piece, joined to the one before when that has no padding.
    fn push_encoded(&mut self, start: usize) {
        let end = self.encoded.len();
        match self.pieces.last_mut() {
            Some(last) if last.pad == 0 && last.end == start => last.end = end,
            _ => self.pieces.push(Piece { start, end, pad: 0 }),
        }
    }

    /// The slices still to write, from the current position.
    fn slices(&self) -> Vec<io::IoSlice<'_>> {
        let padding = self.padding.as_bytes();
        let mut out = Vec::with_capacity(BLAST_SLICES);
        let mut skip = self.partly;
        for piece in &self.pieces[self.at..] {
            let head = &self.encoded[piece.start..piece.end];
            if skip < head.len() {
                out.push(io::IoSlice::new(&head[skip..]));
                skip = 0;
            } else {
                skip -= head.len();
            }
            if piece.pad > 0 {
                out.push(io::IoSlice::new(
                    &padding[padding.len() - piece.pad + skip..],
                ));
                skip = 0;
            }
            if out.len() >= BLAST_SLICES {
                break;
            }
        }
        out
    }

    /// `n` more bytes were written.
    fn advance(&mut self, mut n: usize) {
        while n > 0 && self.at < self.pieces.len() {
            let piece = &self.pieces[self.at];
            let left = piece.end - piece.start + piece.pad - self.partly;
            if n < left {
                self.partly += n;
                return;
            }
            n -= left;
            self.at += 1;
            self.partly = 0;
        }
    }
}

/// The header of an unmasked, final text frame of `len` bytes (RFC 6455 §5.2).
fn text_header(out: &mut Vec<u8>, len: usize) {
    out.push(0x81);
    if len < 126 {
        out.push(len as u8);
    } else if len <= u16::MAX as usize {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Write the next frames of `b`: `Ok(true)` once the last (`!blast-done`) is written.
async fn write_blast<S>(ws: &mut WebSocketStream<S>, b: &mut Blast) -> Result<bool, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Whatever tungstenite holds (a pong) goes first.
    ws.flush().await?;
    if !b.refill() {
        return Ok(true);
    }
    while b.at < b.pieces.len() {
        // Each write either wrote `n` bytes or, cancelled, none: progress is kept in `b`.
        let n = {
            let slices = b.slices();
            ws.get_mut().write_vectored(&slices).await?
        };
        if n == 0 {
            return Err(WsError::Io(io::ErrorKind::WriteZero.into()));
        }
        b.advance(n);
    }
    ws.get_mut().flush().await?;
    Ok(b.done)
}

enum Step {
    Msg(Option<Result<Message, WsError>>),
    /// `Ok(true)` when the blast (and its `!blast-done`) has been written.
    Blasted(Result<bool, WsError>),
}

enum Event {
    Exit,
    Cmd(Option<ConnCmd>),
    PingsChanged,
    Step(Step),
}

#[allow(clippy::result_large_err)] // the handshake callback's type is tungstenite's
async fn serve<S>(
    stream: S,
    shared: &Arc<Shared>,
    alive: &mut watch::Receiver<()>,
    rx: &mut mpsc::UnboundedReceiver<ConnCmd>,
    guard: &mut ConnGuard,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let callback = |req: &Request, resp: Response| shared.on_handshake(req, resp);
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(shared.ws_config));
    let mut ws = tokio::select! {
        _ = alive.changed() => return,
        cmd = rx.recv() => return guard.hold(cmd),
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake) => match r {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => return tracing::debug!("test server handshake ended: {e}"),
            Err(_) => return,
        },
    };
    guard.live = true;
    shared.update_stats(|s| s.live += 1);

    let close_on_open = lock(&shared.settings).close_on_open.clone();
    if let Some((code, reason)) = close_on_open {
        return close_and_drain(&mut ws, shared, alive, code, &reason, None).await;
    }

    let mut pings = shared.answer_pings.subscribe();
    let mut answering = *pings.borrow_and_update();
    let mut blast: Option<Blast> = None;
    loop {
        let event = tokio::select! {
            biased;
            _ = alive.changed() => Event::Exit,
            cmd = rx.recv() => Event::Cmd(cmd),
            r = pings.changed() => if r.is_ok() { Event::PingsChanged } else { Event::Exit },
            step = step(&mut ws, &mut blast), if answering => Event::Step(step),
        };
        match event {
            Event::Exit => return,
            Event::PingsChanged => answering = *pings.borrow_and_update(),
            Event::Cmd(None) => return,
            Event::Cmd(Some(ConnCmd::Drop { done })) => return guard._done.push(done),
            Event::Cmd(Some(ConnCmd::Close { code, reason, done })) => {
                // A frame cut short by this command is finished first: the close frame must
                // start on a frame boundary.
                if let Some(b) = blast.as_mut() {
                    b.done = true;
                    if write_blast(&mut ws, b).await.is_err() {
                        return;
                    }
                }
                return close_and_drain(&mut ws, shared, alive, code, &reason, Some(done)).await;
            }
            Event::Step(Step::Blasted(Ok(finished))) => {
                if finished {
                    blast = None;
                }
            }
            Event::Step(Step::Blasted(Err(_))) => return,
            Event::Step(Step::Msg(None)) | Event::Step(Step::Msg(Some(Err(_)))) => return,
            Event::Step(Step::Msg(Some(Ok(msg)))) => match msg {
                Message::Text(text) => {
                    if let Some(cmd) = text.strip_prefix('!') {
                        match parse_command(cmd) {
                            Command::Blast { count, size } => blast = Some(Blast::new(count, size)),
                            Command::Big(size) => {
                                if ws.send(Message::text("x".repeat(size))).await.is_err() {
                                    return;
                                }
                            }
                            Command::Close { code, reason } => {
                                return close_and_drain(
                                    &mut ws, shared, alive, code, &reason, None,
                                )
                                .await;
                            }
                            Command::Invalid(why) => {
                                if ws
                                    .send(Message::text(format!("!error {why}")))
                                    .await
                                    .is_err()
                                {
                                    return;
                                }
                            }
                        }
                    } else {
                        shared.update_stats(|s| s.received.push(text.as_str().to_owned()));
                        if ws.send(Message::Text(text)).await.is_err() {
                            return;
                        }
                    }
                }
                Message::Binary(bin) => {
                    shared.update_stats(|s| s.received.push(format!("bin:{}", bin.len())));
                    if ws.send(Message::Binary(bin)).await.is_err() {
                        return;
                    }
                }
                // tungstenite queues the Pong itself; it goes out with the next read or write.
                Message::Ping(_) => shared.update_stats(|s| s.pings += 1),
                Message::Close(frame) => record_close(shared, frame.as_ref()),
                Message::Pong(_) | Message::Frame(_) => {}
            },
        }
    }
}

/// Either writes the next batch of a blast, or reads the next message.
async fn step<S>(ws: &mut WebSocketStream<S>, blast: &mut Option<Blast>) -> Step
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(b) = blast.as_mut() else {
        return Step::Msg(ws.next().await);
    };
    Step::Blasted(write_blast(ws, b).await)
}

fn record_close(shared: &Shared, frame: Option<&CloseFrame>) {
    let code = frame.map_or(1005, |f| u16::from(f.code));
    shared.update_stats(|s| s.close_codes.push(code));
}

/// Sends a close frame (then drops `sent`) and reads until the client answers
/// (or a short timeout).
async fn close_and_drain<S>(
    ws: &mut WebSocketStream<S>,
    shared: &Shared,
    alive: &mut watch::Receiver<()>,
    code: u16,
    reason: &str,
    sent: Option<oneshot::Sender<()>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let result = ws.close(Some(frame)).await;
    drop(sent); // tells `close_all` the frame is out
    if result.is_err() {
        return;
    }
    let drain = async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Close(frame) = msg {
                record_close(shared, frame.as_ref());
            }
        }
    };
    tokio::select! {
        _ = alive.changed() => {}
        _ = tokio::time::timeout(CLOSE_DRAIN, drain) => {}
    }
}

enum Command {
    Blast { count: u64, size: usize },
    Big(usize),
    Close { code: u16, reason: String },
    Invalid(String),
}

/// Parses an in-band command (the text after `!`).
fn parse_command(cmd: &str) -> Command {
    let mut parts = cmd.splitn(2, ' ');
    let name = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("").trim();
    let mut args = rest.split_whitespace();
    let invalid = || Command::Invalid(format!("bad command: !{cmd}"));
    match name {
        "blast" => match (
            args.next().and_then(|a| a.parse().ok()),
            args.next().and_then(|a| a.parse().ok()),
        ) {
            (Some(count), Some(size)) => Command::Blast { count, size },
            _ => invalid(),
        },
        "big" => match args.next().and_then(|a| a.parse().ok()) {
            Some(size) => Command::Big(size),
            None => invalid(),
        },
        "close" => {
            let mut it = rest.splitn(2, ' ');
            match it.next().and_then(|c| c.parse().ok()) {
                Some(code) => Command::Close {
                    code,
                    reason: it.next().unwrap_or("").to_owned(),
                },
                None => invalid(),
            }
        }
        _ => invalid(),
    }
}
