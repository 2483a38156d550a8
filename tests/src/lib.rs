//! Test peers for wstether's test suites: a scriptable WebSocket server
//! ([`TestServer`]), a TCP fault-injection proxy ([`FaultProxy`]) and the
//! HTTP control API behind the `wstether-testd` binary ([`control`]), and a plain
//! python-websockets echo server for the README examples ([`python_echo`]).
//!
//! This crate deliberately does not depend on `wstether`: it is an independent
//! peer built on plain tokio + tokio-tungstenite, so a bug in the client cannot
//! hide itself by being mirrored in the server. Everything binds and connects to
//! 127.0.0.1 only, and every task a server or proxy spawns ends when it is dropped.

pub mod control;
mod proxy;
pub mod python_echo;
pub mod real_proxy;
mod server;
pub mod tls;

pub use proxy::{FaultProxy, ProxyMode, ProxyStats};
pub use real_proxy::{RealProxy, RealProxyKind};
pub use server::{ServerConfig, ServerStats, TestServer};
pub use tls::{ClientIdentity, ServerCert, TlsSetup};

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

/// The accept loop of a server or proxy: at most one runs; stopping it frees the port (the
/// other tasks live on), and dropping it aborts the loop.
#[derive(Default)]
pub(crate) struct ListenerTask(std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>);

impl ListenerTask {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<tokio::task::JoinHandle<()>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `accept_loop` as the listener, replacing (aborting) any previous one.
    pub fn start(&self, accept_loop: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Some(old) = self.slot().replace(tokio::spawn(accept_loop)) {
            old.abort();
        }
    }

    /// Stop listening and wait until the port is released.
    pub async fn stop(&self) {
        let task = self.slot().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Whether a listener is running.
    pub fn is_running(&self) -> bool {
        self.slot().is_some()
    }
}

impl Drop for ListenerTask {
    fn drop(&mut self) {
        if let Some(task) = self.slot().take() {
            task.abort();
        }
    }
}

/// Binds a listener on 127.0.0.1:`port` (0 = random) with SO_REUSEADDR, so the
/// same port can be bound again right after a stop while old connections linger
/// in TIME_WAIT.
pub(crate) fn bind_reuse(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(1024)
}

/// Rebinds `port`, retrying briefly: the previous listener may still be in the
/// middle of being dropped by its task.
pub(crate) async fn rebind(port: u16) -> std::io::Result<TcpListener> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match bind_reuse(port) {
            Ok(l) => return Ok(l),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Waits until `cond()` holds, re-checking on every change signalled through
/// `changes`, or until `timeout` passes. Returns whether the condition held.
pub(crate) async fn wait_for(
    changes: &watch::Sender<u64>,
    timeout: Duration,
    mut cond: impl FnMut() -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut rx = changes.subscribe();
    loop {
        // `subscribe` marks the current version as seen, so checking after it
        // cannot miss a change that happens between the check and the wait.
        if cond() {
            return true;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) | Err(_) => return cond(),
        }
    }
}

/// Signals a change to every [`wait_for`] waiter.
pub(crate) fn bump(changes: &watch::Sender<u64>) {
    changes.send_modify(|v| *v = v.wrapping_add(1));
}
