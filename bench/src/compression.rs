//! The compression bench's Rust clients: the wstether core with its default compression
//! (`--client core`: permessage-deflate offered with 12-bit windows both ways) or with
//! `Compression::disabled()` (`--client core-disabled`), driven by `bench/compression/bench.py`.
//! Both run the client on the bench's own one-worker runtime (the default for a client built
//! inside a runtime, as in an async app). `--client core-shared-runtime` (not in the default
//! run) puts the same default client on wstether's shared runtime instead, to tell the cost of
//! sharing the app's worker from the cost of compressing.
//!
//! One process per client, started pinned to the client CPU and kept for the whole run. It
//! reads one JSON command per line on stdin and answers one JSON line on stdout (protocol in
//! `bench/compression/README.md`):
//!
//! - `{"op": "receive", "url", "n", "size"}`: `!blast N SIZE`, timed to `!blast-done`;
//! - `{"op": "send", "url", "n", "size", "window", "every"}`: `!sink N SIZE EVERY`, then the
//!   pool's messages with at most `window` unacknowledged, timed to `!sink-done`;
//! - answer `{"ok": true, "secs", "cpu_s", "compression"}`: wall time, the process's CPU time
//!   (every thread) over the same span, and the extension `Open` reported.
//!
//! Usage: `wstether-bench-compression --client core|core-disabled|core-shared-runtime PAYLOADS.json`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wstether::{Client, Compression, Event, Events, Message};

/// A round that has not finished by then failed.
const DEADLINE: Duration = Duration::from_secs(120);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let client = args
        .iter()
        .position(|a| a == "--client")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| fail("--client core|core-disabled|core-shared-runtime is required"));
    let (compression, shared_runtime, name) = match client.as_str() {
        "core" => (Compression::default(), false, "wstether (Rust core)"),
        "core-disabled" => (
            Compression::disabled(),
            false,
            "wstether (Rust core), Compression::disabled()",
        ),
        "core-shared-runtime" => (
            Compression::default(),
            true,
            "wstether (Rust core), on wstether's shared runtime",
        ),
        other => fail(&format!("unknown client {other}")),
    };
    let path = args
        .last()
        .filter(|p| !p.starts_with("--") && *p != &client)
        .unwrap_or_else(|| fail("the payloads file is required"));
    let pools = load(path);
    // One worker, as the core bench and an async app on a busy CPU use.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    answer(json!({"ok": true, "library": name, "version": env!("CARGO_PKG_VERSION")}));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let cmd: Value = serde_json::from_str(&line).unwrap_or_else(|e| fail(&e.to_string()));
        let compression = compression.clone();
        let pools = pools.clone();
        let out = rt
            .block_on(async move {
                tokio::spawn(async move {
                    let run = round(&cmd, compression, shared_runtime, &pools);
                    tokio::time::timeout(DEADLINE, run)
                        .await
                        .unwrap_or_else(|_| Err("no answer before the deadline".into()))
                })
                .await
            })
            .unwrap_or_else(|e| Err(format!("the round panicked: {e}")));
        answer(match out {
            Ok(v) => v,
            Err(e) => json!({"ok": false, "error": e}),
        });
    }
}

fn fail(why: &str) -> ! {
    eprintln!("wstether-bench-compression: {why}");
    std::process::exit(2)
}

fn answer(v: Value) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}").unwrap();
    out.flush().unwrap();
}

/// The message pools by size, as cheap-to-clone messages (sending one copies no text).
fn load(path: &str) -> std::sync::Arc<HashMap<usize, Vec<Message>>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    let raw: HashMap<String, Vec<String>> =
        serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    std::sync::Arc::new(
        raw.into_iter()
            .map(|(k, v)| {
                (
                    k.parse().unwrap(),
                    v.into_iter().map(Message::from).collect(),
                )
            })
            .collect(),
    )
}

async fn round(
    cmd: &Value,
    compression: Compression,
    shared_runtime: bool,
    pools: &HashMap<usize, Vec<Message>>,
) -> Result<Value, String> {
    let field = |k: &str| cmd[k].as_u64().map(|v| v as usize);
    let url = cmd["url"].as_str().ok_or("no url")?;
    let (n, size) = (field("n").ok_or("no n")?, field("size").ok_or("no size")?);
    let pool = pools.get(&size).ok_or("no pool of that size")?;
    let (client, mut events, negotiated) = open(url, compression, shared_runtime, pool).await?;
    let (secs, cpu_s) = match cmd["op"].as_str() {
        Some("receive") => receive(&client, &mut events, n, size, pool).await?,
        Some("send") => {
            let window = field("window").ok_or("no window")?;
            let every = field("every").ok_or("no every")?;
            send(&client, &mut events, n, size, window, every, pool).await?
        }
        other => return Err(format!("unknown op {other:?}")),
    };
    client.close(1000, "").await.map_err(|e| e.to_string())?;
    Ok(json!({"ok": true, "secs": secs, "cpu_s": cpu_s, "compression": negotiated}))
}

/// Opens a link and checks one echo: the server inflated what we compressed, and back.
async fn open(
    url: &str,
    compression: Compression,
    shared_runtime: bool,
    pool: &[Message],
) -> Result<(Client, Events, Option<String>), String> {
    let mut builder = Client::builder(url);
    if shared_runtime {
        builder = builder.runtime(wstether::runtime::handle());
    }
    let client = builder
        .handshake_budget(None)
        .heartbeat(None)
        .compression(compression)
        .build()
        .map_err(|e| e.to_string())?;
    let mut events = client.events().map_err(|e| e.to_string())?;
    client.connect().map_err(|e| e.to_string())?;
    let negotiated = loop {
        match events.next().await {
            Some(Event::Open { compression, .. }) => break compression,
            Some(_) => {}
            None => return Err("ended before Open".into()),
        }
    };
    client.send(pool[0].clone()).map_err(|e| e.to_string())?;
    if next_text(&mut events).await? != pool[0].as_text().unwrap_or_default() {
        return Err("the echo differs from what was sent".into());
    }
    Ok((client, events, negotiated))
}

async fn next_text(events: &mut Events) -> Result<String, String> {
    loop {
        match events.next().await {
            Some(Event::Message(m)) => return Ok(m.as_text().unwrap_or_default().to_string()),
            Some(Event::Closed { code, reason, .. }) => {
                return Err(format!("closed: {code} {reason}"))
            }
            Some(_) => {}
            None => return Err("the client ended".into()),
        }
    }
}

/// `!blast N SIZE`: `(wall seconds, CPU seconds)` from the command to `!blast-done`.
async fn receive(
    client: &Client,
    events: &mut Events,
    n: usize,
    size: usize,
    pool: &[Message],
) -> Result<(f64, f64), String> {
    let (c0, t0) = (cpu_secs(), Instant::now());
    client
        .send_text(format!("!blast {n} {size}"))
        .map_err(|e| e.to_string())?;
    let (mut count, mut bad, mut first_ok) = (0, 0, n == 0);
    loop {
        match events.next().await {
            Some(Event::Message(m)) => {
                if m.as_text() == Some("!blast-done") {
                    break;
                }
                if count == 0 {
                    first_ok = m == pool[0];
                }
                if m.len() != size {
                    bad += 1;
                }
                count += 1;
            }
            Some(Event::Closed { code, reason, .. }) => {
                return Err(format!("closed: {code} {reason}"))
            }
            Some(_) => {}
            None => return Err("the client ended".into()),
        }
    }
    let (secs, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs() - c0);
    if count != n || bad > 0 || !first_ok {
        return Err(format!(
            "expected {n} messages of {size} B, got {count} ({bad} of another size, first from the pool: {first_ok})"
        ));
    }
    Ok((secs, cpu))
}

/// `!sink N SIZE EVERY`, then the pool with at most `window` messages unacknowledged:
/// `(wall seconds, CPU seconds)` from the command to `!sink-done`.
async fn send(
    client: &Client,
    events: &mut Events,
    n: usize,
    size: usize,
    window: usize,
    every: usize,
    pool: &[Message],
) -> Result<(f64, f64), String> {
    let (c0, t0) = (cpu_secs(), Instant::now());
    client
        .send_text(format!("!sink {n} {size} {every}"))
        .map_err(|e| e.to_string())?;
    let (mut sent, mut acked) = (0, 0);
    let done = loop {
        while sent < n && sent - acked < window {
            client
                .send(pool[sent % pool.len()].clone())
                .map_err(|e| e.to_string())?;
            sent += 1;
        }
        let text = next_text(events).await?;
        if let Some(k) = text.strip_prefix("!ack ") {
            acked = k.parse().map_err(|_| format!("bad ack {text}"))?;
        } else if text.starts_with("!sink-done") {
            break text;
        } else {
            return Err(format!(
                "the server said {}",
                text.chars().take(80).collect::<String>()
            ));
        }
    };
    let (secs, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs() - c0);
    if done != format!("!sink-done {n} {}", n * size) {
        return Err(format!(
            "the server counted '{done}', expected {n} messages of {size} B"
        ));
    }
    Ok((secs, cpu))
}

/// CPU time of this process, every thread, in seconds (`CLOCK_PROCESS_CPUTIME_ID`: nanoseconds,
/// where `/proc/PID/stat` counts 10 ms ticks).
#[cfg(target_os = "linux")]
fn cpu_secs() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid `struct timespec` (two 64-bit fields on 64-bit Linux).
    if unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) } != 0 {
        return f64::NAN;
    }
    t.sec as f64 + t.nsec as f64 / 1e9
}

#[cfg(not(target_os = "linux"))]
fn cpu_secs() -> f64 {
    f64::NAN
}
