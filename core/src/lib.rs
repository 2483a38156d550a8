//! # wstether — a WebSocket client that stays connected
//!
//! One supervisor task per client owns the socket and makes every decision: reconnect with
//! jittered exponential backoff, detect dead links with a heartbeat, honour `Retry-After`,
//! refresh credentials, queue messages while disconnected and hand back what was never sent.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wstether::Error> {
//! use std::time::Duration;
//! use wstether::{Client, Event};
//!
//! let client = Client::builder("wss://echo.example/ws")
//!     .header("X-Client", "demo")
//!     .build()?;
//! let mut events = client.events()?;
//! client.connect()?;
//! client.send_text("hello")?; // queued until open, then sent in order
//! while let Some(event) = events.next().await {
//!     match event {
//!         Event::Message(m) => println!("got {m:?}"),
//!         Event::Reconnecting { delay, cause, .. } => println!("retry in {delay:?}: {cause}"),
//!         Event::Failed { reason, unsent } => { println!("gave up: {reason}; {} unsent", unsent.len()); break }
//!         _ => {}
//!     }
//! #   break;
//! }
//! let unsent = client.close(1000, "bye").await?;
//! # let _ = (unsent, Duration::ZERO);
//! # Ok(()) }
//! ```
//!
//! Modules, one concept each: [`config`] (builder, defaults, validation), [`backoff`],
//! [`heartbeat`], [`outbox`], [`policy`], `budget`, `connect`, `supervisor` (the state machine),
//! [`event`], [`error`], [`stats`], [`redact`], [`runtime`].

#![warn(missing_docs)]

pub mod backoff;
mod budget;
mod client;
pub mod config;
mod connect;
mod deflate;
mod driver;
pub mod error;
pub mod event;
pub mod heartbeat;
mod link;
mod machine;
pub mod outbox;
pub mod policy;
pub mod probe;
pub mod redact;
pub mod runtime;
mod socket;
pub mod stats;
pub mod time;
mod upgrade;

pub use backoff::Backoff;
pub use client::{Client, Events, SendStatus};
pub use config::{
    AuthFuture, AuthProvider, AuthRequest, AuthResult, ClientBuilder, Config, Greeting,
    GreetingFuture, Headers,
};
pub use deflate::Compression;
pub use error::Error;
pub use event::{Cause, ErrorKind, Event, Initiator, Message, State, Utf8Bytes};
pub use heartbeat::{AppPing, Heartbeat, PongMatch};
pub use outbox::OutboxLimits;
pub use policy::TerminalPolicy;
pub use stats::{CloseInfo, Stats, Transition};

/// Re-exported so users can name payload types without another dependency.
pub use bytes::Bytes;
