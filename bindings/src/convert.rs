//! Every conversion between the core's types and the exported ones, in one place.

use std::time::{Duration, UNIX_EPOCH};

use wstether::batch::Batch;
use wstether::config::duration_from_secs;
use wstether::{
    AppPing, Backoff, Cause, ClientBuilder, Error, ErrorKind, Event, Heartbeat, Initiator, Message,
    OutboxLimits, PongMatch, SendStatus, State, Stats, TerminalPolicy, Transition,
};

use crate::bytes::FfiBytes;
use crate::errors::FfiError;
use crate::events::{
    FfiCause, FfiCauseKind, FfiErrorKind, FfiEvent, FfiInitiator, FfiMessage, FfiPackedBatch,
    FfiSendStatus, FfiState,
};
use crate::options::{
    FfiAppPing, FfiBackoff, FfiCompression, FfiHeader, FfiHeartbeat, FfiOptions, FfiPongMatch,
};
use crate::stats::{FfiCloseInfo, FfiStats, FfiTransition};

// ---- errors ----

/// The core's error as the exported one (message text from the core, secrets redacted).
pub(crate) fn error(e: Error) -> FfiError {
    let description = e.to_string();
    match e {
        Error::InvalidUrl { url, reason } => FfiError::InvalidUrl {
            url,
            reason,
            description,
        },
        Error::InvalidScheme { scheme } => FfiError::InvalidScheme {
            scheme,
            description,
        },
        Error::InvalidHeader { name, reason } => FfiError::InvalidHeader {
            name,
            reason,
            description,
        },
        Error::InvalidOption { option, reason } => FfiError::InvalidOption {
            option: option.to_string(),
            reason,
            description,
        },
        Error::InvalidCertificate(reason) => FfiError::InvalidCertificate {
            reason,
            description,
        },
        Error::MessageTooLarge { size, max } => FfiError::MessageTooLarge {
            size: size as u64,
            max: max as u64,
            description,
        },
        Error::QueueFull { messages, bytes } => FfiError::QueueFull {
            messages: messages as u64,
            bytes: bytes as u64,
            description,
        },
        Error::InvalidCloseCode(code) => FfiError::InvalidCloseCode { code, description },
        Error::CloseReasonTooLong(bytes) => FfiError::CloseReasonTooLong {
            bytes: bytes as u64,
            description,
        },
        Error::Closed => FfiError::Closed { description },
        Error::Failed => FfiError::Failed { description },
        Error::EventsTaken => FfiError::EventsTaken { description },
        Error::Timeout(d) => FfiError::Timeout {
            seconds: d.as_secs_f64(),
            description,
        },
        // The core's enum is non_exhaustive: a future variant still arrives typed and described.
        _ => FfiError::InvalidOption {
            option: "unknown".into(),
            reason: description.clone(),
            description,
        },
    }
}

// ---- options ----

fn secs(option: &'static str, value: f64) -> Result<Duration, FfiError> {
    duration_from_secs(option, value).map_err(error)
}

/// A size from the host (`u64`): what a `usize` cannot hold saturates, so the core's `build()`
/// refuses it naming the option's limit.
fn size(value: u64) -> usize {
    wstether::limits::saturating_usize(value)
}

/// A builder carrying every option; the core validates the values in `build()`.
pub(crate) fn builder(url: String, o: FfiOptions) -> Result<ClientBuilder, FfiError> {
    let backoff = Backoff {
        initial: secs("backoff.initial", o.backoff.initial_secs)?,
        max: secs("backoff.max", o.backoff.max_secs)?,
        factor: o.backoff.factor,
        jitter: o.backoff.jitter,
        stable_after: secs("backoff.stable_after", o.backoff.stable_after_secs)?,
    };
    let heartbeat = match o.heartbeat {
        None => None,
        Some(hb) => Some(Heartbeat {
            interval: secs("heartbeat.interval", hb.interval_secs)?,
            timeout: secs("heartbeat.timeout", hb.timeout_secs)?,
            app_ping: hb.app_ping.map(|p| AppPing {
                payload: message_in(p.payload),
                pong: match p.pong {
                    FfiPongMatch::Exact { text } => PongMatch::Exact(text),
                    FfiPongMatch::Contains { text } => PongMatch::Contains(text),
                },
            }),
        }),
    };
    let max_elapsed = match o.max_elapsed_secs {
        None => None,
        Some(s) => Some(secs("max_elapsed", s)?),
    };
    let mut b = wstether::Client::builder(url)
        .protocols(o.protocols)
        .connect_timeout(secs("connect_timeout", o.connect_timeout_secs)?)
        .backoff(backoff)
        .max_retries(o.max_retries)
        .max_elapsed(max_elapsed)
        .heartbeat(heartbeat)
        .outbox(OutboxLimits {
            max_messages: size(o.outbox_max_messages),
            max_bytes: size(o.outbox_max_bytes),
        })
        .handshake_budget(o.handshake_budget)
        .terminal(TerminalPolicy {
            close_codes: o.terminal_close_codes,
            statuses: o.terminal_statuses,
        })
        .max_message_size(size(o.max_message_size))
        .event_buffer(size(o.event_buffer))
        .close_timeout(secs("close_timeout", o.close_timeout_secs)?)
        .require_protocol(o.require_protocol)
        .compression(wstether::Compression {
            enabled: o.compression.enabled,
            client_max_window_bits: o.compression.client_max_window_bits,
            server_max_window_bits: o.compression.server_max_window_bits,
            client_no_context_takeover: o.compression.client_no_context_takeover,
            server_no_context_takeover: o.compression.server_no_context_takeover,
            ..wstether::Compression::default()
        });
    for FfiHeader { name, value } in o.headers {
        b = b.header(name, value);
    }
    if !o.greeting.is_empty() {
        b = b.greeting(o.greeting.into_iter().map(message_in).collect());
    }
    if let Some(pem) = o.root_certificate_pem {
        b = b.add_root_certificate_pem(pem);
    }
    crate::transport::apply(b, o.transport)
}

/// The core's defaults as an options record.
pub(crate) fn default_options() -> FfiOptions {
    let backoff = Backoff::default();
    let hb = Heartbeat::default();
    let outbox = OutboxLimits::default();
    let terminal = TerminalPolicy::default();
    let compression = wstether::Compression::default();
    FfiOptions {
        protocols: Vec::new(),
        headers: Vec::new(),
        connect_timeout_secs: wstether::config::DEFAULT_CONNECT_TIMEOUT.as_secs_f64(),
        backoff: FfiBackoff {
            initial_secs: backoff.initial.as_secs_f64(),
            max_secs: backoff.max.as_secs_f64(),
            factor: backoff.factor,
            jitter: backoff.jitter,
            stable_after_secs: backoff.stable_after.as_secs_f64(),
        },
        max_retries: None,
        max_elapsed_secs: None,
        heartbeat: Some(FfiHeartbeat {
            interval_secs: hb.interval.as_secs_f64(),
            timeout_secs: hb.timeout.as_secs_f64(),
            app_ping: hb.app_ping.map(|p| FfiAppPing {
                payload: message_out(p.payload),
                pong: match p.pong {
                    PongMatch::Exact(text) => FfiPongMatch::Exact { text },
                    PongMatch::Contains(text) => FfiPongMatch::Contains { text },
                },
            }),
        }),
        outbox_max_messages: outbox.max_messages as u64,
        outbox_max_bytes: outbox.max_bytes as u64,
        handshake_budget: Some(wstether::config::DEFAULT_HANDSHAKE_BUDGET),
        greeting: Vec::new(),
        terminal_close_codes: terminal.close_codes,
        terminal_statuses: terminal.statuses,
        max_message_size: wstether::config::DEFAULT_MAX_MESSAGE_SIZE as u64,
        root_certificate_pem: None,
        event_buffer: wstether::config::DEFAULT_EVENT_BUFFER as u64,
        close_timeout_secs: wstether::config::DEFAULT_CLOSE_TIMEOUT.as_secs_f64(),
        require_protocol: false,
        compression: FfiCompression {
            enabled: compression.enabled,
            client_max_window_bits: compression.client_max_window_bits,
            server_max_window_bits: compression.server_max_window_bits,
            client_no_context_takeover: compression.client_no_context_takeover,
            server_no_context_takeover: compression.server_no_context_takeover,
        },
        transport: crate::transport::defaults(),
    }
}

// ---- messages and events ----

/// A host message into the core.
pub(crate) fn message_in(m: FfiMessage) -> Message {
    match m {
        FfiMessage::Text { text } => Message::text(text),
        FfiMessage::Binary { data } => Message::binary(data.0),
    }
}

/// A core message out to the host.
pub(crate) fn message_out(m: Message) -> FfiMessage {
    match m {
        Message::Text(t) => FfiMessage::Text {
            text: t.as_str().to_owned(),
        },
        Message::Binary(b) => FfiMessage::Binary {
            data: FfiBytes(b.to_vec()),
        },
    }
}

pub(crate) fn send_status(r: Result<SendStatus, Error>) -> Result<FfiSendStatus, FfiError> {
    match r {
        Ok(SendStatus::Sent) => Ok(FfiSendStatus::Sent),
        Ok(SendStatus::Queued) => Ok(FfiSendStatus::Queued),
        Err(e) => Err(error(e)),
    }
}

pub(crate) fn state(s: State) -> FfiState {
    match s {
        State::Idle => FfiState::Idle,
        State::Connecting => FfiState::Connecting,
        State::Open => FfiState::Open,
        State::Waiting => FfiState::Waiting,
        State::Paused => FfiState::Paused,
        State::Closing => FfiState::Closing,
        State::Closed => FfiState::Closed,
        State::Failed => FfiState::Failed,
    }
}

fn initiator(i: Initiator) -> FfiInitiator {
    match i {
        Initiator::Local => FfiInitiator::Local,
        Initiator::Remote => FfiInitiator::Remote,
        Initiator::Network => FfiInitiator::Network,
    }
}

fn error_kind(k: ErrorKind) -> FfiErrorKind {
    match k {
        ErrorKind::Connect => FfiErrorKind::Connect,
        ErrorKind::Auth => FfiErrorKind::Auth,
        ErrorKind::Link => FfiErrorKind::Link,
        ErrorKind::Callback => FfiErrorKind::Callback,
    }
}

fn cause_kind(c: &Cause) -> FfiCauseKind {
    match c {
        Cause::ConnectFailed(_) => FfiCauseKind::ConnectFailed,
        Cause::ConnectTimeout => FfiCauseKind::ConnectTimeout,
        Cause::Tls(_) => FfiCauseKind::Tls,
        Cause::HandshakeRejected { .. } => FfiCauseKind::HandshakeRejected,
        Cause::Handshake(_) => FfiCauseKind::Handshake,
        Cause::Auth(_) => FfiCauseKind::Auth,
        Cause::UrlProvider(_) => FfiCauseKind::UrlProvider,
        Cause::ProxyRejected { .. } => FfiCauseKind::ProxyRejected,
        Cause::SocksRejected { .. } => FfiCauseKind::SocksRejected,
        Cause::ProxyAuth(_) => FfiCauseKind::ProxyAuth,
        Cause::Incompatible(_) => FfiCauseKind::Incompatible,
        Cause::Closed { .. } => FfiCauseKind::Closed,
        Cause::HeartbeatTimeout => FfiCauseKind::HeartbeatTimeout,
        Cause::WriteStalled => FfiCauseKind::WriteStalled,
        Cause::Network(_) => FfiCauseKind::Network,
        Cause::Protocol(_) => FfiCauseKind::Protocol,
        Cause::MessageTooLarge => FfiCauseKind::MessageTooLarge,
        Cause::NetworkChanged => FfiCauseKind::NetworkChanged,
        Cause::RetriesExhausted { .. } => FfiCauseKind::RetriesExhausted,
        Cause::ElapsedExhausted { .. } => FfiCauseKind::ElapsedExhausted,
        Cause::Internal(_) => FfiCauseKind::Internal,
    }
}

pub(crate) fn cause(c: Cause) -> FfiCause {
    let mut out = FfiCause {
        kind: cause_kind(&c),
        description: c.to_string(),
        status: None,
        retry_after_secs: None,
        close_code: None,
        close_reason: None,
        attempts: None,
        elapsed_secs: None,
        last_kind: None,
        last_description: None,
        socks_reply: None,
    };
    match c {
        Cause::HandshakeRejected {
            status,
            retry_after,
        } => {
            out.status = Some(status);
            out.retry_after_secs = retry_after.map(|d| d.as_secs_f64());
        }
        Cause::ProxyRejected { status } => out.status = Some(status),
        Cause::SocksRejected { reply } => out.socks_reply = Some(reply),
        Cause::Closed { code, reason } => {
            out.close_code = Some(code);
            out.close_reason = Some(reason);
        }
        Cause::RetriesExhausted { attempts, last } => {
            out.attempts = Some(attempts);
            out.last_kind = Some(cause_kind(&last));
            out.last_description = Some(last.to_string());
        }
        Cause::ElapsedExhausted { elapsed, last } => {
            out.elapsed_secs = Some(elapsed.as_secs_f64());
            out.last_kind = Some(cause_kind(&last));
            out.last_description = Some(last.to_string());
        }
        _ => {}
    }
    out
}

pub(crate) fn event(e: Event) -> FfiEvent {
    match e {
        Event::StateChanged { state: s } => FfiEvent::StateChanged { state: state(s) },
        Event::Connecting { attempt } => FfiEvent::Connecting { attempt },
        Event::Open {
            attempt,
            protocol,
            compression,
            address,
        } => FfiEvent::Open {
            attempt,
            protocol,
            compression,
            address: address.map(|a| a.to_string()),
        },
        Event::Message(m) => FfiEvent::Message {
            message: message_out(m),
        },
        Event::Pong { rtt } => FfiEvent::Pong {
            rtt_secs: rtt.as_secs_f64(),
        },
        Event::Closed {
            code,
            reason,
            initiator: i,
            will_reconnect,
        } => FfiEvent::Closed {
            code,
            reason,
            initiator: initiator(i),
            will_reconnect,
        },
        Event::Reconnecting {
            attempt,
            delay,
            cause: c,
        } => FfiEvent::Reconnecting {
            attempt,
            delay_secs: delay.as_secs_f64(),
            cause: cause(c),
        },
        Event::Error { kind, message } => FfiEvent::Error {
            kind: error_kind(kind),
            message,
        },
        Event::Failed { reason, unsent } => FfiEvent::Failed {
            reason: cause(reason),
            unsent: unsent.into_iter().map(message_out).collect(),
        },
    }
}

/// A batch as it crosses: the core's packed entries as they are (its `batch` module's form,
/// which [`FfiPackedBatch`] documents), the other events converted.
pub(crate) fn packed(batch: Batch) -> FfiPackedBatch {
    let (data, others) = batch.into_parts();
    FfiPackedBatch {
        data: FfiBytes(data),
        others: others.into_iter().map(event).collect(),
    }
}

// ---- stats ----

pub(crate) fn stats(s: Stats) -> FfiStats {
    FfiStats {
        attempts: s.attempts,
        opens: s.opens,
        messages_in: s.messages_in,
        messages_out: s.messages_out,
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
        queued_messages: s.queued_messages as u64,
        queued_bytes: s.queued_bytes as u64,
        last_rtt_secs: s.last_rtt.map(|d| d.as_secs_f64()),
        last_close: s.last_close.map(|c| FfiCloseInfo {
            code: c.code,
            reason: c.reason,
        }),
        time_connected_secs: s.time_connected.as_secs_f64(),
        time_disconnected_secs: s.time_disconnected.as_secs_f64(),
        address: s.address.map(|a| a.to_string()),
    }
}

pub(crate) fn transition(t: Transition) -> FfiTransition {
    let at_unix_ms =
        t.at.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
    FfiTransition {
        at_unix_ms,
        from: state(t.from),
        to: state(t.to),
        cause: t.cause,
    }
}
