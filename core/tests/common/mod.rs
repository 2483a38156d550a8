//! Shared helpers for the core's integration tests: fast settings and event waiting with deadlines.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use wstether::{
    AppPing, Backoff, Client, ClientBuilder, Event, Events, Heartbeat, Message, PongMatch,
};

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Backoff fast enough for tests, without jitter so delays are checkable.
pub fn fast_backoff() -> Backoff {
    Backoff {
        initial: ms(50),
        max: ms(400),
        factor: 2.0,
        jitter: 0.0,
        stable_after: ms(300),
    }
}

pub fn fast_heartbeat(interval: u64, timeout: u64) -> Heartbeat {
    Heartbeat {
        interval: ms(interval),
        timeout: ms(timeout),
        app_ping: None,
    }
}

/// A heartbeat that sends the text `ping` and takes a text matching `pong` as its answer.
pub fn app_heartbeat(interval: u64, timeout: u64, ping: &str, pong: PongMatch) -> Heartbeat {
    Heartbeat {
        interval: ms(interval),
        timeout: ms(timeout),
        app_ping: Some(AppPing {
            payload: Message::text(ping),
            pong,
        }),
    }
}

/// Where a test reads events from: the client's stream, or a channel fed by a thread that
/// pulls them (see tests/pull.rs).
pub trait EventSource {
    /// The next event; `None` once the stream has ended.
    async fn next_event(&mut self) -> Option<Event>;
}

impl EventSource for Events {
    async fn next_event(&mut self) -> Option<Event> {
        self.next().await
    }
}

impl EventSource for mpsc::UnboundedReceiver<Event> {
    async fn next_event(&mut self) -> Option<Event> {
        self.recv().await
    }
}

/// A builder with test timings and no handshake budget.
pub fn builder(url: &str) -> ClientBuilder {
    wstether::Client::builder(url)
        .backoff(fast_backoff())
        .heartbeat(Some(fast_heartbeat(500, 500)))
        .handshake_budget(None)
        .close_timeout(ms(500))
}

/// Wait for the first event matching `pred`; returns it with everything seen before it.
pub async fn wait_for(
    events: &mut impl EventSource,
    within: Duration,
    mut pred: impl FnMut(&Event) -> bool,
) -> (Event, Vec<Event>) {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.next_event()).await {
            Ok(Some(ev)) if pred(&ev) => return (ev, seen),
            Ok(Some(ev)) => seen.push(ev),
            Ok(None) => panic!("event stream ended; seen: {seen:#?}"),
            Err(_) => panic!("no matching event within {within:?}; seen: {seen:#?}"),
        }
    }
}

pub async fn wait_open(events: &mut Events, within: Duration) -> Vec<Event> {
    wait_for(events, within, |e| matches!(e, Event::Open { .. }))
        .await
        .1
}

/// Events other than state changes, pongs and messages: the sequence scenarios talk about.
pub fn lifecycle(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter(|e| {
            !matches!(
                e,
                Event::StateChanged { .. } | Event::Pong { .. } | Event::Message(_)
            )
        })
        .map(Event::name)
        .collect()
}

/// Drain events until the stream ends (after a terminal event), with a deadline.
pub async fn drain(events: &mut Events, within: Duration) -> Vec<Event> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ev)) => out.push(ev),
            Ok(None) => return out,
            Err(_) => panic!("stream did not end within {within:?}; seen: {out:#?}"),
        }
    }
}

/// Build the client, take its events and connect.
pub fn start(b: ClientBuilder) -> (Client, Events) {
    let client = b.build().unwrap();
    let events = client.events().unwrap();
    client.connect().unwrap();
    (client, events)
}

/// [`start`], then wait for the first open.
pub async fn open(b: ClientBuilder) -> (Client, Events) {
    let (client, mut events) = start(b);
    wait_open(&mut events, ms(3000)).await;
    (client, events)
}

/// A server on 127.0.0.1 that reads each upgrade request and hands the connection and the
/// request's key to `answer`.
pub async fn raw_server<F, Fut>(answer: F) -> String
where
    F: Fn(TcpStream, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buf).await {
                    Ok(n) if n > 0 => request.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let text = String::from_utf8_lossy(&request);
            let key = text
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| value.trim().to_string())
                })
                .unwrap_or_default();
            tokio::spawn(answer(tcp, key));
        }
    });
    url
}

pub fn switching(key: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    )
}

/// Hold the connection until the client goes away.
pub async fn hold(mut tcp: TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// A log sink for a `tracing_subscriber` that keeps everything written, for tests that read
/// what was logged.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}
