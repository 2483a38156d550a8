//! # wstether — a WebSocket client that stays connected
//!
//! A pure state machine per client makes every decision, and a small driver performs them: reconnect with
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
//! Modules, one concept each: `machine` (the state machine: every decision, no I/O), the pure
//! advisers [`backoff`], [`heartbeat`], [`outbox`], [`policy`] and `budget`, `engine` (what the
//! client's threads share, behind one lock), `driver` (the client's task), `wire` (the message
//! layer), `connect`/`dns`/[`proxy`]/`upgrade`/`tls` (one attempt), [`config`] and [`limits`] (options and their
//! ranges), and what leaves the core: [`event`], [`error`], [`stats`], [`redact`], [`runtime`],
//! [`time`]. `docs/architecture.md` explains how they fit.

#![warn(missing_docs)]

pub mod backoff;
mod budget;
mod client;
mod clock;
pub mod config;
mod connect;
mod deflate;
pub mod dispatch;
mod dns;
mod driver;
mod engine;
pub mod error;
pub mod event;
pub mod heartbeat;
pub mod limits;
mod machine;
pub mod outbox;
pub mod policy;
pub mod probe;
pub mod proxy;
pub mod redact;
pub mod runtime;
pub mod stats;
pub mod time;
mod tls;
mod upgrade;
mod wire;

pub use backoff::Backoff;
pub use client::{Client, ClientBuilder, Events, SendStatus};
pub use config::{
    AuthFuture, AuthProvider, AuthRequest, AuthResult, Config, Greeting, GreetingFuture, Headers,
    UrlFuture, UrlProvider, UrlResult,
};
pub use deflate::Compression;
pub use error::Error;
pub use event::{CallbackFailure, Cause, ErrorKind, Event, Initiator, Message, State, Utf8Bytes};
pub use heartbeat::{AppPing, Heartbeat, PongMatch};
pub use outbox::OutboxLimits;
pub use policy::TerminalPolicy;
pub use proxy::Proxy;
pub use stats::{CloseInfo, Stats, Transition};

/// Re-exported so users can name payload types without another dependency.
pub use bytes::Bytes;
