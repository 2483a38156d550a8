//! `wstether demo`: a test server and a fault proxy in this process (127.0.0.1 only, offline),
//! a wstether client connected through the proxy, and the link broken in each way real links
//! break. Every event is printed as it comes; each step says what happened and checks that the
//! client recovered. Exit 0 only if every recovery was observed, so it doubles as a smoke test.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::{timeout_at, Instant};
use wstether::{
    AuthFuture, AuthRequest, Backoff, Cause, Client, Event, Events, Heartbeat, Initiator,
    SendStatus,
};
use wstether_testkit::{FaultProxy, ProxyMode, ServerConfig, TestServer};

use crate::args::{exit, DemoArgs};
use crate::output::{Printer, Secrets};
use crate::render;

/// Longest wait for any one expected event.
const STEP_TIMEOUT: Duration = Duration::from_secs(8);
/// The whole demo must finish within this.
const DEMO_BUDGET: Duration = Duration::from_secs(28);
/// Heartbeat interval and timeout: a dead link is found within 600 ms.
const HEARTBEAT: Duration = Duration::from_millis(300);
const SUBPROTOCOL: &str = "demo.v1";

/// Hands out bearer tokens; `rotate` makes the previous one expire.
struct Issuer {
    current: Mutex<String>,
    generation: AtomicU32,
    secrets: Secrets,
}

impl Issuer {
    fn new(secrets: Secrets) -> Arc<Self> {
        let issuer = Arc::new(Issuer {
            current: Mutex::new(String::new()),
            generation: AtomicU32::new(0),
            secrets,
        });
        issuer.rotate();
        issuer
    }

    fn rotate(&self) -> String {
        let n = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let salt = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let token = format!("demo-token-{n}-{salt:08x}");
        // Registered before use: no line this process prints can show it.
        self.secrets.add(&token);
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = token.clone();
        token
    }

    fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The demo's running state: the peers, the client and its event stream.
struct Demo {
    server: TestServer,
    proxy: FaultProxy,
    client: Client,
    events: Events,
    out: Printer,
    issuer: Arc<Issuer>,
    refreshes: Arc<AtomicU32>,
    show_pongs: bool,
    pong_shown: bool,
    deadline: Instant,
}

type Step = Result<String, String>;

/// Run the demo; returns the process exit code.
pub async fn run(args: DemoArgs) -> i32 {
    let started = Instant::now();
    let secrets = Secrets::default();
    let out = Printer::new(false, secrets.clone());
    let mut demo = match Demo::start(&args, out.clone(), secrets, started).await {
        Ok(d) => d,
        Err(e) => {
            out.stderr(&format!("wstether demo: cannot start the local peers: {e}"));
            return exit::FAILED;
        }
    };

    let names = [
        "first connection",
        "server restart (1012)",
        "half-open link",
        "overloaded server (1013, 503 + Retry-After)",
        "expired token (401 -> fresh token)",
    ];
    let mut results = Vec::new();
    let mut ok = true;
    for (i, name) in names.into_iter().enumerate() {
        let result = match i {
            0 => demo.first_connection().await,
            1 => demo.server_restart().await,
            2 => demo.half_open().await,
            3 => demo.overloaded().await,
            _ => demo.expired_token().await,
        };
        match result {
            Ok(summary) => results.push(format!("  ✓ {name}: {summary}")),
            Err(why) => {
                results.push(format!("  ✗ {name}: {why}"));
                ok = false;
                break;
            }
        }
    }

    demo.say("\nDone: closing with 1000 (normal closure).");
    let client = demo.client.clone();
    let closing = tokio::spawn(async move { client.close(1000, "demo done").await });
    let _ = demo.until("the stream to end", |_| false).await;
    let _ = closing.await;

    demo.say("\nSummary");
    for line in &results {
        demo.say(line);
    }
    demo.say(&format!(
        "  {}",
        render::stats_text(&demo.client.stats(), 0)
    ));
    let verdict = if ok {
        format!(
            "Every recovery observed in {}. No token was printed: they are redacted everywhere.",
            render::duration(started.elapsed())
        )
    } else {
        "A recovery was not observed: the demo failed (exit 1).".to_string()
    };
    demo.say(&verdict);
    if ok {
        exit::OK
    } else {
        exit::FAILED
    }
}

impl Demo {
    async fn start(
        args: &DemoArgs,
        out: Printer,
        secrets: Secrets,
        started: Instant,
    ) -> Result<Demo, String> {
        let issuer = Issuer::new(secrets);
        let server = TestServer::start_with(ServerConfig {
            protocols: vec![SUBPROTOCOL.into()],
            token: Some(issuer.current()),
            max_message_size: None,
        })
        .await
        .map_err(|e| e.to_string())?;
        let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], server.port())))
            .await
            .map_err(|e| e.to_string())?;

        // The app's token cache: reuse the token until a 401 says it is stale.
        let cache: Arc<Mutex<Option<String>>> = Arc::default();
        let refreshes = Arc::new(AtomicU32::new(0));
        let provider = {
            let (issuer, refreshes) = (issuer.clone(), refreshes.clone());
            move |request: AuthRequest| -> AuthFuture {
                let mut cached = cache.lock().unwrap_or_else(|e| e.into_inner());
                if request.after_unauthorized || cached.is_none() {
                    if request.after_unauthorized {
                        refreshes.fetch_add(1, Ordering::SeqCst);
                    }
                    *cached = Some(issuer.current());
                }
                let token = cached.clone().unwrap_or_default();
                Box::pin(
                    async move { Ok(vec![("Authorization".into(), format!("Bearer {token}"))]) },
                )
            }
        };
        let client = Client::builder(proxy.url())
            .protocols([SUBPROTOCOL])
            .auth(provider)
            .connect_timeout(Duration::from_secs(1))
            .backoff(Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(1),
                ..Backoff::default()
            })
            .heartbeat(Some(Heartbeat {
                interval: HEARTBEAT,
                timeout: HEARTBEAT,
                app_ping: None,
            }))
            .build()
            .map_err(|e| e.to_string())?;
        let events = client.events().map_err(|e| e.to_string())?;
        Ok(Demo {
            server,
            proxy,
            client,
            events,
            out,
            issuer,
            refreshes,
            show_pongs: args.pongs,
            pong_shown: false,
            deadline: started + DEMO_BUDGET,
        })
    }

    fn say(&self, text: &str) {
        self.out.stdout(text);
    }

    fn show(&mut self, event: &Event) {
        let line = match event {
            Event::Message(m) => format!("message: {}", render::message_text(m)),
            Event::Open { .. } => {
                self.pong_shown = false;
                render::describe(event).unwrap_or_default()
            }
            Event::Pong { .. } if self.pong_shown && !self.show_pongs => return,
            Event::Pong { .. } => {
                self.pong_shown = true;
                render::describe(event).unwrap_or_default()
            }
            // The other events say why the state changed.
            Event::StateChanged { .. } => return,
            other => render::describe(other).unwrap_or_default(),
        };
        let at = render::clock(SystemTime::now());
        self.out.stdout(&format!("      {at}  {line}"));
    }

    /// Print events until one matches `want`; `Err` names what did not come in time.
    async fn until(
        &mut self,
        what: &str,
        mut want: impl FnMut(&Event) -> bool,
    ) -> Result<Event, String> {
        let deadline = (Instant::now() + STEP_TIMEOUT).min(self.deadline);
        loop {
            match timeout_at(deadline, self.events.next()).await {
                Ok(Some(event)) => {
                    self.show(&event);
                    if want(&event) {
                        return Ok(event);
                    }
                    if let Event::Failed { .. } = event {
                        return Err(format!("the client gave up while waiting for {what}"));
                    }
                }
                Ok(None) => return Err(format!("the event stream ended before {what}")),
                Err(_) => {
                    return Err(format!(
                        "no {what} within {}",
                        render::duration(STEP_TIMEOUT)
                    ))
                }
            }
        }
    }

    async fn opened(&mut self) -> Result<(), String> {
        self.until("reconnect (open)", |e| matches!(e, Event::Open { .. }))
            .await
            .map(|_| ())
    }

    async fn first_connection(&mut self) -> Step {
        self.say(&format!(
            "wstether demo: a WebSocket server on 127.0.0.1:{} (it wants a bearer token and speaks \
             {SUBPROTOCOL}), and a fault proxy on 127.0.0.1:{} in front of it so the demo can cut the \
             wire. The client connects through the proxy with short timings: backoff 100ms..1s, \
             heartbeat every 300ms, dead after 300ms more of silence.\n",
            self.server.port(),
            self.proxy.port()
        ));
        self.say("0. Connect and say hello.");
        self.client.connect().map_err(|e| e.to_string())?;
        let open = self
            .until("open", |e| matches!(e, Event::Open { .. }))
            .await?;
        if let Event::Open { protocol, .. } = &open {
            if protocol.as_deref() != Some(SUBPROTOCOL) {
                return Err(format!(
                    "expected subprotocol {SUBPROTOCOL}, got {protocol:?}"
                ));
            }
        }
        self.client.send_text("hello").map_err(|e| e.to_string())?;
        self.until("the echo of hello", |e| is_text(e, "hello"))
            .await?;
        let pong = self
            .until("a heartbeat pong", |e| matches!(e, Event::Pong { .. }))
            .await?;
        let rtt = match pong {
            Event::Pong { rtt } => render::duration(rtt),
            _ => String::new(),
        };
        Ok(format!(
            "open with a token and a subprotocol, echo works, heartbeat RTT {rtt}"
        ))
    }

    async fn server_restart(&mut self) -> Step {
        self.say(
            "\n1. The server restarts for a deploy: it closes every link with 1012 (service restart) \
             and stops listening for a moment.",
        );
        let t0 = Instant::now();
        self.server.stop(Some(1012)).await;
        self.until("close 1012 from the server", |e| {
            matches!(
                e,
                Event::Closed {
                    code: 1012,
                    initiator: Initiator::Remote,
                    will_reconnect: true,
                    ..
                }
            )
        })
        .await?;
        self.until("a backoff delay", |e| {
            matches!(e, Event::Reconnecting { .. })
        })
        .await?;
        let note = "sent while the server was down";
        match self.client.send_text(note) {
            Ok(SendStatus::Queued) => self.say(
                "   The app sends a message meanwhile: it waits in the outbox instead of being lost.",
            ),
            Ok(SendStatus::Sent) => return Err("a message was 'sent' while the link was down".into()),
            Err(e) => return Err(format!("send failed: {e}")),
        }
        self.until("a failed attempt (nothing listening)", |e| {
            matches!(e, Event::Error { .. })
        })
        .await?;
        self.say("   Attempts fail while the server is down; the delays grow (doubling, jittered). Now the server is back.");
        self.server.restart().await.map_err(|e| e.to_string())?;
        self.opened().await?;
        let recovered = t0.elapsed();
        self.until("the queued message's echo", |e| is_text(e, note))
            .await?;
        Ok(format!(
            "reconnected {} after the close; the queued message went out after reconnect",
            render::duration(recovered)
        ))
    }

    async fn half_open(&mut self) -> Step {
        self.say(
            "\n2. A NAT or firewall silently forgets the connection (the proxy now swallows every \
             byte): no FIN, no RST, no error. Only the heartbeat can tell the link is dead.",
        );
        let t0 = Instant::now();
        self.proxy.set_mode(ProxyMode::Blackhole).await;
        self.until("the heartbeat to declare the link dead", |e| {
            matches!(
                e,
                Event::Closed {
                    code: 1006,
                    initiator: Initiator::Network,
                    ..
                }
            )
        })
        .await?;
        let detected = t0.elapsed();
        let next = self
            .until("a backoff delay", |e| {
                matches!(e, Event::Reconnecting { .. })
            })
            .await?;
        if !matches!(
            next,
            Event::Reconnecting {
                cause: Cause::HeartbeatTimeout,
                ..
            }
        ) {
            return Err(format!(
                "expected the cause heartbeat_timeout, got {next:?}"
            ));
        }
        self.say(&format!(
            "   Dead link found after {} (interval + timeout = 600ms). The network heals.",
            render::duration(detected)
        ));
        self.proxy.set_mode(ProxyMode::Pass).await;
        self.opened().await?;
        Ok(format!(
            "detected after {}, reconnected after {}",
            render::duration(detected),
            render::duration(t0.elapsed())
        ))
    }

    async fn overloaded(&mut self) -> Step {
        self.say(
            "\n3. The server is overloaded: it closes with 1013 (try again later), so the client waits \
             its longest delay; then the next handshake gets 503 with Retry-After: 1, so it waits at \
             least one second.",
        );
        let t0 = Instant::now();
        self.server.reject_next(1, 503, Some(1));
        self.server.close_all(1013, "overloaded").await;
        self.until("close 1013", |e| {
            matches!(e, Event::Closed { code: 1013, .. })
        })
        .await?;
        self.until("the 503 rejection", |e| matches!(e, Event::Error { .. }))
            .await?;
        let wait = self
            .until("a backoff after the 503", |e| {
                matches!(e, Event::Reconnecting { .. })
            })
            .await?;
        match wait {
            Event::Reconnecting {
                delay,
                cause:
                    Cause::HandshakeRejected {
                        status: 503,
                        retry_after: Some(_),
                    },
                ..
            } if delay >= Duration::from_secs(1) => {}
            other => {
                return Err(format!(
                    "expected a delay of at least 1s after 503, got {other:?}"
                ))
            }
        }
        let asked = Instant::now();
        self.opened().await?;
        Ok(format!(
            "waited {} after the 503 as asked, reconnected after {}",
            render::duration(asked.elapsed()),
            render::duration(t0.elapsed())
        ))
    }

    async fn expired_token(&mut self) -> Step {
        self.say(
            "\n4. The token expires: the server only accepts a new one now and ends the session with \
             4001 \"token expired\". The app's cached token is stale, so the next handshake gets 401; \
             the client asks the auth provider again (a fresh token) and retries at once, without backoff.",
        );
        let t0 = Instant::now();
        let before = self.refreshes.load(Ordering::SeqCst);
        let fresh = self.issuer.rotate();
        self.server.set_token(Some(&fresh));
        self.server.close_all(4001, "token expired").await;
        self.until("close 4001", |e| {
            matches!(e, Event::Closed { code: 4001, .. })
        })
        .await?;
        self.until("the 401 rejection", |e| {
            matches!(
                e,
                Event::Error {
                    kind: wstether::ErrorKind::Auth,
                    ..
                }
            )
        })
        .await?;
        // The next step must be an immediate attempt, not a backoff.
        let next = self
            .until("the immediate retry", |e| {
                matches!(e, Event::Connecting { .. } | Event::Reconnecting { .. })
            })
            .await?;
        if matches!(next, Event::Reconnecting { .. }) {
            return Err("the 401 was followed by a backoff, not an immediate retry".into());
        }
        self.opened().await?;
        if self.refreshes.load(Ordering::SeqCst) != before + 1 {
            return Err("the auth provider was not asked for a fresh token".into());
        }
        Ok(format!(
            "401, fresh token, open again after {}",
            render::duration(t0.elapsed())
        ))
    }
}

fn is_text(event: &Event, text: &str) -> bool {
    matches!(event, Event::Message(m) if m.as_text() == Some(text))
}
