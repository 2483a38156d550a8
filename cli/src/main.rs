//! `wstether`: connect to a WebSocket and watch the whole reconnect story, probe an endpoint's
//! health, or run the offline demo that breaks a local link in every way.
//!
//! Exit codes are documented in [`args::exit`] and in `--help`.

mod args;
mod auth;
mod connect;
mod demo;
mod output;
mod probe;
mod render;
mod target;
mod transport;

use clap::Parser;

use args::{exit, Cli, Command};

fn main() {
    let cli = Cli::parse();
    if cli.verbose {
        init_tracing();
    }
    wstether::runtime::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wstether: cannot start the async runtime: {e}");
            std::process::exit(exit::FAILED);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Connect(a) => connect::run(a).await,
            Command::Probe(a) => probe::run(a).await,
            Command::Demo(a) => demo::run(a).await,
        }
    });
    // Don't wait for background work (a stdin read, a lingering socket): the session is over.
    runtime.shutdown_background();
    std::process::exit(code);
}

/// `--verbose`: the core's own tracing on stderr, filtered by RUST_LOG (default: wstether=debug).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("wstether=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
