//! Client options as one record. Durations are seconds as `f64` (Swift's `TimeInterval`;
//! Kotlin's layer converts `kotlin.time.Duration`) so that a negative or NaN value reaches the
//! core's validation and comes back as a typed `InvalidOption`, never a host-side crash.

use crate::events::FfiMessage;

/// One handshake header.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiHeader {
    pub name: String,
    pub value: String,
}

/// The reconnect delay curve (SPEC "backoff").
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiBackoff {
    pub initial_secs: f64,
    pub max_secs: f64,
    pub factor: f64,
    /// 0.0–1.0: fraction of each delay randomised away.
    pub jitter: f64,
    pub stable_after_secs: f64,
}

/// How an application-level pong is recognised.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FfiPongMatch {
    Exact { text: String },
    Contains { text: String },
}

/// An application-level ping and its answer.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiAppPing {
    pub payload: FfiMessage,
    pub pong: FfiPongMatch,
}

/// Keep-alive settings.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiHeartbeat {
    pub interval_secs: f64,
    pub timeout_secs: f64,
    pub app_ping: Option<FfiAppPing>,
}

/// Every option of SPEC.md "Configuration and defaults" except the URL and the providers.
/// Start from [`default_options`] so the defaults stay in the core.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiOptions {
    pub protocols: Vec<String>,
    pub headers: Vec<FfiHeader>,
    pub connect_timeout_secs: f64,
    pub backoff: FfiBackoff,
    /// `None`: never give up on attempts.
    pub max_retries: Option<u32>,
    /// `None`: never give up on time.
    pub max_elapsed_secs: Option<f64>,
    /// `None`: no heartbeat (not advised).
    pub heartbeat: Option<FfiHeartbeat>,
    pub outbox_max_messages: u64,
    pub outbox_max_bytes: u64,
    /// Handshakes per second per host, process-wide; `None` turns the guard off.
    pub handshake_budget: Option<u32>,
    /// Sent first on every open (ignored when a greeting provider is given).
    pub greeting: Vec<FfiMessage>,
    pub terminal_close_codes: Vec<u16>,
    pub terminal_statuses: Vec<u16>,
    pub max_message_size: u64,
    /// An extra trusted root CA, PEM.
    pub root_certificate_pem: Option<String>,
    /// Inbound messages buffered for a slow consumer before reading stops.
    pub event_buffer: u64,
    pub close_timeout_secs: f64,
}

/// What the auth provider is told about the attempt it is called for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct FfiAuthRequest {
    /// Attempt number since the last stable link, from 1.
    pub attempt: u32,
    /// The previous attempt was rejected with 401: return fresh credentials.
    pub after_unauthorized: bool,
}

/// The core's defaults, so host layers never restate a number from SPEC.md.
#[uniffi::export]
pub fn default_options() -> FfiOptions {
    crate::convert::default_options()
}
