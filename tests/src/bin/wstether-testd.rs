//! `wstether-testd`: the test server and fault proxy behind an HTTP control API,
//! for the Python, Node, Kotlin and Swift test suites.
//!
//! Prints `{"control": <port>}` on one line, then serves until `POST /shutdown`
//! or until its stdin reaches EOF (so it dies with the test runner that
//! spawned it). Options: `--port N` (default: random). Logs go to stderr,
//! filtered by `WSTETHER_TESTD_LOG` (e.g. `debug`).

use std::io::{Read, Write};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: wstether-testd [--port N]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--port" => args.next(),
            other => match other.strip_prefix("--port=") {
                Some(v) => Some(v.to_owned()),
                None => return usage(),
            },
        };
        match value.and_then(|v| v.parse().ok()) {
            Some(p) => port = p,
            None => return usage(),
        }
    }

    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WSTETHER_TESTD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();

    // EOF on stdin means whoever started us is gone: exit with it.
    std::thread::spawn(|| {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        std::process::exit(0);
    });

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wstether-testd: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match wstether_testkit::control::bind(port).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("wstether-testd: cannot bind 127.0.0.1:{port}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{{\"control\": {port}}}")
            .and_then(|_| out.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
        drop(out);
        wstether_testkit::control::serve(listener).await;
        ExitCode::SUCCESS
    })
}
