//! The options object the TypeScript layer hands to the native constructor: docs/contract.md's options in
//! camelCase and milliseconds. `lib/options.ts` checks types first; `convert` checks ranges.

use napi::bindgen_prelude::{Buffer, Either, Null};
use napi_derive::napi;

/// Reconnect delay curve (all times in milliseconds).
#[napi(object)]
pub struct BackoffOptions {
    /// First delay (default 1000).
    pub initial_ms: Option<f64>,
    /// Largest delay (default 10000).
    pub max_ms: Option<f64>,
    /// Growth per attempt (default 2).
    pub factor: Option<f64>,
    /// Random spread 0..1 (default 0.5).
    pub jitter: Option<f64>,
    /// A link open this long resets the curve (default 5000).
    pub stable_after_ms: Option<f64>,
}

/// Keep-alive settings.
#[napi(object)]
pub struct HeartbeatOptions {
    /// `false` turns the heartbeat off.
    pub enabled: Option<bool>,
    /// Ping every (default 30000).
    pub interval_ms: Option<f64>,
    /// Dead after interval + this without data (default 10000).
    pub timeout_ms: Option<f64>,
    /// Application-level ping payload (instead of a protocol Ping).
    pub app_ping_payload: Option<Either<String, Buffer>>,
    /// The pong is a text equal to this.
    pub app_pong_exact: Option<String>,
    /// The pong is a text containing this.
    pub app_pong_contains: Option<String>,
}

/// Outbox limits.
#[napi(object)]
pub struct OutboxOptions {
    /// Messages (default 1000).
    pub max_messages: Option<f64>,
    /// Bytes (default 1 MiB).
    pub max_bytes: Option<f64>,
}

/// Which closes and handshake statuses end in `failed`.
#[napi(object)]
pub struct TerminalOptions {
    /// Close codes (default [1008]).
    pub close_codes: Option<Vec<f64>>,
    /// Handshake HTTP statuses (default [400, 403, 404]).
    pub statuses: Option<Vec<f64>>,
}

/// permessage-deflate settings; absent fields keep the core's defaults.
#[napi(object)]
pub struct CompressionOptions {
    /// `false`: offer nothing.
    pub enabled: bool,
    /// Our compressor's window in bits; `null`: offer no limit.
    pub client_max_window_bits: Option<Either<f64, Null>>,
    /// The server's window in bits we ask for; `null`: ask for none.
    pub server_max_window_bits: Option<Either<f64, Null>>,
    /// Compress each outgoing message on its own.
    pub client_no_context_takeover: Option<bool>,
    /// Ask the server to compress each message on its own.
    pub server_no_context_takeover: Option<bool>,
}

/// Every client option, already type-checked by the TypeScript layer.
#[napi(object)]
pub struct NativeOptions {
    /// Proxy, pinned certificates, client certificate, fixed addresses (`transport.rs`).
    pub transport: Option<crate::transport::TransportOptions>,
    /// Subprotocols offered in the handshake.
    pub protocols: Option<Vec<String>>,
    /// Static handshake headers as `[name, value]` pairs.
    pub headers: Option<Vec<Vec<String>>>,
    /// TCP + TLS + upgrade limit (default 10000).
    pub connect_timeout_ms: Option<f64>,
    /// Reconnect delay curve.
    pub backoff: Option<BackoffOptions>,
    /// Give up after this many failed attempts (absent: never).
    pub max_retries: Option<f64>,
    /// Give up after this long without a link (absent: never).
    pub max_elapsed_ms: Option<f64>,
    /// Keep-alive settings.
    pub heartbeat: Option<HeartbeatOptions>,
    /// Outbox limits.
    pub outbox: Option<OutboxOptions>,
    /// Handshakes per second per host, process-wide (default 50).
    pub handshake_budget: Option<f64>,
    /// `true` turns the process-wide handshake guard off for this client.
    pub handshake_budget_off: Option<bool>,
    /// Messages sent first on every open.
    pub greeting: Option<Vec<Either<String, Buffer>>>,
    /// Terminal closes and statuses.
    pub terminal: Option<TerminalOptions>,
    /// Largest message in either direction, bytes (default 16 MiB).
    pub max_message_size: Option<f64>,
    /// Extra trusted root CA, PEM.
    pub ca: Option<String>,
    /// Inbound messages buffered for a slow consumer (default 1024).
    pub event_buffer: Option<f64>,
    /// How long a local close waits for the server's close frame (default 2000).
    pub close_timeout_ms: Option<f64>,
    /// A server that selects none of `protocols` fails the client (terminal).
    pub require_protocol: Option<bool>,
    /// permessage-deflate (default: offered with the core's settings).
    pub compression: Option<CompressionOptions>,
}
