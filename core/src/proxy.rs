//! Proxies: which one an attempt goes through (a per-client setting, or the environment the way
//! curl and python-websockets read it), and the two tunnels — HTTP `CONNECT` (over TCP, or over
//! TLS for an `https://` proxy) and SOCKS5 (RFC 1928, with RFC 1929 username/password).
//!
//! From the environment: `ws://` URLs use `http_proxy`/`HTTP_PROXY`, `wss://` URLs use
//! `https_proxy`/`HTTPS_PROXY`, and `all_proxy`/`ALL_PROXY` is the fallback for both (the
//! lower-case name wins when both are set, as in Python's `urllib`; `HTTP_PROXY` is ignored when
//! `REQUEST_METHOD` is set, so a CGI request cannot choose the proxy). `no_proxy`/`NO_PROXY`
//! lists what goes direct: `*`, host names (`example.com` also covers its subdomains; a leading
//! `.` or `*.` means the same), IP addresses and ranges (`10.0.0.0/8`, `::1`), each optionally
//! with `:port`.
//!
//! SOCKS5 sends the host name to the proxy, which resolves it (`socks5h` semantics, for both
//! `socks5://` and `socks5h://`): names only the proxy can resolve still work, and no lookup
//! leaves the client. Proxy credentials are secrets: `Debug` and every message hide them.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::Error;
use crate::event::Cause;
use crate::redact::REDACTED;

/// Which proxy a client's attempts go through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Proxy {
    /// From the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), read when
    /// the client is built. The default.
    #[default]
    FromEnv,
    /// Always connect directly.
    None,
    /// Always through this proxy (`NO_PROXY` does not apply).
    Url(ProxyUrl),
}

impl Proxy {
    /// A proxy from its URL: `http://[user:pass@]host[:port]`, `https://…`, `socks5://…` or
    /// `socks5h://…` (a URL without a scheme is `http://`, as in curl).
    pub fn url(url: &str) -> Result<Proxy, Error> {
        ProxyUrl::parse(url)
            .map(Proxy::Url)
            .map_err(|reason| Error::InvalidOption {
                option: "proxy",
                reason,
            })
    }
}

/// How a proxy is spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// HTTP `CONNECT` over TCP.
    Http,
    /// HTTP `CONNECT` over TLS to the proxy.
    Https,
    /// SOCKS5; the proxy resolves the name.
    Socks5,
}

/// A parsed proxy URL. Its credentials never appear in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub(crate) kind: Kind,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) credentials: Option<(String, String)>,
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            Kind::Http => "http",
            Kind::Https => "https",
            Kind::Socks5 => "socks5h",
        };
        let auth = if self.credentials.is_some() {
            format!("{REDACTED}@")
        } else {
            String::new()
        };
        write!(f, "{scheme}://{auth}{}", self.authority())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

impl ProxyUrl {
    /// Parse a proxy URL; the error never repeats the credentials.
    pub(crate) fn parse(raw: &str) -> Result<ProxyUrl, String> {
        let raw = raw.trim();
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        let shown = crate::redact::raw_url(&with_scheme);
        let url = url::Url::parse(&with_scheme)
            .map_err(|e| format!("{shown:?} is not a proxy URL: {e}"))?;
        let (kind, default_port) = match url.scheme() {
            "http" => (Kind::Http, 80),
            "https" => (Kind::Https, 443),
            "socks5" | "socks5h" => (Kind::Socks5, 1080),
            other => {
                return Err(format!(
                    "proxy scheme {other:?} is not supported: use http://, https://, socks5:// or socks5h://"
                ))
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{shown:?} names no proxy host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port().unwrap_or(default_port);
        if port == 0 {
            return Err(format!(
                "{shown:?}: port 0 is not a port a proxy listens on"
            ));
        }
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, pass) => Some((percent_decode(user), percent_decode(pass.unwrap_or("")))),
        };
        if kind == Kind::Socks5 {
            if let Some((user, pass)) = &credentials {
                if user.len() > 255 || pass.len() > 255 {
                    return Err("SOCKS5 usernames and passwords are at most 255 bytes".into());
                }
            }
        }
        Ok(ProxyUrl {
            kind,
            host,
            port,
            credentials,
        })
    }

    /// `host:port`, brackets around an IPv6 literal.
    fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    /// The values that must never reach a message.
    pub(crate) fn secrets(&self) -> Vec<String> {
        match &self.credentials {
            Some((user, pass)) => {
                let mut s = vec![basic(user, pass)];
                s.extend(
                    [user.clone(), pass.clone()]
                        .into_iter()
                        .filter(|v| v.len() >= 3),
                );
                s
            }
            None => Vec::new(),
        }
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Basic base64(user:pass)` for `Proxy-Authorization`.
fn basic(user: &str, pass: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{pass}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ----- the environment -------------------------------------------------------------------

/// The proxy settings of the environment, read once (when a client is built).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProxyEnv {
    http: Option<Setting>,
    https: Option<Setting>,
    all: Option<Setting>,
    no_proxy: NoProxy,
}

/// One variable: the proxy, or why its value is not one (naming the variable).
type Setting = Result<ProxyUrl, String>;

impl ProxyEnv {
    /// The process environment.
    pub fn from_process() -> ProxyEnv {
        ProxyEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let value = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let pick = |lower: &str, upper: &str, upper_allowed: bool| -> Option<Setting> {
            let (name, v) = match value(lower) {
                Some(v) => (lower, v),
                None if upper_allowed => (upper, value(upper)?),
                None => return None,
            };
            Some(ProxyUrl::parse(&v).map_err(|e| format!("{name}: {e}")))
        };
        let cgi = get("REQUEST_METHOD").is_some();
        ProxyEnv {
            http: pick("http_proxy", "HTTP_PROXY", !cgi),
            https: pick("https_proxy", "HTTPS_PROXY", true),
            all: pick("all_proxy", "ALL_PROXY", true),
            no_proxy: NoProxy::parse(
                &value("no_proxy")
                    .or_else(|| value("NO_PROXY"))
                    .unwrap_or_default(),
            ),
        }
    }

    /// The proxy for `url`, if any; an error when the variable that applies is not a proxy URL.
    pub fn select(&self, url: &url::Url) -> Result<Option<ProxyUrl>, String> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        if self.no_proxy.matches(host, port) {
            return Ok(None);
        }
        let setting = match url.scheme() {
            "wss" => self.https.as_ref().or(self.all.as_ref()),
            _ => self.http.as_ref().or(self.all.as_ref()),
        };
        match setting {
            None => Ok(None),
            Some(Ok(proxy)) => Ok(Some(proxy.clone())),
            Some(Err(why)) => Err(why.clone()),
        }
    }
}

/// `NO_PROXY`: what goes direct.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct NoProxy {
    all: bool,
    entries: Vec<(Target, Option<u16>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A name and its subdomains.
    Name(String),
    /// An address range: network and prefix length.
    Net(IpAddr, u8),
}

impl NoProxy {
    fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let entry = entry.to_ascii_lowercase();
            if entry == "*" {
                out.all = true;
                continue;
            }
            let (target, port) = split_port(&entry);
            if let Some((net, bits)) = target.split_once('/') {
                if let (Ok(ip), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u8>()) {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    out.entries.push((Target::Net(ip, bits.min(max)), port));
                }
                continue;
            }
            if let Ok(ip) = target.parse::<IpAddr>() {
                let bits = if ip.is_ipv4() { 32 } else { 128 };
                out.entries.push((Target::Net(ip, bits), port));
                continue;
            }
            let name = target.trim_start_matches("*.").trim_start_matches('.');
            if !name.is_empty() {
                out.entries.push((Target::Name(name.to_string()), port));
            }
        }
        out
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|(target, p)| {
            p.is_none_or(|p| p == port)
                && match (target, ip) {
                    (Target::Net(net, bits), Some(ip)) => in_range(ip, *net, *bits),
                    (Target::Name(name), None) => {
                        host == *name
                            || (host.len() > name.len()
                                && host.ends_with(name.as_str())
                                && host.as_bytes()[host.len() - name.len() - 1] == b'.')
                    }
                    _ => false,
                }
        })
    }
}

/// `host:port`, `[v6]:port`, a bare v6 address or a name: the target and its port, if any.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((ip, after)) = rest.split_once(']') {
            return (ip, after.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match entry.rsplit_once(':') {
        // One colon: a port; more: a bare IPv6 address (or range).
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let ip = match (ip, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

// ----- the tunnels -----------------------------------------------------------------------

/// Open a tunnel through `proxy` to `host:port` over `stream` (already connected to the proxy,
/// and already secured for an `https://` proxy).
pub(crate) async fn tunnel<S>(
    proxy: &ProxyUrl,
    stream: &mut S,
    host: &str,
    port: u16,
) -> Result<(), Cause>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match proxy.kind {
        Kind::Http | Kind::Https => http_connect(proxy, stream, host, port).await,
        Kind::Socks5 => socks5(proxy, stream, host, port).await,
    }
}

fn io_cause(proxy: &ProxyUrl, e: std::io::Error) -> Cause {
    Cause::ConnectFailed(format!("proxy {}: {e}", proxy.authority()))
}

/// Most bytes of a `CONNECT` answer's head.
const MAX_CONNECT_HEAD: usize = 16 * 1024;

async fn http_connect<S>(
    proxy: &ProxyUrl,
    stream: &mut S,
    host: &str,
    port: u16,
) -> Result<(), Cause>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let target = authority(host.trim_start_matches('[').trim_end_matches(']'), port);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, pass)) = &proxy.credentials {
        request.push_str(&format!("Proxy-Authorization: {}\r\n", basic(user, pass)));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| io_cause(proxy, e))?;
    stream.flush().await.map_err(|e| io_cause(proxy, e))?;
    // One byte at a time: nothing behind the head may be read here, it belongs to the tunnel.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_HEAD {
            return Err(Cause::Handshake(format!(
                "proxy {}: CONNECT answer head over 16 KiB",
                proxy.authority()
            )));
        }
        let b = stream.read_u8().await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Cause::ConnectFailed(format!(
                    "proxy {} closed the connection before answering CONNECT",
                    proxy.authority()
                ))
            } else {
                io_cause(proxy, e)
            }
        })?;
        head.push(b);
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let status = match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => response.code.unwrap_or(0),
        _ => {
            return Err(Cause::Handshake(format!(
                "proxy {}: the answer to CONNECT is not HTTP",
                proxy.authority()
            )))
        }
    };
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(Cause::ProxyRejected { status })
    }
}

async fn socks5<S>(proxy: &ProxyUrl, stream: &mut S, host: &str, port: u16) -> Result<(), Cause>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let io = |e| io_cause(proxy, e);
    let greeting: &[u8] = if proxy.credentials.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    stream.write_all(greeting).await.map_err(io)?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).await.map_err(io)?;
    if choice[0] != 5 {
        return Err(Cause::Handshake(format!(
            "proxy {} does not speak SOCKS5",
            proxy.authority()
        )));
    }
    match (choice[1], &proxy.credentials) {
        (0, _) => {}
        (2, Some((user, pass))) => {
            let mut auth = vec![1, user.len() as u8];
            auth.extend_from_slice(user.as_bytes());
            auth.push(pass.len() as u8);
            auth.extend_from_slice(pass.as_bytes());
            stream.write_all(&auth).await.map_err(io)?;
            let mut status = [0u8; 2];
            stream.read_exact(&mut status).await.map_err(io)?;
            if status[1] != 0 {
                return Err(Cause::ProxyAuth(format!(
                    "the SOCKS5 proxy {} refused the username and password",
                    proxy.authority()
                )));
            }
        }
        (_, None) => {
            return Err(Cause::ProxyAuth(format!(
                "the SOCKS5 proxy {} wants credentials: give them in the proxy URL \
                 (socks5h://user:password@host:port)",
                proxy.authority()
            )))
        }
        (_, Some(_)) => {
            return Err(Cause::ProxyAuth(format!(
                "the SOCKS5 proxy {} accepts none of the offered authentication methods",
                proxy.authority()
            )))
        }
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut request = vec![5, 1, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            if host.len() > 255 {
                return Err(Cause::ConnectFailed(
                    "host name too long for SOCKS5 (over 255 bytes)".into(),
                ));
            }
            request.push(3);
            request.push(host.len() as u8);
            request.extend_from_slice(host.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).await.map_err(io)?;
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).await.map_err(io)?;
    if reply[1] != 0 {
        return Err(Cause::SocksRejected { reply: reply[1] });
    }
    let rest = match reply[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => stream.read_u8().await.map_err(io)? as usize + 2,
        _ => {
            return Err(Cause::Handshake(format!(
                "proxy {}: malformed SOCKS5 reply",
                proxy.authority()
            )))
        }
    };
    let mut bound = vec![0u8; rest];
    stream.read_exact(&mut bound).await.map_err(io)?;
    Ok(())
}

/// The proxy an attempt goes through, decided from the client's setting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Route {
    /// `Proxy::FromEnv`: the environment as read at build time.
    Env(Arc<ProxyEnv>),
    /// Direct.
    #[default]
    Direct,
    /// Always this proxy.
    Fixed(ProxyUrl),
}

impl Route {
    /// The route for a client's setting (reading the environment now for `FromEnv`).
    pub fn new(setting: &Proxy) -> Route {
        match setting {
            Proxy::FromEnv => Route::Env(Arc::new(ProxyEnv::from_process())),
            Proxy::None => Route::Direct,
            Proxy::Url(p) => Route::Fixed(p.clone()),
        }
    }

    /// The proxy for `url`, if any.
    pub fn proxy_for(&self, url: &url::Url) -> Result<Option<ProxyUrl>, Cause> {
        match self {
            Route::Direct => Ok(None),
            Route::Fixed(p) => Ok(Some(p.clone())),
            Route::Env(env) => env
                .select(url)
                .map_err(|why| Cause::ConnectFailed(format!("proxy from the environment: {why}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyEnv::from_lookup(|name| map.get(name).cloned())
    }

    fn pick(env: &ProxyEnv, url: &str) -> Option<String> {
        env.select(&url::Url::parse(url).unwrap())
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn the_scheme_picks_the_variable_and_all_proxy_is_the_fallback() {
        let e = env(&[
            ("HTTP_PROXY", "http://h:1"),
            ("https_proxy", "http://s:2"),
            ("ALL_PROXY", "socks5://a:3"),
        ]);
        assert_eq!(pick(&e, "ws://x/").as_deref(), Some("http://h:1"));
        assert_eq!(pick(&e, "wss://x/").as_deref(), Some("http://s:2"));
        let e = env(&[("ALL_PROXY", "socks5://a:3")]);
        assert_eq!(pick(&e, "ws://x/").as_deref(), Some("socks5h://a:3"));
        assert_eq!(pick(&e, "wss://x/").as_deref(), Some("socks5h://a:3"));
        assert_eq!(pick(&env(&[]), "ws://x/"), None);
        // Lower case wins; a bare host:port is http.
        let e = env(&[("http_proxy", "low:8080"), ("HTTP_PROXY", "http://up:1")]);
        assert_eq!(pick(&e, "ws://x/").as_deref(), Some("http://low:8080"));
        // CGI: HTTP_PROXY may come from a request header.
        let e = env(&[("HTTP_PROXY", "http://up:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(pick(&e, "ws://x/"), None);
    }

    #[test]
    fn no_proxy_hosts_suffixes_star_ranges_and_ports() {
        let e = env(&[
            ("HTTP_PROXY", "http://p:1"),
            (
                "NO_PROXY",
                "example.com, .corp.test,*.wild.test 10.0.0.0/8,::1,192.168.1.5:8080,[fd00::]:9, Local.Host",
            ),
        ]);
        for direct in [
            "ws://example.com/",
            "ws://a.b.example.com/",
            "ws://EXAMPLE.com./",
            "ws://corp.test/",
            "ws://x.corp.test/",
            "ws://y.wild.test/",
            "ws://10.1.2.3/",
            "ws://[::1]:5/",
            "ws://192.168.1.5:8080/",
            "ws://[fd00::]:9/",
            "ws://local.host/",
        ] {
            assert_eq!(pick(&e, direct), None, "{direct} should go direct");
        }
        for proxied in [
            "ws://notexample.com/",
            "ws://example.com.evil/",
            "ws://11.0.0.1/",
            "ws://192.168.1.5:8081/",
            "ws://[fd00::]:10/",
            "ws://[::2]/",
        ] {
            assert!(pick(&e, proxied).is_some(), "{proxied} should be proxied");
        }
        let star = env(&[("HTTP_PROXY", "http://p:1"), ("no_proxy", "*")]);
        assert_eq!(pick(&star, "ws://anything/"), None);
    }

    #[test]
    fn bad_proxy_urls_are_named_and_secrets_stay_hidden() {
        let e = env(&[("HTTPS_PROXY", "ftp://u:hunter2@h")]);
        let why = e.select(&url::Url::parse("wss://x/").unwrap()).unwrap_err();
        assert!(why.starts_with("HTTPS_PROXY:"), "{why}");
        assert!(!why.contains("hunter2"), "{why}");
        let p = ProxyUrl::parse("http://us%40er:p%3Ass@proxy:3128").unwrap();
        assert_eq!(
            p.credentials,
            Some(("us@er".to_string(), "p:ss".to_string()))
        );
        assert_eq!(p.to_string(), "http://[redacted]@proxy:3128");
        assert!(!format!("{:?}", Proxy::Url(p)).contains("p:ss"));
        let err = Proxy::url("socks4://h").unwrap_err().to_string();
        assert!(err.contains("not supported"), "{err}");
        assert!(Proxy::url("http://").is_err());
    }

    #[test]
    fn basic_credentials() {
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic("a", "b"), "Basic YTpi");
        assert_eq!(basic("ab", "c"), "Basic YWI6Yw==");
    }
}
