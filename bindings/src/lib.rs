//! # wstether-ffi — the uniffi glue between the wstether core and Kotlin / Swift
//!
//! Thin on purpose: it converts types and moves events across; every decision (reconnect,
//! heartbeat, outbox, budget) stays in the core. Three layers:
//! the core (`../core`), this glue (`src/`), and the hand-written host layers in
//! `mobile/kotlin` and `mobile/swift` over the code uniffi generates from this crate.
//!
//! Events cross in batches, one FFI crossing per batch: either on the process's shared worker
//! threads ([`FfiClient::start_dispatch`], [`FfiWorker`]; what the Kotlin layer does), or on one
//! host thread per client calling the blocking [`FfiClient::next_batch`] (the Swift layer).

mod auth;
mod bytes;
mod client;
mod convert;
mod dispatch;
mod errors;
mod events;
mod options;
mod stats;
mod transport;

pub use auth::{AuthProvider, GreetingProvider};
pub use bytes::FfiBytes;
pub use client::FfiClient;
pub use dispatch::{dispatch_shutdown, dispatch_watch, FfiPackedWork, FfiWorker};
pub use errors::FfiError;
pub use events::{
    FfiCause, FfiCauseKind, FfiErrorKind, FfiEvent, FfiInitiator, FfiMessage, FfiPackedBatch,
    FfiSendStatus, FfiState,
};
pub use options::{
    callback_failure, default_options, option_limits, redacted_header_value, redacted_url,
    FfiAppPing, FfiAuthRequest, FfiBackoff, FfiCallbackFailure, FfiCompression, FfiHeader,
    FfiHeartbeat, FfiLimits, FfiOptions, FfiPongMatch,
};
pub use stats::{FfiCloseInfo, FfiStats, FfiTransition};
pub use transport::{FfiProxy, FfiResolve, FfiTransport, UrlProvider};

uniffi::setup_scaffolding!();
