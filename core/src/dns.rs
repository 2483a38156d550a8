//! Name resolution and the TCP connection, with Happy Eyeballs (RFC 8305): the name is resolved
//! on every attempt, its addresses are ordered with the families interleaved (the resolver's
//! first choice first, usually IPv6), and a new connection attempt starts every 250 ms — or at
//! once when the previous one fails — until one connects. So a host whose IPv6 route silently
//! drops packets is reached over IPv4 a quarter of a second later, not after a TCP timeout.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::net::TcpStream;

use crate::event::Cause;

/// RFC 8305's Connection Attempt Delay: how long one address gets before the next one starts.
pub(crate) const STAGGER: Duration = Duration::from_millis(250);

/// Fixed answers for host names, consulted before the system resolver (like curl's
/// `--resolve`): for tests, split-horizon setups, or pinning a host to known addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Overrides(Arc<HashMap<String, Vec<IpAddr>>>);

impl Overrides {
    /// Add (or replace) the addresses `host` resolves to.
    pub fn insert(&mut self, host: &str, addrs: Vec<IpAddr>) {
        Arc::make_mut(&mut self.0).insert(host.to_ascii_lowercase(), addrs);
    }

    fn get(&self, host: &str) -> Option<&Vec<IpAddr>> {
        self.0.get(&host.to_ascii_lowercase())
    }
}

/// The addresses of `host` (a name or an IP literal, brackets allowed) at `port`.
pub(crate) async fn resolve(
    host: &str,
    port: u16,
    overrides: &Overrides,
) -> Result<Vec<SocketAddr>, Cause> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if let Some(ips) = overrides.get(host) {
        return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Cause::ConnectFailed(format!("cannot resolve {host}: {e}")))?
        .collect();
    if found.is_empty() {
        return Err(Cause::ConnectFailed(format!(
            "cannot resolve {host}: no addresses"
        )));
    }
    Ok(found)
}

/// The resolver's order with the families interleaved, starting with the family it put first
/// (RFC 8305 §4), duplicates dropped.
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut seen = Vec::with_capacity(addrs.len());
    for a in addrs {
        if !seen.contains(&a) {
            seen.push(a);
        }
    }
    let Some(first) = seen.first().copied() else {
        return seen;
    };
    let (mut same, mut other): (Vec<_>, Vec<_>) = seen
        .into_iter()
        .partition(|a| a.is_ipv6() == first.is_ipv6());
    same.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(same.len() + other.len());
    loop {
        match (same.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Resolve `host` and connect to it, racing its addresses (see the module doc). Returns the
/// connection, Nagle off, and the address it reached.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    overrides: &Overrides,
) -> Result<(TcpStream, SocketAddr), Cause> {
    let addrs = interleave(resolve(host, port, overrides).await?);
    race(&addrs, STAGGER).await
}

/// Connect to the first of `addrs` that answers, starting the next one every `stagger` or as
/// soon as the latest fails.
pub(crate) async fn race(
    addrs: &[SocketAddr],
    stagger: Duration,
) -> Result<(TcpStream, SocketAddr), Cause> {
    let mut pending = addrs.iter().copied();
    let mut running = FuturesUnordered::new();
    let mut failures: Vec<String> = Vec::new();
    let start = |addr: SocketAddr| async move { (addr, TcpStream::connect(addr).await) };
    if let Some(first) = pending.next() {
        running.push(start(first));
    }
    loop {
        if running.is_empty() {
            break;
        }
        let next = tokio::time::sleep(stagger);
        tokio::select! {
            biased;
            Some((addr, result)) = running.next() => match result {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok((tcp, addr));
                }
                Err(e) => {
                    failures.push(format!("{addr}: {e}"));
                    // A failure starts the next address at once.
                    if let Some(addr) = pending.next() {
                        running.push(start(addr));
                    }
                }
            },
            () = next, if pending.len() > 0 => {
                if let Some(addr) = pending.next() {
                    running.push(start(addr));
                }
            }
        }
    }
    Err(Cause::ConnectFailed(match failures.as_slice() {
        [] => "no addresses to connect to".into(),
        [one] => one.clone(),
        many => format!("no address answered: {}", many.join("; ")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_alternate_starting_with_the_resolvers_first_choice() {
        let got = interleave(vec![
            a("[2001:db8::1]:80"),
            a("[2001:db8::2]:80"),
            a("192.0.2.1:80"),
            a("192.0.2.2:80"),
            a("192.0.2.3:80"),
            a("192.0.2.1:80"),
        ]);
        assert_eq!(
            got,
            vec![
                a("[2001:db8::1]:80"),
                a("192.0.2.1:80"),
                a("[2001:db8::2]:80"),
                a("192.0.2.2:80"),
                a("192.0.2.3:80"),
            ]
        );
        let v4_first = interleave(vec![a("192.0.2.1:80"), a("[2001:db8::1]:80")]);
        assert_eq!(v4_first, vec![a("192.0.2.1:80"), a("[2001:db8::1]:80")]);
        assert!(interleave(Vec::new()).is_empty());
    }

    #[tokio::test]
    async fn literals_and_overrides_skip_the_resolver() {
        let mut o = Overrides::default();
        o.insert(
            "Echo.Test",
            vec!["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
        );
        assert_eq!(
            resolve("echo.test", 9, &o).await.unwrap(),
            vec![a("[::1]:9"), a("127.0.0.1:9")]
        );
        assert_eq!(resolve("[::1]", 9, &o).await.unwrap(), vec![a("[::1]:9")]);
        assert_eq!(
            resolve("10.0.0.1", 9, &o).await.unwrap(),
            vec![a("10.0.0.1:9")]
        );
    }
}
