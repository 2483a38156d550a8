//! Counters and the flight recorder, as records.

use crate::events::FfiState;

/// Code and reason of a link's end.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiCloseInfo {
    pub code: u16,
    pub reason: String,
}

/// A snapshot of the client's counters (`Client::stats()`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiStats {
    pub attempts: u64,
    pub opens: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub queued_messages: u64,
    pub queued_bytes: u64,
    pub last_rtt_secs: Option<f64>,
    pub last_close: Option<FfiCloseInfo>,
    pub time_connected_secs: f64,
    pub time_disconnected_secs: f64,
    /// `ip:port` the last link's TCP connection reached (the proxy's through a proxy).
    pub address: Option<String>,
}

/// One state change of the flight recorder (`Client::history()`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiTransition {
    /// Milliseconds since the Unix epoch.
    pub at_unix_ms: i64,
    pub from: FfiState,
    pub to: FfiState,
    pub cause: String,
}
