//! The control API of `wstether-testd`: a tiny hand-written HTTP/1.1 server
//! through which test suites in other languages create and script
//! [`TestServer`]s and [`FaultProxy`]s. Every route accepts GET and POST, takes
//! its parameters from the query string, ignores bodies and answers JSON with
//! `Connection: close`. See `tests/README.md` for the route list.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::{FaultProxy, ProxyMode, RealProxy, ServerCert, ServerConfig, TestServer, TlsSetup};

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1 << 20;
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_WAIT: Duration = Duration::from_secs(120);

/// Binds the control listener on 127.0.0.1:`port` (0 = random).
pub async fn bind(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// Serves the control API until `POST /shutdown`. Every server and proxy
/// created through it is dropped (and so stopped) when this returns.
pub async fn serve(listener: TcpListener) {
    let control = Arc::new(Control::default());
    let mut shutdown = control.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok((tcp, _)) => {
                    tokio::spawn(handle(tcp, control.clone()));
                }
                Err(e) => {
                    tracing::debug!("control accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    lock(&control.servers).clear();
    lock(&control.proxies).clear();
    lock(&control.real_proxies).clear();
}

#[derive(Default)]
struct Control {
    servers: Mutex<Registry<TestServer>>,
    proxies: Mutex<Registry<FaultProxy>>,
    real_proxies: Mutex<Registry<RealProxy>>,
    shutdown: watch::Sender<bool>,
}

struct Registry<T> {
    next: u32,
    items: HashMap<u32, Arc<T>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            next: 1,
            items: HashMap::new(),
        }
    }
}

impl<T> Registry<T> {
    fn add(&mut self, item: T) -> u32 {
        let id = self.next;
        self.next += 1;
        self.items.insert(id, Arc::new(item));
        id
    }

    fn clear(&mut self) {
        self.items.clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A failed request: HTTP status and message.
struct Failure(u16, String);

fn not_found(what: impl Into<String>) -> Failure {
    Failure(404, what.into())
}

fn bad(what: impl Into<String>) -> Failure {
    Failure(400, what.into())
}

type Reply = Result<Value, Failure>;

async fn handle(mut tcp: TcpStream, control: Arc<Control>) {
    let target = match tokio::time::timeout(READ_TIMEOUT, read_request(&mut tcp)).await {
        Ok(Ok(target)) => target,
        Ok(Err(Failure(status, msg))) => {
            let _ = respond(&mut tcp, status, &json!({ "error": msg })).await;
            return;
        }
        Err(_) => return,
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), parse_query(q)),
        None => (target.clone(), HashMap::new()),
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let is_shutdown = segments == ["shutdown"];
    let reply = route(&control, &segments, &Params(query)).await;
    let (status, body) = match reply {
        Ok(v) => (200, v),
        Err(Failure(status, msg)) => (status, json!({ "error": msg })),
    };
    let _ = respond(&mut tcp, status, &body).await;
    if is_shutdown {
        control.shutdown.send_replace(true);
    }
}

/// Reads the request head, discards any body, returns the request target.
async fn read_request(tcp: &mut TcpStream) -> Result<String, Failure> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(Failure(431, "request head too large".into()));
        }
        let mut chunk = [0u8; 2048];
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(bad("incomplete request")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target) = match (parts.next(), parts.next()) {
        (Some(m), Some(t)) if !t.is_empty() => (m, t.to_owned()),
        _ => return Err(bad("malformed request line")),
    };
    if method != "GET" && method != "POST" {
        return Err(Failure(405, format!("method {method} not allowed")));
    }
    // Read (and drop) a declared body, so closing the socket does not reset it
    // before the client has read the answer.
    let content_length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    let mut have = buf.len() - head_end;
    let mut chunk = [0u8; 4096];
    while have < content_length {
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => have += n,
        }
    }
    Ok(target)
}

async fn respond(tcp: &mut TcpStream, status: u16, body: &Value) -> io::Result<()> {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await?;
    tcp.flush().await?;
    tcp.shutdown().await
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters; an empty value counts as absent.
struct Params(HashMap<String, String>);

impl Params {
    fn str(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn opt<T: FromStr>(&self, name: &str) -> Result<Option<T>, Failure> {
        self.str(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| bad(format!("bad value for {name}: {v:?}")))
            })
            .transpose()
    }

    fn req<T: FromStr>(&self, name: &str) -> Result<T, Failure> {
        self.opt(name)?
            .ok_or_else(|| bad(format!("missing parameter {name}")))
    }

    fn flag(&self, name: &str) -> Result<bool, Failure> {
        match self.str(name) {
            None => Ok(false),
            Some("1" | "true" | "yes") => Ok(true),
            Some("0" | "false" | "no") => Ok(false),
            Some(v) => Err(bad(format!("bad value for {name}: {v:?}"))),
        }
    }

    fn timeout(&self) -> Result<Duration, Failure> {
        let ms = self.opt::<u64>("timeout_ms")?.unwrap_or(5000);
        Ok(Duration::from_millis(ms).min(MAX_WAIT))
    }

    fn close_code(&self, name: &str) -> Result<Option<u16>, Failure> {
        match self.opt::<u16>(name)? {
            Some(c) if !(1000..=4999).contains(&c) => {
                Err(bad(format!("{name} must be a close code in 1000..=4999")))
            }
            c => Ok(c),
        }
    }
}

fn ok() -> Reply {
    Ok(json!({ "ok": true }))
}

fn to_json<T: serde::Serialize>(v: &T) -> Reply {
    serde_json::to_value(v).map_err(|e| Failure(500, e.to_string()))
}

fn io_failure(e: io::Error) -> Failure {
    Failure(500, e.to_string())
}

fn parse_id(s: &str) -> Result<u32, Failure> {
    s.parse().map_err(|_| not_found(format!("no such id: {s}")))
}

async fn route(control: &Control, segments: &[&str], q: &Params) -> Reply {
    match segments {
        ["shutdown"] => ok(),
        ["server", "start"] => start_server(control, q).await,
        ["server", id, action] => {
            let id = parse_id(id)?;
            let server = lock(&control.servers).items.get(&id).cloned();
            let server = server.ok_or_else(|| not_found(format!("no server {id}")))?;
            if *action == "dispose" {
                lock(&control.servers).items.remove(&id);
                return ok();
            }
            server_action(&server, action, q).await
        }
        ["real_proxy", "start"] => start_real_proxy(control, q),
        ["real_proxy", id, "dispose"] => {
            let id = parse_id(id)?;
            lock(&control.real_proxies).items.remove(&id);
            ok()
        }
        ["proxy", "start"] => {
            let target_port: u16 = q.req("target_port")?;
            let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], target_port)))
                .await
                .map_err(io_failure)?;
            let (port, url) = (proxy.port(), proxy.url());
            let id = lock(&control.proxies).add(proxy);
            Ok(json!({ "id": id, "port": port, "url": url }))
        }
        ["proxy", id, action] => {
            let id = parse_id(id)?;
            let proxy = lock(&control.proxies).items.get(&id).cloned();
            let proxy = proxy.ok_or_else(|| not_found(format!("no proxy {id}")))?;
            if *action == "dispose" {
                lock(&control.proxies).items.remove(&id);
                return ok();
            }
            proxy_action(&proxy, action, q).await
        }
        _ => Err(not_found(format!("no route /{}", segments.join("/")))),
    }
}

async fn start_server(control: &Control, q: &Params) -> Reply {
    let cfg = ServerConfig {
        protocols: q
            .str("protocols")
            .map(|p| {
                p.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        token: q.str("token").map(str::to_owned),
        max_message_size: q.opt("max_message_size")?,
    };
    // tls=1 (a CA-signed certificate), tls=selfsigned, tls=ca_flagged (as openssl req -x509
    // makes); client_ca=1 requires a client certificate, whose PEMs the reply carries.
    let cert = match q.str("tls") {
        None | Some("0" | "false") => None,
        Some("1" | "true") => Some(ServerCert::CaSigned),
        Some("selfsigned") => Some(ServerCert::SelfSigned),
        Some("ca_flagged") => Some(ServerCert::SelfSignedCa),
        Some(_) => return Err(bad("tls must be 0, 1, selfsigned or ca_flagged")),
    };
    let identity = if q.flag("client_ca")? {
        Some(crate::tls::client_identity().map_err(io_failure)?)
    } else {
        None
    };
    let (server, trust_pem) = match cert {
        Some(cert) => {
            let setup = TlsSetup {
                cert,
                client_ca_pem: identity.as_ref().map(|i| i.ca_pem.clone()),
            };
            let (s, pem) = TestServer::start_tls_setup(cfg, &setup)
                .await
                .map_err(io_failure)?;
            (s, Some(pem))
        }
        None => (TestServer::start_with(cfg).await.map_err(io_failure)?, None),
    };
    let (port, url) = (server.port(), server.url());
    let id = lock(&control.servers).add(server);
    let mut reply = json!({ "id": id, "port": port, "url": url });
    if let Some(pem) = trust_pem {
        // The CA to trust for tls=1; the certificate itself (to pin) for the self-signed kinds.
        let key = if cert == Some(ServerCert::CaSigned) {
            "ca_pem"
        } else {
            "cert_pem"
        };
        reply[key] = Value::String(pem);
    }
    if let Some(identity) = identity {
        reply["client_cert_pem"] = Value::String(identity.cert_pem);
        reply["client_key_pem"] = Value::String(identity.key_pem);
    }
    Ok(reply)
}

/// A real proxy from Debian's packages: `kind=tinyproxy` (HTTP CONNECT; `auth=1`: Basic
/// credentials alice:s3cret) or `kind=dante` (SOCKS5; `auth=1`: the install script's user).
fn start_real_proxy(control: &Control, q: &Params) -> Reply {
    let auth = q.flag("auth")?;
    let proxy = match q.str("kind") {
        Some("tinyproxy") => RealProxy::tinyproxy(auth.then_some(("alice", "s3cret")), &[]),
        Some("dante") => RealProxy::dante(auth),
        _ => return Err(bad("kind must be tinyproxy or dante")),
    }
    .map_err(io_failure)?;
    let reply = json!({
        "port": proxy.port(),
        "url": proxy.url(),
        "url_without_credentials": proxy.url_with(None),
        "url_with_wrong_password": proxy.url_with(auth.then_some((
            if q.str("kind") == Some("dante") { crate::real_proxy::SOCKS_USER } else { "alice" },
            "wrong-password",
        ))),
    });
    let id = lock(&control.real_proxies).add(proxy);
    let mut reply = reply;
    reply["id"] = json!(id);
    Ok(reply)
}

async fn server_action(server: &TestServer, action: &str, q: &Params) -> Reply {
    match action {
        "token" => {
            server.set_token(q.str("value"));
            ok()
        }
        "reject" => {
            let count = q.opt::<u32>("count")?.unwrap_or(u32::MAX);
            let status = q.opt::<u16>("status")?.unwrap_or(503);
            if !(300..=599).contains(&status) {
                return Err(bad("status must be in 300..=599"));
            }
            server.reject_next(count, status, q.opt("retry_after")?);
            ok()
        }
        "clear_reject" => {
            server.clear_reject();
            ok()
        }
        "pings" => {
            let answer = match q.str("answer") {
                Some("1" | "true") => true,
                Some("0" | "false") => false,
                _ => return Err(bad("answer must be 0 or 1")),
            };
            server.set_answer_pings(answer);
            ok()
        }
        "close_on_open" => {
            let code = q.close_code("code")?;
            let reason = q.str("reason").unwrap_or("").to_owned();
            server.set_close_on_open(code.map(|c| (c, reason)));
            ok()
        }
        "close_all" => {
            let code = q.close_code("code")?.unwrap_or(1000);
            server.close_all(code, q.str("reason").unwrap_or("")).await;
            ok()
        }
        "drop_all" => {
            server.drop_all().await;
            ok()
        }
        "stop" => {
            server.stop(q.close_code("code")?).await;
            ok()
        }
        "restart" => {
            server.restart().await.map_err(io_failure)?;
            ok()
        }
        "stats" => to_json(&server.stats()),
        "clear_received" => {
            server.clear_received();
            ok()
        }
        "wait_connections" => {
            let ok = server.wait_connections(q.req("n")?, q.timeout()?).await;
            Ok(json!({ "ok": ok }))
        }
        "wait_received" => {
            let ok = server.wait_received(q.req("n")?, q.timeout()?).await;
            Ok(json!({ "ok": ok }))
        }
        _ => Err(not_found(format!("no server route {action}"))),
    }
}

async fn proxy_action(proxy: &FaultProxy, action: &str, q: &Params) -> Reply {
    match action {
        "mode" => {
            let mode = match q.str("mode") {
                Some("pass") => ProxyMode::Pass,
                Some("blackhole") => ProxyMode::Blackhole,
                Some("reset") => ProxyMode::Reset,
                Some("refuse") => ProxyMode::Refuse,
                Some("delay") => ProxyMode::Delay(Duration::from_millis(q.req("delay_ms")?)),
                Some("throttle") => ProxyMode::Throttle(q.req("rate")?),
                _ => {
                    return Err(bad(
                        "mode must be pass|blackhole|reset|refuse|delay|throttle",
                    ))
                }
            };
            proxy.set_mode(mode).await;
            ok()
        }
        "stats" => to_json(&proxy.stats()),
        "wait_live" => {
            let ok = proxy.wait_live(q.req("n")?, q.timeout()?).await;
            Ok(json!({ "ok": ok }))
        }
        _ => Err(not_found(format!("no proxy route {action}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("reason=going%20away+now&code=4000&flag&bad=%zz&end=%4");
        assert_eq!(q["reason"], "going away now");
        assert_eq!(q["code"], "4000");
        assert_eq!(q["flag"], "");
        assert_eq!(q["bad"], "%zz");
        assert_eq!(q["end"], "%4");
    }
}
