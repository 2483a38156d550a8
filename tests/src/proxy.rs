//! [`FaultProxy`]: a TCP proxy that can blackhole, reset, refuse or delay.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::{bind_reuse, bump, rebind, wait_for, ListenerTask};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the proxy does with bytes. A mode applies to live connections and new ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward bytes both ways.
    Pass,
    /// Keep every TCP connection open (and accept new ones) but forward nothing
    /// in either direction: bytes are read and discarded. A connection that was
    /// blackholed stays dead after switching back to `Pass`; new connections
    /// pass. When the client side of a blackholed connection ends, the proxy
    /// closes the server side too, so the server does not keep a stale connection.
    Blackhole,
    /// Reset every live connection (RST); new connections are accepted and reset at once.
    Reset,
    /// Stop listening (connection refused) and drop live connections. Any
    /// other mode binds the same port again.
    Refuse,
    /// Hold each chunk read for this long before writing it on (per direction).
    Delay(Duration),
    /// Forward at most this many bytes per second in each direction, in small pieces every
    /// 50 ms: a slow but healthy link (a large message takes seconds to cross).
    Throttle(u32),
}

/// Proxy counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProxyStats {
    /// TCP connections accepted since start.
    pub accepted: u64,
    /// Currently open proxied connections.
    pub live: usize,
}

struct Shared {
    target: SocketAddr,
    port: u16,
    mode: watch::Sender<ProxyMode>,
    stats: Mutex<ProxyStats>,
    changes: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A TCP proxy on 127.0.0.1 in front of a target address, for injecting
/// network faults. Dropping it ends every task and connection it owns.
pub struct FaultProxy {
    shared: Arc<Shared>,
    /// Never sent on; dropping it tells every task of this proxy to end.
    alive: watch::Sender<()>,
    listener: ListenerTask,
}

impl FaultProxy {
    /// Starts a proxy in [`ProxyMode::Pass`] on a random port.
    pub async fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        let listener = bind_reuse(0)?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            target,
            port,
            mode: watch::channel(ProxyMode::Pass).0,
            stats: Mutex::new(ProxyStats::default()),
            changes: watch::channel(0).0,
        });
        let proxy = FaultProxy {
            shared,
            alive: watch::channel(()).0,
            listener: ListenerTask::default(),
        };
        proxy.spawn_listener(listener);
        Ok(proxy)
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

    /// `ws://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.shared.port)
    }

    /// Switches mode. Leaving `Refuse` binds the same port again.
    ///
    /// # Panics
    /// If the port cannot be bound again within two seconds.
    pub async fn set_mode(&self, mode: ProxyMode) {
        if mode == ProxyMode::Refuse {
            self.listener.stop().await;
            self.shared.mode.send_replace(mode);
            return;
        }
        self.shared.mode.send_replace(mode);
        if !self.listener.is_running() {
            let listener = rebind(self.shared.port)
                .await
                .unwrap_or_else(|e| panic!("proxy cannot bind port {}: {e}", self.shared.port));
            self.spawn_listener(listener);
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        lock(&self.shared.stats).clone()
    }

    /// Waits until exactly `n` connections are live. Returns false on timeout.
    pub async fn wait_live(&self, n: usize, timeout: Duration) -> bool {
        wait_for(&self.shared.changes, timeout, || {
            lock(&self.shared.stats).live == n
        })
        .await
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut alive: watch::Receiver<()>) {
    loop {
        tokio::select! {
            _ = alive.changed() => return,
            r = listener.accept() => match r {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    shared.update(|s| { s.accepted += 1; s.live += 1 });
                    tokio::spawn(connection(tcp, shared.clone(), alive.clone()));
                }
                Err(e) => {
                    tracing::debug!("proxy accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut ProxyStats)) {
        f(&mut lock(&self.stats));
        bump(&self.changes);
    }
}

/// Decrements `live` when a connection task ends.
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.update(|s| s.live -= 1);
    }
}

/// How a proxied connection ends.
enum End {
    /// Close both sockets normally (FIN).
    Close,
    /// Reset both sockets (RST).
    Reset,
}

fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

async fn connection(mut client: TcpStream, shared: Arc<Shared>, mut alive: watch::Receiver<()>) {
    let _live = LiveGuard(shared.clone());
    let mut mode_rx = shared.mode.subscribe();
    let mode = *mode_rx.borrow_and_update();
    let blackholed = AtomicBool::new(mode == ProxyMode::Blackhole);
    match mode {
        ProxyMode::Reset => return reset(&client),
        ProxyMode::Refuse => return,
        _ => {}
    }

    if blackholed.load(Ordering::Relaxed) {
        // Accepted while blackholed: no upstream at all, discard until the client gives up.
        let end = {
            let mut buf = vec![0u8; 16 * 1024];
            let discard = async {
                while let Ok(n) = client.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            };
            tokio::select! {
                _ = alive.changed() => End::Close,
                _ = discard => End::Close,
                end = kill_signal(&mut mode_rx, &blackholed) => end,
            }
        };
        if let End::Reset = end {
            reset(&client);
        }
        return;
    }

    let mut upstream = tokio::select! {
        _ = alive.changed() => return,
        r = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(shared.target)) => match r {
            Ok(Ok(up)) => up,
            _ => return reset(&client),
        },
    };
    let _ = upstream.set_nodelay(true);

    let end = {
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        let c2u = pump(&mut cr, &mut uw, &shared.mode, &blackholed);
        let u2c = pump(&mut ur, &mut cw, &shared.mode, &blackholed);
        tokio::pin!(c2u, u2c);
        let (mut c_done, mut u_done) = (false, false);
        let kill = kill_signal(&mut mode_rx, &blackholed);
        tokio::pin!(kill);
        loop {
            tokio::select! {
                _ = alive.changed() => break End::Close,
                end = &mut kill => break end,
                _ = &mut c2u, if !c_done => {
                    c_done = true;
                    // A blackholed link carries nothing, not even the client's FIN: end it whole.
                    if u_done || blackholed.load(Ordering::Relaxed) {
                        break End::Close;
                    }
                }
                _ = &mut u2c, if !u_done => {
                    u_done = true;
                    if c_done || blackholed.load(Ordering::Relaxed) {
                        break End::Close;
                    }
                }
            }
        }
    };
    if let End::Reset = end {
        reset(&client);
        reset(&upstream);
    }
}

/// Resolves when the mode asks live connections to end; marks the connection
/// blackholed when the mode becomes `Blackhole`.
async fn kill_signal(mode_rx: &mut watch::Receiver<ProxyMode>, blackholed: &AtomicBool) -> End {
    loop {
        if mode_rx.changed().await.is_err() {
            return End::Close;
        }
        match *mode_rx.borrow_and_update() {
            ProxyMode::Reset => return End::Reset,
            ProxyMode::Refuse => return End::Close,
            ProxyMode::Blackhole => blackholed.store(true, Ordering::Relaxed),
            ProxyMode::Pass | ProxyMode::Delay(_) | ProxyMode::Throttle(_) => {}
        }
    }
}

/// Copies one direction until EOF or error, obeying the current mode per chunk.
async fn pump(
    r: &mut ReadHalf<'_>,
    w: &mut WriteHalf<'_>,
    mode: &watch::Sender<ProxyMode>,
    blackholed: &AtomicBool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => {
                if !blackholed.load(Ordering::Relaxed) {
                    let _ = w.shutdown().await;
                }
                return;
            }
            Ok(n) => n,
        };
        let current = *mode.borrow();
        if current == ProxyMode::Blackhole {
            blackholed.store(true, Ordering::Relaxed);
        }
        if blackholed.load(Ordering::Relaxed) {
            continue;
        }
        if let ProxyMode::Delay(d) = current {
            tokio::time::sleep(d).await;
        }
        if let ProxyMode::Throttle(rate) = current {
            let piece = (rate as usize / 20).max(1);
            for part in buf[..n].chunks(piece) {
                if w.write_all(part).await.is_err() {
                    return;
                }
                let secs = part.len() as f64 / f64::from(rate.max(1));
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            continue;
        }
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
