//! Errors returned to the caller of a client method or builder.

use std::time::Duration;

/// Everything a wstether call can refuse, each a distinct variant a binding maps to its own type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL does not parse.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, secrets redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL's scheme is not `ws` or `wss`.
    #[error("unsupported URL scheme {scheme:?}: use ws:// or wss://")]
    InvalidScheme {
        /// The scheme found.
        scheme: String,
    },
    /// A header name or value cannot be sent (CR/LF, non-visible characters).
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option is out of range (zero durations, factor < 1, …).
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option name.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The extra root CA is not valid PEM or holds no certificate.
    #[error("invalid TLS root certificate: {0}")]
    InvalidCertificate(String),
    /// The outbound message exceeds `max_message_size`.
    #[error("message of {size} bytes exceeds max_message_size {max}")]
    MessageTooLarge {
        /// Message size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The outbox is full: the message was not accepted.
    #[error("outbox full ({messages} messages, {bytes} bytes queued)")]
    QueueFull {
        /// Messages queued.
        messages: usize,
        /// Bytes queued.
        bytes: usize,
    },
    /// The close code cannot be sent by a client (use 1000 or 3000–4999).
    #[error("invalid close code {0}: use 1000 or 3000-4999")]
    InvalidCloseCode(u16),
    /// The close reason is longer than 123 bytes.
    #[error("close reason is {0} bytes; the limit is 123")]
    CloseReasonTooLong(usize),
    /// The client was closed: it accepts no more messages or commands.
    #[error("client is closed")]
    Closed,
    /// The client gave up (`Failed`): it accepts no more messages.
    #[error("client has failed and will not reconnect")]
    Failed,
    /// The event stream was already taken by another consumer.
    #[error("the event stream was already taken")]
    EventsTaken,
    /// `close()` did not finish within its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}
