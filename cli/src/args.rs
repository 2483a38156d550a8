//! Command-line arguments (clap derive) and the parsers for durations, ranges and headers.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Exit codes, shared by every subcommand.
pub mod exit {
    /// Success: a clean close (stdin ended, Ctrl-C), a healthy probe, a demo that saw every recovery.
    pub const OK: i32 = 0;
    /// The client gave up (`Failed`), the probe found the endpoint unhealthy, or a demo step failed.
    pub const FAILED: i32 = 1;
    /// Bad usage or input: unknown flag, invalid URL, header, duration or certificate file.
    pub const USAGE: i32 = 2;
    /// `probe` only: no connection at all (refused, DNS, unreachable, TCP timeout).
    pub const UNREACHABLE: i32 = 3;
    /// A second Ctrl-C while closing: leave at once.
    pub const INTERRUPTED: i32 = 130;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  clean close (stdin ended or Ctrl-C), healthy probe, demo saw every recovery
  1  the client gave up (--max-retries, terminal close or status), unhealthy probe, demo step failed
  2  bad usage or input (invalid URL, header, duration, certificate file)
  3  probe: endpoint unreachable (refused, DNS, timeout before TCP)";

/// wstether: see why your WebSocket keeps dropping.
#[derive(Debug, Parser)]
#[command(name = "wstether", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Also print the client's internal tracing (filter with RUST_LOG).
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Interactive session: stdin lines are sent, messages printed; reconnects, logging why.
    Connect(ConnectArgs),
    /// Connect once and report handshake, TLS, subprotocol and ping health (for scripts and CI).
    Probe(ProbeArgs),
    /// Break a local link in every way and watch the client recover (offline, under 30 s).
    Demo(DemoArgs),
}

/// Options shared by `connect` and `probe`.
#[derive(Debug, Args)]
pub struct Target {
    /// ws:// or wss:// URL.
    pub url: String,
    /// Extra handshake header, `Name: value` (repeatable). Secret values are never printed.
    #[arg(long = "header", short = 'H', value_name = "K:V", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Shell command run before every attempt; its output is sent as `Authorization: Bearer <output>`.
    #[arg(long = "auth-cmd", value_name = "CMD")]
    pub auth_cmd: Option<String>,
    /// Subprotocol to offer (repeatable, in order of preference).
    #[arg(long = "protocol", short = 'p', value_name = "P")]
    pub protocols: Vec<String>,
    /// Fail (terminal) unless the server selects one of the --protocol values.
    #[arg(long = "require-protocol", requires = "protocols")]
    pub require_protocol: bool,
    /// Offer no permessage-deflate (the client offers it by default).
    #[arg(long = "no-compression")]
    pub no_compression: bool,
    /// permessage-deflate window in bits, both directions (default: the library's).
    #[arg(
        long = "window-bits",
        value_name = "N",
        conflicts_with = "no_compression"
    )]
    pub window_bits: Option<u8>,
    /// Trust this extra root CA (PEM file) for wss://.
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Limit on TCP + TLS + HTTP upgrade.
    #[arg(long = "connect-timeout", value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// One JSON object per line on stdout, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `wstether connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Where and how to connect.
    #[command(flatten)]
    pub target: Target,
    /// Heartbeat: send a ping this often (`off` to disable).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_toggle)]
    pub ping: Toggle,
    /// Heartbeat: extra silence tolerated before the link counts as dead.
    #[arg(long = "pong-timeout", value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    pub pong_timeout: Duration,
    /// Reconnect delay range, `MIN..MAX` (doubling from MIN, jittered).
    #[arg(long, value_name = "MIN..MAX", default_value = "1s..10s", value_parser = parse_range)]
    pub backoff: (Duration, Duration),
    /// Give up after this many failed attempts in a row (default: never).
    #[arg(long = "max-retries", value_name = "N")]
    pub max_retries: Option<u32>,
    /// Proxy, pinned and client certificates, fixed addresses.
    #[command(flatten)]
    pub transport: crate::transport::TransportArgs,
    /// After stdin ends (and everything queued is sent), keep printing for this long, then close.
    #[arg(long, value_name = "DUR", default_value = "500ms", value_parser = parse_duration)]
    pub linger: Duration,
}

/// `wstether probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Where and how to connect.
    #[command(flatten)]
    pub target: Target,
    /// Protocol pings to send once open (0: only check the handshake).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub pings: u32,
    /// How long each ping waits for its pong.
    #[arg(long = "ping-timeout", value_name = "DUR", default_value = "2s", value_parser = parse_duration)]
    pub ping_timeout: Duration,
}

/// `wstether demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Show every heartbeat (by default only the first one after each open).
    #[arg(long)]
    pub pongs: bool,
}

/// A duration that can be switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Toggle(pub Option<Duration>);

/// `30s`, `250ms`, `1.5s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 500ms, 30s, 2m)"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use ms, s, m or h)"
            ))
        }
    };
    wstether::config::duration_from_secs("duration", secs).map_err(|e| e.to_string())
}

/// A duration, or `off` / `0` to disable.
pub fn parse_toggle(text: &str) -> Result<Toggle, String> {
    match text.trim() {
        "off" | "none" | "0" => Ok(Toggle(None)),
        t => parse_duration(t).map(|d| Toggle((!d.is_zero()).then_some(d))),
    }
}

/// `MIN..MAX`, or one duration for a constant delay.
pub fn parse_range(text: &str) -> Result<(Duration, Duration), String> {
    let (min, max) = match text.split_once("..") {
        Some((a, b)) => (parse_duration(a)?, parse_duration(b)?),
        None => {
            let d = parse_duration(text)?;
            (d, d)
        }
    };
    if min.is_zero() {
        return Err("the minimum delay must be greater than zero".into());
    }
    if max < min {
        return Err(format!("{text:?}: MAX must be at least MIN"));
    }
    Ok((min, max))
}

/// `Name: value` or `Name:value`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| "expected NAME:VALUE".to_string())?;
    let (name, value) = (name.trim(), value.trim());
    wstether::config::check_header(name, value).map_err(|e| e.to_string())?;
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert_eq!(parse_toggle("off"), Ok(Toggle(None)));
    }

    #[test]
    fn ranges_and_headers() {
        assert_eq!(
            parse_range("100ms..1s"),
            Ok((Duration::from_millis(100), Duration::from_secs(1)))
        );
        assert!(parse_range("2s..1s").is_err());
        assert!(parse_range("0s..1s").is_err());
        assert_eq!(
            parse_header("X-Id: 42"),
            Ok(("X-Id".to_string(), "42".to_string()))
        );
        assert!(parse_header("no colon").is_err());
    }
}
