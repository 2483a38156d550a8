//! Benchmarks wstether against raw tokio-tungstenite in one run, against one server, and prints
//! ratios: receive throughput (200,000 × 64-byte messages), echo round-trip p50/p99 (10,000),
//! and heap held per idle connection (1,000 clients).
//!
//! The server runs in a child process (this binary with `--serve`), so client-side memory and
//! CPU are measured alone. Usage: `cargo run --release -p wstether-bench [-- --quick]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wstether::{Client, Event};

/// Counts live heap bytes so idle-connection cost is measured exactly, not via RSS noise.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Sizes {
    messages: usize,
    round_trips: usize,
    idle: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        return serve();
    }
    let sizes = if args.iter().any(|a| a == "--quick") {
        Sizes {
            messages: 20_000,
            round_trips: 1_000,
            idle: 100,
        }
    } else {
        Sizes {
            messages: 200_000,
            round_trips: 10_000,
            idle: 1_000,
        }
    };
    let mut server = Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the bench server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Everything runs on the runtime's one worker, as in an async app: no cross-thread wakeups
    // for either client.
    rt.block_on(async move { tokio::spawn(async move { run(&url, &sizes).await }).await })
        .unwrap();
    drop(server.stdin.take());
    let _ = server.wait();
}

/// Child process: a testkit server on one worker thread; prints its URL, exits when stdin closes.
fn serve() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = wstether_testkit::TestServer::start().await.unwrap();
        println!("{}", server.url());
        std::io::stdout().flush().unwrap();
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stdin, &mut sink).await;
        drop(server);
    });
}

async fn run(url: &str, s: &Sizes) {
    if std::env::args().any(|a| a == "--profile-receive") {
        // For profilers: only wstether's receive path, repeated.
        for _ in 0..10 {
            tether_receive(url, s.messages).await;
        }
        return;
    }
    println!("wstether vs raw tokio-tungstenite, same server, same run");
    println!(
        "receive {} × 64-byte messages; {} echo round trips; {} idle connections\n",
        s.messages, s.round_trips, s.idle
    );

    // Warm both paths once so neither pays first-use costs in the measurement.
    raw_receive(url, 2_000).await;
    tether_receive(url, 2_000).await;

    let mut raw_rates = Vec::new();
    let mut tether_rates = Vec::new();
    for _ in 0..3 {
        raw_rates.push(raw_receive(url, s.messages).await);
        tether_rates.push(tether_receive(url, s.messages).await);
    }
    let (mut blocking, mut pulled) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        blocking.push(tether_receive_blocking(url, s.messages, false).await);
        pulled.push(tether_receive_blocking(url, s.messages, true).await);
    }
    let raw = median(&mut raw_rates);
    let tether = median(&mut tether_rates);
    blocking.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let (blocking_rate, mean_batch) = blocking[1];
    pulled.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let (pulled_rate, pulled_batch) = pulled[1];
    println!("receive throughput (median of 3):");
    println!("  raw tokio-tungstenite  {:>10.0} msg/s", raw);
    println!("  wstether               {:>10.0} msg/s", tether);
    println!(
        "  ratio wstether/raw     {:>10.2}   (target >= 0.90)",
        tether / raw
    );
    println!(
        "  wstether drained by a plain thread (Python, Node): {:.0} msg/s, {:.0} events per batch",
        blocking_rate, mean_batch
    );
    println!(
        "  wstether pulled by a plain thread (Kotlin, Swift): {:.0} msg/s, {:.0} events per batch\n",
        pulled_rate, pulled_batch
    );

    let raw_rtt = raw_round_trips(url, s.round_trips).await;
    let tether_rtt = tether_round_trips(url, s.round_trips).await;
    println!("echo round trip p50 / p99:");
    println!(
        "  raw tokio-tungstenite  {:>8.1} µs / {:>8.1} µs",
        raw_rtt.0, raw_rtt.1
    );
    println!(
        "  wstether               {:>8.1} µs / {:>8.1} µs",
        tether_rtt.0, tether_rtt.1
    );
    println!(
        "  ratio p50 wstether/raw {:>10.2}   (target <= 1.10)\n",
        tether_rtt.0 / raw_rtt.0
    );

    let raw_default = raw_idle(url, s.idle, None).await;
    let raw_16k = raw_idle(url, s.idle, Some(16 * 1024)).await;
    let tether_idle = tether_idle(url, s.idle).await;
    println!("heap per idle connection ({} connections):", s.idle);
    println!(
        "  raw tokio-tungstenite (128 KiB default buffers) {:>7.1} KiB",
        raw_default
    );
    println!(
        "  raw tokio-tungstenite (16 KiB read buffer)      {:>7.1} KiB",
        raw_16k
    );
    println!(
        "  wstether                                        {:>7.1} KiB   (target <= 32 KiB)",
        tether_idle
    );
    println!(
        "  ratio wstether/raw default                      {:>7.2}",
        tether_idle / raw_default
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p) as usize]
}

/// Raw client as a careful user would set it up: default buffers, Nagle off (as wstether does).
async fn raw_connect(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap()
        .0
}

async fn raw_receive(url: &str, n: usize) -> f64 {
    let mut ws = raw_connect(url).await;
    ws.send(WsMessage::text(format!("!blast {n} 64")))
        .await
        .unwrap();
    let start = Instant::now();
    let mut got = 0;
    while let Some(Ok(msg)) = ws.next().await {
        if let WsMessage::Text(t) = msg {
            if t.as_str() == "!blast-done" {
                break;
            }
            got += 1;
        }
    }
    let rate = got as f64 / start.elapsed().as_secs_f64();
    assert_eq!(got, n);
    let _ = ws.close(None).await;
    rate
}

fn tether_client(url: &str) -> Client {
    Client::builder(url).handshake_budget(None).build().unwrap()
}

async fn tether_open(url: &str) -> (Client, wstether::Events) {
    let client = tether_client(url);
    let mut events = client.events().unwrap();
    client.connect().unwrap();
    while let Some(ev) = events.next().await {
        if matches!(ev, Event::Open { .. }) {
            break;
        }
    }
    (client, events)
}

async fn tether_receive(url: &str, n: usize) -> f64 {
    let (client, mut events) = tether_open(url).await;
    client.send_text(format!("!blast {n} 64")).unwrap();
    let start = Instant::now();
    let mut got = 0;
    'outer: loop {
        for ev in events.next_batch(1024).await {
            if let Event::Message(m) = ev {
                if m.as_text() == Some("!blast-done") {
                    break 'outer;
                }
                got += 1;
            }
        }
    }
    let rate = got as f64 / start.elapsed().as_secs_f64();
    assert_eq!(got, n);
    client.close(1000, "").await.unwrap();
    rate
}

/// The path the bindings take: a thread of their own blocks in `blocking_next_batch` (Python,
/// Node) or, with `pull`, in `blocking_pull_batch` (Kotlin, Swift: that thread reads the socket
/// itself). Returns the rate and the mean batch size.
async fn tether_receive_blocking(url: &str, n: usize, pull: bool) -> (f64, f64) {
    let (client, mut events) = tether_open(url).await;
    let start = Instant::now();
    let drain = std::thread::spawn(move || {
        let (mut got, mut batches) = (0usize, 0usize);
        loop {
            let batch = if pull {
                events.blocking_pull_batch(1024)
            } else {
                events.blocking_next_batch(1024)
            };
            batches += 1;
            for ev in batch {
                if let Event::Message(m) = ev {
                    if m.as_text() == Some("!blast-done") {
                        return (got, batches);
                    }
                    got += 1;
                }
            }
        }
    });
    client.send_text(format!("!blast {n} 64")).unwrap();
    let (got, batches) = tokio::task::spawn_blocking(move || drain.join().unwrap())
        .await
        .unwrap();
    let rate = got as f64 / start.elapsed().as_secs_f64();
    assert_eq!(got, n);
    client.close(1000, "").await.unwrap();
    (rate, got as f64 / batches as f64)
}

async fn raw_round_trips(url: &str, n: usize) -> (f64, f64) {
    let mut ws = raw_connect(url).await;
    let payload = "x".repeat(64);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        ws.send(WsMessage::text(payload.clone())).await.unwrap();
        loop {
            if let Some(Ok(WsMessage::Text(_))) = ws.next().await {
                break;
            }
        }
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let _ = ws.close(None).await;
    (percentile(&mut times, 0.5), percentile(&mut times, 0.99))
}

async fn tether_round_trips(url: &str, n: usize) -> (f64, f64) {
    let (client, mut events) = tether_open(url).await;
    let payload = "x".repeat(64);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        client.send_text(payload.clone()).unwrap();
        loop {
            if let Some(Event::Message(_)) = events.next().await {
                break;
            }
        }
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    client.close(1000, "").await.unwrap();
    (percentile(&mut times, 0.5), percentile(&mut times, 0.99))
}

/// Heap bytes per idle open connection, in KiB.
async fn raw_idle(url: &str, n: usize, read_buffer: Option<usize>) -> f64 {
    let config = read_buffer.map(|r| {
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(r)
            .write_buffer_size(r)
    });
    let before = LIVE.load(Ordering::Relaxed);
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, config, true)
            .await
            .unwrap();
        conns.push(ws);
    }
    // A raw connection needs a task to keep reading (pongs, close frames): count one each.
    let mut tasks = Vec::with_capacity(n);
    for mut ws in conns {
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(_)) = ws.next().await {}
        }));
    }
    tokio::task::yield_now().await;
    let per = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64 / 1024.0;
    for t in &tasks {
        t.abort();
    }
    // Wait until every aborted task has freed its connection before the next measurement.
    for t in tasks {
        let _ = t.await;
    }
    per
}

async fn tether_idle(url: &str, n: usize) -> f64 {
    let before = LIVE.load(Ordering::Relaxed);
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(tether_open(url).await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let per = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64 / 1024.0;
    for (c, _) in &clients {
        c.close(1000, "").await.unwrap();
    }
    per
}
