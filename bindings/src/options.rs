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

/// The reconnect delay curve (docs/contract.md, `backoff`).
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

/// permessage-deflate (RFC 7692). The core checks the window ranges (see [`FfiLimits`]).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiCompression {
    /// Offer it at all.
    pub enabled: bool,
    /// Our compressor's window in bits, offered as a hint; `None` offers no limit.
    pub client_max_window_bits: Option<u8>,
    /// Ask the server to compress with at most this window; `None` lets it choose.
    pub server_max_window_bits: Option<u8>,
    /// Compress each outgoing message on its own.
    pub client_no_context_takeover: bool,
    /// Ask the server to compress each message on its own.
    pub server_no_context_takeover: bool,
}

/// Every option of docs/contract.md "Options and defaults" except the URL and the providers.
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
    /// A server that selects none of `protocols` fails the client (terminal `Incompatible`).
    pub require_protocol: bool,
    /// permessage-deflate, offered by default.
    pub compression: FfiCompression,
    /// Proxy, pinned certificates, client certificate, fixed addresses (`transport.rs`).
    pub transport: crate::transport::FfiTransport,
}

/// What the auth provider is told about the attempt it is called for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct FfiAuthRequest {
    /// Attempt number since the last stable link, from 1.
    pub attempt: u32,
    /// The previous attempt was rejected with 401: return fresh credentials.
    pub after_unauthorized: bool,
}

/// The core's defaults, so host layers never restate a number from docs/contract.md.
#[uniffi::export]
pub fn default_options() -> FfiOptions {
    crate::convert::default_options()
}

/// The largest value each option accepts (the core's limits); larger values are refused with
/// `InvalidOption` naming the limit when the client is built.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiLimits {
    /// Every duration option, in seconds (365 days).
    pub max_duration_secs: f64,
    pub max_message_size: u64,
    pub max_outbox_messages: u64,
    pub max_outbox_bytes: u64,
    pub max_event_buffer: u64,
    pub max_handshake_budget: u32,
    pub max_retries: u32,
    /// Largest compression window in either direction, in bits.
    pub max_window_bits: u8,
    /// Smallest `client_max_window_bits`.
    pub min_client_window_bits: u8,
    /// Smallest `server_max_window_bits`.
    pub min_server_window_bits: u8,
}

/// The core's limits, so host layers never restate one.
#[uniffi::export]
pub fn option_limits() -> FfiLimits {
    use wstether::limits;
    FfiLimits {
        max_duration_secs: limits::MAX_DURATION.as_secs_f64(),
        max_message_size: limits::MAX_MESSAGE_SIZE as u64,
        max_outbox_messages: limits::MAX_OUTBOX_MESSAGES as u64,
        max_outbox_bytes: limits::MAX_OUTBOX_BYTES as u64,
        max_event_buffer: limits::MAX_EVENT_BUFFER as u64,
        max_handshake_budget: limits::MAX_HANDSHAKE_BUDGET,
        max_retries: limits::MAX_RETRIES,
        max_window_bits: limits::MAX_WINDOW_BITS,
        min_client_window_bits: limits::MIN_CLIENT_WINDOW_BITS,
        min_server_window_bits: limits::MIN_SERVER_WINDOW_BITS,
    }
}

/// What a host does about an exception thrown by an app callback (the core's rule, the
/// `callback-error` scenario of tests/README.md): log `message`, then deliver `report`, if any,
/// to every consumer right after the event being handled.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiCallbackFailure {
    /// What to log, e.g. `listener raised java.lang.IllegalStateException: boom`.
    pub message: String,
    /// The `Error(Callback)` event to deliver; `None` when the callback was handling an `Error`.
    pub report: Option<crate::events::FfiEvent>,
}

/// `callback` raised `exception` (as the host prints it) while handling an `Error` event or not.
#[uniffi::export]
pub fn callback_failure(
    callback: String,
    exception: String,
    handling_error: bool,
) -> FfiCallbackFailure {
    let failure = wstether::CallbackFailure::new(&callback, &exception, handling_error);
    FfiCallbackFailure {
        message: failure.message,
        report: failure.report.map(crate::convert::event),
    }
}

/// A header value as it may be shown (`toString`, `description`): the core's redaction, so
/// credentials (`Authorization`, `Cookie`, `*token*`, …) never reach a log.
#[uniffi::export]
pub fn redacted_header_value(name: String, value: String) -> String {
    wstether::redact::header_value(&name, &value).to_string()
}

/// A URL as it may be shown: password and token-like query values hidden (unparsable text
/// keeps only what precedes any query or userinfo).
#[uniffi::export]
pub fn redacted_url(url: String) -> String {
    wstether::redact::url_text(&url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FfiClient, FfiError};

    fn refused(options: FfiOptions) -> (String, String) {
        match FfiClient::new("ws://127.0.0.1:9/".into(), options, None, None) {
            Err(FfiError::InvalidOption { option, reason, .. }) => (option, reason),
            Err(other) => panic!("expected InvalidOption, got {other:?}"),
            Ok(_) => panic!("expected InvalidOption, got a client"),
        }
    }

    #[test]
    fn every_duration_and_size_over_its_limit_is_refused_naming_it() {
        let limits = option_limits();
        let days = "must be at most 365 days".to_string();
        for secs in [1e19, f64::INFINITY, limits.max_duration_secs + 1.0] {
            let mut o = default_options();
            o.close_timeout_secs = secs;
            assert_eq!(refused(o), ("close_timeout".into(), days.clone()));
            let mut o = default_options();
            o.heartbeat = Some(FfiHeartbeat {
                interval_secs: secs,
                timeout_secs: secs,
                app_ping: None,
            });
            assert_eq!(refused(o), ("heartbeat.interval".into(), days.clone()));
            let mut o = default_options();
            o.backoff.stable_after_secs = secs;
            assert_eq!(refused(o), ("backoff.stable_after".into(), days.clone()));
            let mut o = default_options();
            o.max_elapsed_secs = Some(secs);
            assert_eq!(refused(o), ("max_elapsed".into(), days.clone()));
        }
        let at_most = |n: u64| format!("must be at most {n}");
        let mut o = default_options();
        o.event_buffer = u64::MAX;
        assert_eq!(
            refused(o),
            ("event_buffer".into(), at_most(limits.max_event_buffer))
        );
        let mut o = default_options();
        o.max_message_size = u64::MAX;
        assert_eq!(
            refused(o),
            ("max_message_size".into(), at_most(limits.max_message_size))
        );
        let mut o = default_options();
        o.outbox_max_messages = u64::MAX;
        assert_eq!(
            refused(o),
            (
                "outbox.max_messages".into(),
                at_most(limits.max_outbox_messages)
            )
        );
        let mut o = default_options();
        o.max_retries = Some(u32::MAX);
        assert_eq!(
            refused(o),
            ("max_retries".into(), at_most(limits.max_retries.into()))
        );
        let mut o = default_options();
        o.handshake_budget = Some(u32::MAX);
        assert_eq!(
            refused(o),
            (
                "handshake_budget".into(),
                at_most(limits.max_handshake_budget.into())
            )
        );
    }

    #[test]
    fn callback_failures_follow_the_cores_rule() {
        let reported = callback_failure("listener".into(), "E: boom".into(), false);
        assert_eq!(reported.message, "listener raised E: boom");
        assert!(matches!(
            reported.report,
            Some(crate::FfiEvent::Error {
                kind: crate::FfiErrorKind::Callback,
                ..
            })
        ));
        assert_eq!(
            callback_failure("listener".into(), "E".into(), true).report,
            None
        );
    }

    #[test]
    fn compression_defaults_and_range_are_the_cores() {
        let o = default_options();
        let core = wstether::Compression::default();
        assert_eq!(o.compression.enabled, core.enabled);
        assert_eq!(
            o.compression.client_max_window_bits,
            core.client_max_window_bits
        );
        assert!(!o.require_protocol);
        let mut bad = default_options();
        bad.compression.server_max_window_bits = Some(option_limits().max_window_bits + 1);
        assert_eq!(refused(bad).0, "compression.server_max_window_bits");
    }

    #[test]
    fn redaction_helpers_are_the_cores() {
        assert_eq!(
            redacted_header_value("Authorization".into(), "Bearer x".into()),
            wstether::redact::REDACTED
        );
        assert_eq!(redacted_header_value("X-Id".into(), "7".into()), "7");
        let shown = redacted_url("wss://u:hunter2@h/?token=abc&room=1".into());
        assert!(
            !shown.contains("hunter2") && !shown.contains("abc"),
            "{shown}"
        );
        assert!(shown.contains("room=1"), "{shown}");
    }
}
