//! Benchmarks the wstether core against raw tokio-tungstenite in one run, against the same
//! testkit servers, with the server pinned to one CPU and this client process to the other.
//!
//! Measures, for both clients:
//! - receive throughput at 64 B and 64 KiB (`!blast N SIZE`), several interleaved rounds of at
//!   least `--round-secs` each;
//! - 64 B echo round trips against a second server pinned to the client's own CPU (same-core);
//! - memory per idle open connection (RSS growth and heap), each client kind in a fresh child
//!   process so earlier rounds' freed memory is not reused.
//!
//! Every server runs in a child process (this binary with `--serve CPU`) that pins itself before
//! it starts any thread; the client pins itself at the top of `main`, before any thread exists, so
//! every thread either side starts later stays on its CPU. The threads' affinity is read back
//! from `/proc` and recorded. `--json PATH` writes the rounds for `bench/report.py`.
//!
//! Usage: `cargo run --release -p wstether-bench -- [--quick] [--unpinned] [--json PATH]
//! [--server-cpu 0] [--client-cpu 1] [--rounds N] [--round-secs S] [--idle N]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wstether::{Client, Event};

/// Counts live heap bytes, so idle-connection heap is measured exactly (RSS is reported too).
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

const RAW: &str = "raw tokio-tungstenite";
const NEXT: &str = "wstether next()";
const BATCH: &str = "wstether next_batch(1024)";
const SIZES: [usize; 2] = [64, 64 * 1024];

/// What to run, from the command line.
struct Opts {
    quick: bool,
    /// `(server CPU, client CPU)`, or `None` with `--unpinned`.
    cpus: Option<(usize, usize)>,
    rounds: usize,
    round_secs: f64,
    idle: usize,
    json: Option<String>,
}

fn main() {
    // 1,000 idle clients (and the server's side of them) need more than the usual 1,024.
    affinity::raise_open_files();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter().position(|a| a == name).map(|i| {
            args.get(i + 1)
                .cloned()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        })
    };
    if let Some(cpu) = value("--serve") {
        return serve(cpu.parse().ok());
    }
    if let Some(kind) = value("--idle-child") {
        let n = value("--n").and_then(|n| n.parse().ok()).unwrap_or(1000);
        let url = value("--url").unwrap_or_else(|| fail("--idle-child needs --url"));
        return idle_child(&kind, n, &url);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let number = |name: &str, default: f64| {
        value(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| fail(&format!("{name}: not a number: {v}")))
        })
    };
    let cpus = if args.iter().any(|a| a == "--unpinned") {
        None
    } else {
        Some((
            number("--server-cpu", 0.0) as usize,
            number("--client-cpu", 1.0) as usize,
        ))
    };
    let opts = Opts {
        quick,
        cpus,
        rounds: number("--rounds", if quick { 3.0 } else { 7.0 }) as usize,
        round_secs: number("--round-secs", if quick { 0.1 } else { 0.6 }),
        idle: number("--idle", if quick { 200.0 } else { 1000.0 }) as usize,
        json: value("--json"),
    };
    let probe = value("--probe");
    if let Some((server, client)) = opts.cpus {
        if server == client {
            fail("--server-cpu and --client-cpu must differ");
        }
        // Before any thread exists: every thread started later (the runtime's, wstether's)
        // inherits this mask.
        if let Err(e) = affinity::pin(client) {
            fail(&format!(
                "cannot pin the client to CPU {client}: {e} (or pass --unpinned)"
            ));
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Both clients run on the runtime's one worker, as in an async app.
    if let Some(spec) = probe {
        return rt
            .block_on(
                async move { tokio::spawn(async move { run_probe(&opts, &spec).await }).await },
            )
            .unwrap();
    }
    rt.block_on(async move { tokio::spawn(async move { run(&opts).await }).await })
        .unwrap();
}

fn fail(why: &str) -> ! {
    eprintln!("wstether-bench: {why}");
    std::process::exit(2)
}

/// A testkit server in a child process of this binary.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts `--serve`, pinned to `cpu` when given, and reads its URL.
    fn start(cpu: Option<usize>) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve", &cpu.map_or("any".into(), |c| c.to_string())])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the bench server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim().is_empty() {
            fail("the bench server did not start");
        }
        Server {
            child,
            url: line.trim().to_string(),
        }
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Child process: a testkit server on one worker thread, pinned first when `cpu` is given;
/// prints its URL and exits when stdin closes.
fn serve(cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        if let Err(e) = affinity::pin(cpu) {
            fail(&format!("cannot pin the server to CPU {cpu}: {e}"));
        }
    }
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

async fn run(o: &Opts) {
    let started = std::time::SystemTime::now();
    let (server_cpu, client_cpu) = match o.cpus {
        Some((s, c)) => (Some(s), Some(c)),
        None => (None, None),
    };
    let far = Server::start(server_cpu);
    // Same-core round trips: a second server on the client's CPU, for both clients.
    let near = Server::start(client_cpu);
    match o.cpus {
        Some((s, c)) => println!(
            "core bench, pinned: server on CPU {s}, client on CPU {c}; same-core server on CPU {c}"
        ),
        None => println!("core bench, UNPINNED (not comparable with pinned figures)"),
    }
    println!(
        "{} rounds of >= {:.2} s per client and size; {} idle connections\n",
        o.rounds, o.round_secs, o.idle
    );

    let mut throughput = Map::new();
    for size in SIZES {
        let mut per_client = Map::new();
        let mut counts = Vec::new();
        for name in [RAW, NEXT, BATCH] {
            let n = calibrate(o.round_secs, |n| receive(name, &far.url, n, size)).await;
            counts.push((name, n));
        }
        // Per client: rates, and the share of a CPU the server and the client used per round.
        let mut rounds: Vec<[Vec<f64>; 3]> = vec![Default::default(); counts.len()];
        for r in 0..o.rounds {
            for i in round_order(counts.len(), r) {
                let (name, n) = counts[i];
                let busy = Busy::start(far.child.id());
                let rate = receive(name, &far.url, n, size).await;
                let (server_busy, client_busy) = busy.stop();
                println!(
                    "  {:>5} B  round {}  {:<26} {:>10.0} msg/s {:>9.1} MB/s  server {:>3.0}% client {:>3.0}% busy",
                    size,
                    r + 1,
                    name,
                    rate,
                    rate * size as f64 / 1e6,
                    server_busy * 100.0,
                    client_busy * 100.0
                );
                rounds[i][0].push(rate);
                rounds[i][1].push(server_busy);
                rounds[i][2].push(client_busy);
            }
        }
        for (i, (name, n)) in counts.iter().enumerate() {
            let [rates, server_busy, client_busy] = &rounds[i];
            per_client.insert(
                name.to_string(),
                json!({"count": n, "msgs_per_s": rates, "server_busy": server_busy, "client_busy": client_busy}),
            );
        }
        throughput.insert(size.to_string(), Value::Object(per_client));
    }

    let mut rtt = Map::new();
    let names = [RAW, NEXT];
    let mut trips = Vec::new();
    for name in names {
        let (p50, _) = round_trips(name, &near.url, 200).await;
        trips.push((o.round_secs * 1e6 / p50).clamp(200.0, 50_000.0) as usize);
    }
    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); names.len()];
    for r in 0..o.rounds {
        for i in round_order(names.len(), r) {
            let (p50, p99) = round_trips(names[i], &near.url, trips[i]).await;
            println!(
                "  same-core round trip  round {}  {:<26} p50 {:>7.1} µs  p99 {:>7.1} µs",
                r + 1,
                names[i],
                p50,
                p99
            );
            samples[i].0.push(p50);
            samples[i].1.push(p99);
        }
    }
    for (i, name) in names.iter().enumerate() {
        rtt.insert(
            name.to_string(),
            json!({"trips": trips[i], "p50_us": samples[i].0, "p99_us": samples[i].1}),
        );
    }

    let mut affinity = vec![affinity::record("client", std::process::id(), client_cpu)];
    affinity.push(affinity::record("server", far.child.id(), server_cpu));
    affinity.push(affinity::record(
        "same-core server",
        near.child.id(),
        client_cpu,
    ));
    let mut idle = Map::new();
    for (kind, name) in [("raw", RAW), ("wstether", "wstether")] {
        let (per_client, record) = idle_in_child(kind, o.idle, &far.url, client_cpu);
        println!(
            "  idle  {:<26} {:>6.1} KiB RSS per connection, {:>6.1} KiB heap",
            name, per_client["rss_kib"], per_client["heap_kib"]
        );
        idle.insert(name.to_string(), per_client);
        affinity.push(record);
    }
    far.stop();
    near.stop();

    let ok = affinity.iter().all(|a| a["ok"] != false);
    for a in &affinity {
        println!(
            "  affinity  {:<28} {} threads on CPUs {}{}",
            a["process"].as_str().unwrap_or(""),
            a["threads"],
            a["cpus"],
            if a["ok"] == false {
                "  NOT CONFINED"
            } else {
                ""
            }
        );
    }
    let report = json!({
        "layer": "core",
        "title": "Rust core vs raw tokio-tungstenite",
        "peer": RAW,
        "pinned": o.cpus.is_some(),
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "quick": o.quick,
        "rounds": o.rounds,
        "round_secs": o.round_secs,
        "started_unix": started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "throughput": throughput,
        "rtt_same_core": rtt,
        "idle": idle,
        "affinity": affinity,
    });
    if let Some(path) = &o.json {
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap())
            .unwrap_or_else(|e| fail(&format!("cannot write {path}: {e}")));
    }
    if !ok {
        fail("a thread was not confined to its CPU: these figures are not pinned");
    }
}

/// `--probe KIND,SIZE,N`: only that receive, `--rounds` times, with CPU nanoseconds per
/// message of this process and of the server from `/proc/PID/task/*/schedstat` (nanosecond
/// clocks, where `/proc/PID/stat` counts 10 ms ticks). KIND is `raw`, `next` or `batch`. For
/// looking at one path under `strace` or `perf`, not for the report.
async fn run_probe(o: &Opts, spec: &str) {
    let parts: Vec<&str> = spec.split(',').collect();
    let [kind, size, n] = parts[..] else {
        fail("--probe takes KIND,SIZE,N")
    };
    let name = match kind {
        "raw" => RAW,
        "next" => NEXT,
        "batch" => BATCH,
        _ => fail("--probe KIND: raw, next or batch"),
    };
    let size: usize = size.parse().unwrap_or_else(|_| fail("--probe SIZE"));
    let n: usize = n.parse().unwrap_or_else(|_| fail("--probe N"));
    let far = Server::start(o.cpus.map(|(s, _)| s));
    receive(name, &far.url, n.min(2_000), size).await;
    for r in 0..o.rounds {
        let (server0, client0) = (task_ns(far.child.id()), task_ns(std::process::id()));
        let faults0 = minor_faults(std::process::id());
        let rate = receive(name, &far.url, n, size).await;
        let (server1, client1) = (task_ns(far.child.id()), task_ns(std::process::id()));
        let faults1 = minor_faults(std::process::id());
        println!(
            "  probe {name} {size} B round {}: {rate:>10.0} msg/s, client {:>8.0} ns/msg, server {:>8.0} ns/msg, client {:>6.2} page faults/msg",
            r + 1,
            (client1 - client0) / n as f64,
            (server1 - server0) / n as f64,
            (faults1 - faults0) / n as f64,
        );
    }
    far.stop();
}

/// Minor page faults of a process so far (`/proc/PID/stat`, field 10).
fn minor_faults(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().nth(7).and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// CPU time of every thread of a process, in nanoseconds (`/proc/PID/task/*/schedstat`).
fn task_ns(pid: u32) -> f64 {
    let mut total = 0.0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        }
    }
    total
}

/// Client order in round `r`: forwards on even rounds, backwards on odd ones, so no client is
/// always the one that runs right after the server warmed up for another.
fn round_order(n: usize, r: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if r % 2 == 1 {
        order.reverse();
    }
    order
}

/// Warms a client up and returns a message count that takes about `secs` (at least 1,000
/// messages): doubles a small blast until one takes a tenth of `secs`.
async fn calibrate<F, Fut>(secs: f64, mut blast: F) -> usize
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let mut n = 1_000;
    loop {
        let rate = blast(n).await;
        if n as f64 / rate >= secs / 10.0 || n >= 100_000_000 {
            return ((rate * secs * 1.1) as usize).max(1_000);
        }
        n *= 2;
    }
}

/// One receive round: messages per second from sending `!blast N SIZE` to `!blast-done`.
async fn receive(name: &str, url: &str, n: usize, size: usize) -> f64 {
    match name {
        RAW => raw_receive(url, n, size).await,
        NEXT => tether_receive(url, n, size, false).await,
        _ => tether_receive(url, n, size, true).await,
    }
}

async fn round_trips(name: &str, url: &str, n: usize) -> (f64, f64) {
    if name == RAW {
        raw_round_trips(url, n).await
    } else {
        tether_round_trips(url, n).await
    }
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

async fn raw_receive(url: &str, n: usize, size: usize) -> f64 {
    let mut ws = raw_connect(url).await;
    ws.send(WsMessage::text(format!("!blast {n} {size}")))
        .await
        .unwrap();
    let start = Instant::now();
    let (mut got, mut bytes) = (0, 0);
    while let Some(Ok(msg)) = ws.next().await {
        if let WsMessage::Text(t) = msg {
            if t.as_str() == "!blast-done" {
                break;
            }
            got += 1;
            bytes += t.len();
        }
    }
    let rate = got as f64 / start.elapsed().as_secs_f64();
    check(RAW, got, bytes, n, size);
    let _ = ws.close(None).await;
    rate
}

/// Fails loudly when a blast did not arrive whole: a fast wrong answer is no result.
fn check(name: &str, got: usize, bytes: usize, n: usize, size: usize) {
    if got != n || bytes < n * size {
        fail(&format!(
            "{name}: expected {n} messages of {size} B, got {got} ({bytes} B)"
        ));
    }
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

/// wstether's receive path with `Events::next()` (one event per call, as raw's `next()`), or
/// with `next_batch(1024)`.
async fn tether_receive(url: &str, n: usize, size: usize, batched: bool) -> f64 {
    let (client, mut events) = tether_open(url).await;
    client.send_text(format!("!blast {n} {size}")).unwrap();
    let start = Instant::now();
    let (mut got, mut bytes) = (0, 0);
    let mut count = |ev: Event| -> bool {
        if let Event::Message(m) = ev {
            if m.as_text() == Some("!blast-done") {
                return true;
            }
            got += 1;
            bytes += m.len();
        }
        false
    };
    if batched {
        'outer: loop {
            for ev in events.next_batch(1024).await {
                if count(ev) {
                    break 'outer;
                }
            }
        }
    } else {
        while let Some(ev) = events.next().await {
            if count(ev) {
                break;
            }
        }
    }
    let rate = got as f64 / start.elapsed().as_secs_f64();
    check(if batched { BATCH } else { NEXT }, got, bytes, n, size);
    client.close(1000, "").await.unwrap();
    rate
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

/// Runs `--idle-child KIND` in a fresh process (it inherits this process's CPU) and returns its
/// figures and its threads' affinity, read while its connections were open.
fn idle_in_child(kind: &str, n: usize, url: &str, cpu: Option<usize>) -> (Value, Value) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--idle-child", kind, "--n", &n.to_string(), "--url", url])
        .stderr(Stdio::inherit())
        .output()
        .expect("start the idle child");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut figures: Value = text
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| fail(&format!("idle child {kind} gave no figures: {text}")));
    let record = figures["affinity"].take();
    let mut record: Map<String, Value> = record.as_object().cloned().unwrap_or_default();
    record.insert("process".into(), json!(format!("idle child ({kind})")));
    if let Some(cpu) = cpu {
        let ok = record["cpus"] == json!([cpu.to_string()]);
        record.insert("expected".into(), json!(cpu.to_string()));
        record.insert("ok".into(), json!(ok));
    }
    figures.as_object_mut().unwrap().remove("affinity");
    (figures, Value::Object(record))
}

/// Child process: opens `n` idle connections of `kind` after one warm-up connection, and prints
/// the growth per connection of RSS and of live heap, in KiB, as one JSON line.
fn idle_child(kind: &str, n: usize, url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = url.to_string();
    let kind = kind.to_string();
    let line = rt
        .block_on(async move { tokio::spawn(async move { idle(&kind, n, &url).await }).await })
        .unwrap();
    println!("{line}");
    // Exit without closing the connections one by one: the server sees them drop.
    std::process::exit(0);
}

async fn idle(kind: &str, n: usize, url: &str) -> Value {
    // One connection first, so code paths, the runtime and TLS-free connect state are warm and
    // only the per-connection cost is counted.
    if kind == "raw" {
        let mut ws = raw_connect(url).await;
        let _ = ws.close(None).await;
    } else {
        let (c, _) = tether_open(url).await;
        c.close(1000, "").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (rss0, heap0) = (rss_kib(), LIVE.load(Ordering::Relaxed));
    let mut raw_tasks = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..n {
        if kind == "raw" {
            let mut ws = raw_connect(url).await;
            // A raw connection needs a task to keep reading (pongs, close frames): count one.
            raw_tasks.push(tokio::spawn(async move {
                while let Some(Ok(_)) = ws.next().await {}
            }));
        } else {
            clients.push(tether_open(url).await);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rss1, heap1) = (rss_kib(), LIVE.load(Ordering::Relaxed));
    json!({
        "clients": n,
        "rss_kib": (rss1 - rss0) / n as f64,
        "heap_kib": (heap1 - heap0) as f64 / 1024.0 / n as f64,
        "affinity": affinity::record("idle child", std::process::id(), None),
    })
}

/// CPU time used by the server and by this process over a span, as shares of the wall time:
/// a server near 100 % means the round measured the server, not the clients.
struct Busy {
    server: u32,
    wall: Instant,
    server_cpu: f64,
    client_cpu: f64,
}

impl Busy {
    fn start(server: u32) -> Busy {
        Busy {
            server,
            wall: Instant::now(),
            server_cpu: cpu_secs(server),
            client_cpu: cpu_secs(std::process::id()),
        }
    }

    /// `(server share, client share)` of one CPU since `start`.
    fn stop(self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        (
            (cpu_secs(self.server) - self.server_cpu) / wall,
            (cpu_secs(std::process::id()) - self.client_cpu) / wall,
        )
    }
}

/// User + system CPU time of a process (all its threads), in seconds, from `/proc/PID/stat`
/// (clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, r)| r.split_whitespace().collect());
    let ticks = |i: usize| {
        rest.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// Pinning to one CPU, and reading back where each thread of a process may run.
mod affinity {
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

    /// Restricts the calling thread (and every thread it starts later) to `cpu`.
    #[cfg(target_os = "linux")]
    pub fn pin(cpu: usize) -> std::io::Result<()> {
        extern "C" {
            fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
        }
        let mut mask = [0u64; 16]; // cpu_set_t: 1,024 bits
        if cpu >= 1024 {
            return Err(std::io::Error::other("CPU number out of range"));
        }
        mask[cpu / 64] |= 1 << (cpu % 64);
        // SAFETY: `mask` is a valid cpu_set_t of the size passed; pid 0 is this thread.
        let rc = unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Raises the soft limit on open files to the hard limit (best effort).
    #[cfg(target_os = "linux")]
    pub fn raise_open_files() {
        #[repr(C)]
        struct Rlimit {
            cur: u64,
            max: u64,
        }
        extern "C" {
            fn getrlimit(resource: i32, rlim: *mut Rlimit) -> i32;
            fn setrlimit(resource: i32, rlim: *const Rlimit) -> i32;
        }
        const RLIMIT_NOFILE: i32 = 7;
        let mut lim = Rlimit { cur: 0, max: 0 };
        // SAFETY: `lim` is a valid `struct rlimit` (two 64-bit fields on 64-bit Linux).
        unsafe {
            if getrlimit(RLIMIT_NOFILE, &mut lim) == 0 && lim.cur < lim.max {
                lim.cur = lim.max;
                setrlimit(RLIMIT_NOFILE, &lim);
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn raise_open_files() {}

    #[cfg(not(target_os = "linux"))]
    pub fn pin(_cpu: usize) -> std::io::Result<()> {
        Err(std::io::Error::other(
            "pinning is implemented for Linux only",
        ))
    }

    /// The threads of `pid` and the distinct `Cpus_allowed_list`s among them, from `/proc`;
    /// with `expected`, whether every thread is confined to exactly that CPU.
    pub fn record(process: &str, pid: u32, expected: Option<usize>) -> Value {
        let mut lists = BTreeSet::new();
        let mut threads = 0;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let status =
                    std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
                if let Some(list) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                {
                    threads += 1;
                    lists.insert(list.trim().to_string());
                }
            }
        }
        let mut v = json!({"process": process, "pid": pid, "threads": threads, "cpus": lists});
        if let Some(cpu) = expected {
            let ok = threads > 0 && lists.len() == 1 && lists.contains(&cpu.to_string());
            v["expected"] = json!(cpu.to_string());
            v["ok"] = json!(ok);
        }
        v
    }
}
