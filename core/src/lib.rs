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
//! Modules, one concept each: [`machine`] (the state machine: every decision, no I/O), the pure
//! advisers [`backoff`], [`heartbeat`], [`outbox`], [`policy`] and [`budget`], `engine` (what the
//! client's threads share, behind one lock), `driver` (the client's task), `wire` (the message
//! layer), `connect`/`dns`/[`proxy`]/`upgrade`/`tls` (one attempt), [`config`] and [`limits`] (options and their
//! ranges), and what leaves the core: [`event`], [`batch`] (events packed for a host binding),
//! [`error`], [`stats`], [`redact`], [`runtime`], [`time`]. `docs/architecture.md` explains how
//! they fit.
//!
//! Without the default `native` feature the crate is only the pure part: [`machine`] and its
//! advisers, [`event`], [`batch`], [`error`], [`stats`], [`time`], [`limits`] and [`redact`]. That builds for
//! `wasm32-unknown-unknown`, where a driver of another platform does the I/O (the browser's
//! `WebSocket`: the `wstether-web` crate).

#![warn(missing_docs)]

// The pure part: the machine and its advisers, and what leaves the core. No I/O, no clock, no
// randomness: these build for any target, `wasm32-unknown-unknown` included.
pub mod backoff;
pub mod batch;
pub mod budget;
pub mod error;
pub mod event;
pub mod heartbeat;
pub mod limits;
pub mod machine;
pub mod outbox;
pub mod policy;
pub mod redact;
pub mod stats;
pub mod time;

// The native client (feature `native`, on by default): the tokio driver and everything that
// touches a socket.
#[cfg(feature = "native")]
mod client;
#[cfg(feature = "native")]
mod clock;
#[cfg(feature = "native")]
pub mod config;
#[cfg(feature = "native")]
mod connect;
#[cfg(feature = "native")]
mod deflate;
#[cfg(feature = "native")]
pub mod dispatch;
#[cfg(feature = "native")]
mod dns;
#[cfg(feature = "native")]
mod driver;
#[cfg(feature = "native")]
mod engine;
#[cfg(feature = "native")]
pub mod probe;
#[cfg(feature = "native")]
pub mod proxy;
#[cfg(feature = "native")]
pub mod runtime;
#[cfg(feature = "native")]
mod tls;
#[cfg(feature = "native")]
mod upgrade;
#[cfg(all(feature = "native", unix))]
mod watched;
#[cfg(feature = "native")]
mod wire;

pub use backoff::Backoff;
#[cfg(feature = "native")]
pub use client::{Client, ClientBuilder, Events, SendStatus};
#[cfg(feature = "native")]
pub use config::{
    AuthFuture, AuthProvider, AuthRequest, AuthResult, Config, Greeting, GreetingFuture, Headers,
    UrlFuture, UrlProvider, UrlResult,
};
#[cfg(feature = "native")]
pub use deflate::Compression;
pub use error::Error;
pub use event::{CallbackFailure, Cause, ErrorKind, Event, Initiator, Message, State, Utf8Bytes};
pub use heartbeat::{AppPing, Heartbeat, PongMatch};
pub use outbox::OutboxLimits;
pub use policy::TerminalPolicy;
#[cfg(feature = "native")]
pub use proxy::Proxy;
pub use stats::{CloseInfo, Stats, Transition};

/// Re-exported so users can name payload types without another dependency.
pub use bytes::Bytes;
