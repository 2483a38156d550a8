//! The one error type every exported function returns.

/// Everything a wstether call can refuse. Struct-like variants (not `flat_error`) so that an
/// error thrown by a foreign callback can be lifted back into Rust without a panic.
/// `description` is the core's message, secrets redacted.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum FfiError {
    /// The URL does not parse.
    #[error("{description}")]
    InvalidUrl {
        url: String,
        reason: String,
        description: String,
    },
    /// The URL's scheme is not `ws` or `wss`.
    #[error("{description}")]
    InvalidScheme { scheme: String, description: String },
    /// A header name or value cannot be sent (CR/LF, non-visible characters).
    #[error("{description}")]
    InvalidHeader {
        name: String,
        reason: String,
        description: String,
    },
    /// An option is out of range (negative or zero duration, factor < 1, …).
    #[error("{description}")]
    InvalidOption {
        option: String,
        reason: String,
        description: String,
    },
    /// The extra root CA is not valid PEM or holds no certificate.
    #[error("{description}")]
    InvalidCertificate { reason: String, description: String },
    /// The outbound message exceeds `max_message_size`.
    #[error("{description}")]
    MessageTooLarge {
        size: u64,
        max: u64,
        description: String,
    },
    /// The outbox is full: the message was not accepted.
    #[error("{description}")]
    QueueFull {
        messages: u64,
        bytes: u64,
        description: String,
    },
    /// The close code cannot be sent by a client (use 1000 or 3000–4999).
    #[error("{description}")]
    InvalidCloseCode { code: u16, description: String },
    /// The close reason is longer than 123 bytes.
    #[error("{description}")]
    CloseReasonTooLong { bytes: u64, description: String },
    /// The client was closed.
    #[error("{description}")]
    Closed { description: String },
    /// The client gave up (`Failed`).
    #[error("{description}")]
    Failed { description: String },
    /// The event stream was already taken.
    #[error("{description}")]
    EventsTaken { description: String },
    /// An operation did not finish in time.
    #[error("{description}")]
    Timeout { seconds: f64, description: String },
    /// A foreign callback (auth or greeting provider) threw; the host layer passes its text.
    #[error("{description}")]
    Callback { description: String },
}

/// A foreign callback threw something uniffi could not map: report it instead of panicking.
impl From<uniffi::UnexpectedUniFFICallbackError> for FfiError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        FfiError::Callback {
            description: format!("callback failed: {}", e.reason),
        }
    }
}
