//! Node.js bindings for wstether. Thin glue only: the Rust core decides everything, this crate
//! converts options and values (`convert`) and moves event batches to the JS thread (`pump`).
//! The typed public API is the hand-written TypeScript in `lib/`.

mod auth;
mod callback;
mod client;
mod convert;
mod errors;
mod greeting;
mod options;
mod pump;
mod transport;

pub use callback::{callback_failure, CallbackFailure};
pub use client::NativeClient;
