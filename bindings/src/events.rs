//! What crosses from the core to the host: events, messages, states, causes.

use crate::bytes::FfiBytes;

/// An outbound or inbound data message.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FfiMessage {
    /// UTF-8 text.
    Text { text: String },
    /// Bytes.
    Binary { data: FfiBytes },
}

/// The client's lifecycle state (docs/contract.md, "States").
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiState {
    Idle,
    Connecting,
    Open,
    Waiting,
    Paused,
    Closing,
    Closed,
    Failed,
}

/// Which side ended a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiInitiator {
    Local,
    Remote,
    Network,
}

/// What kind of trouble an `Error` event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiErrorKind {
    Connect,
    Auth,
    Link,
    Callback,
}

/// The stable kind of a [`FfiCause`] (the core's `Cause::kind()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiCauseKind {
    ConnectFailed,
    ConnectTimeout,
    Tls,
    HandshakeRejected,
    Handshake,
    Auth,
    /// The URL provider failed, panicked or named no `ws://`/`wss://` URL.
    UrlProvider,
    /// The HTTP proxy refused `CONNECT`; `status` holds its HTTP status (401/407: terminal).
    ProxyRejected,
    /// The SOCKS5 proxy refused; `socks_reply` holds its reply code.
    SocksRejected,
    /// The SOCKS5 proxy refused the credentials (terminal).
    ProxyAuth,
    Incompatible,
    Closed,
    HeartbeatTimeout,
    WriteStalled,
    Network,
    Protocol,
    MessageTooLarge,
    NetworkChanged,
    RetriesExhausted,
    ElapsedExhausted,
    Internal,
}

/// Why a link ended or an attempt failed. Flat (uniffi has no recursive types): the fields that
/// do not apply to `kind` are `None`; `last_kind`/`last_description` describe the last failure
/// behind `RetriesExhausted` / `ElapsedExhausted`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiCause {
    pub kind: FfiCauseKind,
    /// Human-readable text, secrets redacted.
    pub description: String,
    /// HTTP status of a rejected handshake, or of a proxy's refusal (`ProxyRejected`).
    pub status: Option<u16>,
    /// `Retry-After` of a rejected handshake, in seconds.
    pub retry_after_secs: Option<f64>,
    /// Close code of a closed link.
    pub close_code: Option<u16>,
    /// Close reason of a closed link.
    pub close_reason: Option<String>,
    /// Attempts made, for `RetriesExhausted`.
    pub attempts: Option<u32>,
    /// Seconds without a link, for `ElapsedExhausted`.
    pub elapsed_secs: Option<f64>,
    /// Kind of the last failure, for the two exhausted kinds.
    pub last_kind: Option<FfiCauseKind>,
    /// Text of the last failure, for the two exhausted kinds.
    pub last_description: Option<String>,
    /// The SOCKS5 reply code, for `SocksRejected` (RFC 1928: 2 not allowed, 5 refused, …).
    pub socks_reply: Option<u8>,
}

/// One event of the client, in order (docs/contract.md, "Events").
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FfiEvent {
    StateChanged {
        state: FfiState,
    },
    Connecting {
        attempt: u32,
    },
    Open {
        attempt: u32,
        protocol: Option<String>,
        /// The negotiated extension, or `None` when uncompressed.
        compression: Option<String>,
        /// `ip:port` the link connected to.
        address: Option<String>,
    },
    Message {
        message: FfiMessage,
    },
    Pong {
        rtt_secs: f64,
    },
    Closed {
        code: u16,
        reason: String,
        initiator: FfiInitiator,
        will_reconnect: bool,
    },
    Reconnecting {
        attempt: u32,
        delay_secs: f64,
        cause: FfiCause,
    },
    Error {
        kind: FfiErrorKind,
        message: String,
    },
    Failed {
        reason: FfiCause,
        unsent: Vec<FfiMessage>,
    },
}

/// What `send` did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FfiSendStatus {
    /// The link is open: the message goes out now.
    Sent,
    /// The link is not open: the message waits in the outbox.
    Queued,
}

/// A batch of events packed for speed: inbound messages under 16 KiB travel as one byte string
/// instead of one typed value each (a typed `FfiEvent` per message costs several allocations on
/// both sides); larger ones, and every other event, as `FfiEvent`s in `others`.
///
/// `data` is a sequence of entries, in event order:
/// - `PACKED_TEXT` (0), length as u32 little-endian, UTF-8 bytes: a text message;
/// - `PACKED_BINARY` (1), length as u32 little-endian, bytes: a binary message;
/// - `PACKED_OTHER` (2): the next event of `others`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiPackedBatch {
    pub data: FfiBytes,
    pub others: Vec<FfiEvent>,
}
