//! `wstether connect`: stdin lines out, messages and the reconnect story in.
//!
//! The core decides everything (when to retry, how long to wait, when the link is dead); this
//! loop only moves lines to `send_text`, prints events, and turns stdin EOF or Ctrl-C into a
//! clean `close(1000)`.

use std::io::BufRead;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use wstether::{Backoff, Client, Event, Heartbeat, Message, SendStatus, State};

use crate::args::{exit, ConnectArgs};
use crate::output::{Printer, Secrets};
use crate::target::{self, UsageError};
use crate::{auth, render};

/// How often the loop checks whether everything queued has been written after stdin ended.
const DRAIN_POLL: Duration = Duration::from_millis(25);

/// Run a session; returns the process exit code.
pub async fn run(args: ConnectArgs) -> i32 {
    let secrets = Secrets::default();
    let printer = Printer::new(args.target.json, secrets.clone());
    let client = match build(&args, &secrets) {
        Ok((client, url)) => {
            printer.log(&format!("wstether connect {url}"));
            client
        }
        Err(e) => {
            printer.stderr(&format!("wstether: {e}"));
            return exit::USAGE;
        }
    };
    let Ok(mut events) = client.events() else {
        printer.stderr("wstether: internal error: event stream unavailable");
        return exit::FAILED;
    };
    if let Err(e) = client.connect() {
        printer.stderr(&format!("wstether: {e}"));
        return exit::FAILED;
    }

    let mut lines = stdin_lines();
    let mut interrupts = interrupts();
    let mut stdin_open = true;
    // After stdin ends: when the outbox became empty (then linger, then close).
    let mut drained_at: Option<Instant> = None;
    let mut closing: Option<JoinHandle<Result<Vec<Message>, wstether::Error>>> = None;
    let mut failed_unsent: Option<usize> = None;
    let mut poll = tokio::time::interval(DRAIN_POLL);
    let mut hints_given: Vec<&str> = Vec::new();

    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(event) => {
                    if let Event::Failed { unsent, .. } = &event {
                        failed_unsent = Some(unsent.len());
                    }
                    printer.event(&event);
                    // Each suggestion once per session, after the event that prompted it.
                    if let Event::Reconnecting { cause, .. } | Event::Failed { reason: cause, .. } = &event {
                        if let Some(hint) = render::hint(cause).filter(|h| !hints_given.contains(h)) {
                            hints_given.push(hint);
                            printer.log(&format!("hint: {hint}"));
                        }
                    }
                }
                None => break,
            },
            line = lines.recv(), if stdin_open => match line {
                Some(line) => send(&client, &printer, line),
                None => {
                    stdin_open = false;
                    printer.log("stdin ended: closing once everything queued is sent");
                }
            },
            Some(()) = interrupts.recv() => {
                if closing.is_some() {
                    printer.stderr("wstether: interrupted again, leaving without waiting");
                    return exit::INTERRUPTED;
                }
                printer.log("Ctrl-C: closing with 1000 (normal closure)");
                closing = Some(start_close(&client, "interrupted"));
            },
            _ = poll.tick(), if !stdin_open && closing.is_none() => {
                let stats = client.stats();
                let idle = stats.queued_messages == 0 && client.state() == State::Open;
                match (idle, drained_at) {
                    (true, None) => drained_at = Some(Instant::now()),
                    (true, Some(at)) if at.elapsed() >= args.linger => {
                        closing = Some(start_close(&client, "stdin closed"));
                    }
                    (false, _) => drained_at = None,
                    _ => {}
                }
            },
        }
    }

    let unsent = match closing {
        Some(handle) => handle
            .await
            .ok()
            .and_then(Result::ok)
            .map_or(0, |u| u.len()),
        None => failed_unsent.unwrap_or(0),
    };
    let stats = client.stats();
    if printer.is_json() {
        printer.json_line(render::stats_json(&stats, unsent));
    } else {
        printer.log(&render::stats_text(&stats, unsent));
    }
    if failed_unsent.is_some() {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// Validate the arguments and build the client (not connected yet); returns it and the URL to show.
fn build(args: &ConnectArgs, secrets: &Secrets) -> Result<(Client, String), UsageError> {
    let checked = target::check(&args.target, secrets)?;
    let (initial, max) = args.backoff;
    let mut builder = Client::builder(args.target.url.as_str())
        .protocols(args.target.protocols.iter().cloned())
        .require_protocol(args.target.require_protocol)
        .compression(checked.compression.clone())
        .connect_timeout(args.target.connect_timeout)
        .backoff(Backoff {
            initial,
            max,
            ..Backoff::default()
        })
        .max_retries(args.max_retries)
        .heartbeat(args.ping.0.map(|interval| Heartbeat {
            interval,
            timeout: args.pong_timeout,
            app_ping: None,
        }));
    for (name, value) in &args.target.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(command) = &args.target.auth_cmd {
        builder = builder.auth(auth::provider(command.clone(), secrets.clone()));
    }
    if let Some(pem) = checked.ca_pem {
        builder = builder.add_root_certificate_pem(pem);
    }
    builder = crate::transport::apply(builder, &args.transport, secrets)?;
    Ok((builder.build()?, checked.display_url))
}

/// Send one stdin line and say what happened to it.
fn send(client: &Client, printer: &Printer, line: String) {
    let bytes = line.len();
    let result = client.send_text(line);
    if printer.is_json() {
        let v = match &result {
            Ok(SendStatus::Sent) => json!({ "event": "send", "status": "sent", "bytes": bytes }),
            Ok(SendStatus::Queued) => {
                json!({ "event": "send", "status": "queued", "bytes": bytes })
            }
            Err(e) => {
                json!({ "event": "send", "status": "error", "bytes": bytes, "message": e.to_string() })
            }
        };
        printer.json_line(v);
        return;
    }
    match result {
        Ok(SendStatus::Sent) => {}
        Ok(SendStatus::Queued) => printer.log(&format!(
            "queued: link not open, sent after reconnect ({} waiting)",
            client.stats().queued_messages
        )),
        Err(e) => printer.log(&format!("not sent: {e}")),
    }
}

/// Close in the background so the loop keeps draining events until the stream ends.
fn start_close(
    client: &Client,
    reason: &'static str,
) -> JoinHandle<Result<Vec<Message>, wstether::Error>> {
    let client = client.clone();
    tokio::spawn(async move { client.close(1000, reason).await })
}

/// Lines from stdin, read on a plain thread (a blocked read never holds up exit); `None` = EOF.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::Builder::new()
        .name("wstether-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match stdin.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        while matches!(buf.last(), Some(b'\n' | b'\r')) {
                            buf.pop();
                        }
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        if tx.blocking_send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        })
        .ok();
    rx
}

/// One `()` per Ctrl-C (and per SIGTERM on Unix, so `kill` also closes cleanly).
fn interrupts() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(4);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
            // One stream per signal, made once: no signal is missed between two waits.
            if let Ok(mut stream) = signal(kind) {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while stream.recv().await.is_some() {
                        if tx.send(()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(()).await.is_err() {
                break;
            }
        }
    });
    rx
}
