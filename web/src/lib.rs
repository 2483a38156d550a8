//! # wstether-web — the wstether client in the browser
//!
//! The core's pure [`Machine`](wstether::machine::Machine) makes every decision it makes
//! natively (backoff with jitter, `stable_after`, retry limits, 1013, the handshake budget, the
//! outbox and its accounting, the greeting, pause/resume, `reconnect_now`, `history()`,
//! `stats()`); this crate is its driver over the browser's own `WebSocket`, which does TCP, TLS
//! and framing. Time is `performance.now()`, the one timer is a `setTimeout` at the next
//! deadline, jitter is seeded from `crypto.getRandomValues`.
//!
//! Files, one concept each: `client` (the exported `WebClient` class, thin), `driver` (the
//! socket, the timer, and the machine's actions performed), `options` (the options object from
//! JavaScript, checked with the core's limits), `convert` (events, causes and stats to
//! JavaScript values), `errors` (the core's errors as JavaScript errors with a stable `code`),
//! `url` (URLs checked with the browser's own parser, by the core's rules), `js` (the few browser
//! functions used), `defaults` (the option defaults, the core's).
//!
//! The JavaScript API users see is `node/lib/browser.ts` (the npm package's `browser` entry).
//! On anything but `wasm32` the crate is empty.

pub mod defaults;

#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod convert;
#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
mod errors;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod options;
#[cfg(target_arch = "wasm32")]
mod url;

#[cfg(target_arch = "wasm32")]
pub use client::WebClient;
