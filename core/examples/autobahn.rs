//! The Autobahn|Testsuite client under test: for each case of a fuzzing server, connect, echo
//! every message back unchanged, stop when the link ends; then ask the server to write its
//! reports. Uses only the public `wstether` API. `scripts/autobahn.sh` runs it against
//! kosoku's fuzzing server and tallies the verdicts.
//!
//! `cargo run --release -p wstether --example autobahn -- ws://127.0.0.1:9001 [options]`
//!
//! Options:
//! - `--agent NAME`: the agent name in the reports (default `wstether`).
//! - `--cases N`: run cases 1..=N instead of asking the server how many there are.
//! - `--jobs N`: run up to N cases at once (default 1). The cases are independent
//!   connections; the compression cases (12.x, 13.x) are CPU-bound on both sides.
//! - `--client-no-context-takeover`: offer `client_no_context_takeover`. Autobahn's server only
//!   asks a client to drop its compression context (cases 13.2, 13.5, 13.6, 13.7) when the
//!   client offered that parameter, which it reads as "the client accepts such a request";
//!   RFC 7692 reads it as "the client will not keep context", so only those cases get it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wstether::{Client, Compression, Event, Message, OutboxLimits};

/// Largest message Autobahn sends (9.1.6 and 9.2.6 are 16 MiB), with room to spare.
const MAX_MESSAGE: usize = 64 << 20;
/// A case that runs longer than this is abandoned (the server has its own, shorter timeouts).
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

struct Options {
    base: String,
    agent: String,
    cases: Option<u32>,
    jobs: u32,
    client_no_context_takeover: bool,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut opts = Options {
        base: String::new(),
        agent: "wstether".into(),
        cases: None,
        jobs: 1,
        client_no_context_takeover: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--agent" => opts.agent = args.next().ok_or("--agent needs a name")?,
            "--cases" => {
                let n = args.next().ok_or("--cases needs a number")?;
                opts.cases = Some(n.parse().map_err(|_| format!("bad --cases {n:?}"))?);
            }
            "--jobs" => {
                let n = args.next().ok_or("--jobs needs a number")?;
                opts.jobs = n.parse().map_err(|_| format!("bad --jobs {n:?}"))?;
                if opts.jobs == 0 {
                    return Err("--jobs must be at least 1".into());
                }
            }
            "--client-no-context-takeover" => opts.client_no_context_takeover = true,
            url if url.starts_with("ws://") || url.starts_with("wss://") => {
                opts.base = url.trim_end_matches('/').to_string()
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if opts.base.is_empty() {
        return Err(
            "usage: autobahn ws://HOST:PORT [--agent NAME] [--cases N] [--jobs N] \
                    [--client-no-context-takeover]"
                .into(),
        );
    }
    Ok(opts)
}

/// A client for one case: one attempt, no heartbeat, limits above anything Autobahn sends.
fn client(url: &str, opts: &Options) -> Result<Client, wstether::Error> {
    let builder = Client::builder(url)
        .max_retries(Some(0))
        .heartbeat(None)
        .handshake_budget(None)
        .max_message_size(MAX_MESSAGE)
        .outbox(OutboxLimits {
            max_messages: 100_000,
            max_bytes: 4 * MAX_MESSAGE,
        })
        .close_timeout(Duration::from_secs(5));
    // The default offer, plus client_no_context_takeover for the cases that need it. Every
    // echo is compressed (min_size 0): kosoku's 12.x/13.x cases hash a text echo that arrives
    // uncompressed as a Python str and fail with "Strings must be encoded before hashing",
    // though RFC 7692 lets a sender leave any message uncompressed.
    let compression = Compression {
        client_no_context_takeover: opts.client_no_context_takeover,
        min_size: 0,
        ..Compression::default()
    };
    builder.compression(compression).build()
}

/// Run one connection to `url`: echo every message, return the first text message received
/// (for `/getCaseCount`) when the link ends.
async fn run(url: &str, opts: &Options, echo: bool) -> Result<Option<String>, String> {
    let client = client(url, opts).map_err(|e| e.to_string())?;
    let mut events = client.events().map_err(|e| e.to_string())?;
    client.connect().map_err(|e| e.to_string())?;
    let mut first_text = None;
    let deadline = tokio::time::Instant::now() + CASE_TIMEOUT;
    loop {
        let event = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(_) => return Err(format!("{url}: no end after {CASE_TIMEOUT:?}")),
        };
        match event {
            Event::Message(m) => {
                if first_text.is_none() {
                    first_text = m.as_text().map(str::to_string);
                }
                if echo {
                    echo_back(&client, m)?;
                }
            }
            Event::Closed { .. } | Event::Failed { .. } => break,
            _ => {}
        }
    }
    drop(client);
    Ok(first_text)
}

fn echo_back(client: &Client, m: Message) -> Result<(), String> {
    match client.send(m) {
        Ok(_) => Ok(()),
        // The link ended between the message and the echo: the case is over anyway.
        Err(wstether::Error::Closed | wstether::Error::Failed) => Ok(()),
        Err(e) => Err(format!("echo refused: {e}")),
    }
}

#[tokio::main]
async fn main() {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let count = match opts.cases {
        Some(n) => n,
        None => {
            let url = format!("{}/getCaseCount", opts.base);
            match run(&url, &opts, false).await {
                Ok(Some(text)) => text.trim().parse().unwrap_or_else(|_| {
                    eprintln!("getCaseCount answered {text:?}");
                    std::process::exit(1)
                }),
                Ok(None) => {
                    eprintln!("getCaseCount sent no count");
                    std::process::exit(1)
                }
                Err(e) => {
                    eprintln!("getCaseCount failed: {e}");
                    std::process::exit(1)
                }
            }
        }
    };
    let started = Instant::now();
    let opts = Arc::new(opts);
    let next = Arc::new(AtomicU32::new(1));
    let workers: Vec<_> = (0..opts.jobs)
        .map(|_| {
            let (opts, next) = (opts.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let case = next.fetch_add(1, Ordering::Relaxed);
                    if case > count {
                        break;
                    }
                    let url = format!("{}/runCase?case={case}&agent={}", opts.base, opts.agent);
                    let t = Instant::now();
                    if let Err(e) = run(&url, &opts, true).await {
                        eprintln!("case {case}: {e}");
                    }
                    let took = t.elapsed();
                    if took > Duration::from_secs(2) {
                        eprintln!("case {case} took {:.1}s", took.as_secs_f64());
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a case worker panicked");
    }
    eprintln!(
        "ran {count} cases in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let url = format!("{}/updateReports?agent={}", opts.base, opts.agent);
    if let Err(e) = run(&url, &opts, false).await {
        eprintln!("updateReports failed: {e}");
        std::process::exit(1);
    }
}
