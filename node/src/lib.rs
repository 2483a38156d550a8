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
#[cfg(not(unix))]
mod pump;
#[cfg(unix)]
#[path = "uv_pump.rs"]
mod pump;
mod transport;

/// The addon's Rust allocations use mimalloc rather than glibc's malloc. Messages are decoded on
/// the core's runtime thread and freed on the JS thread once converted; glibc hands the freed top
/// of that thread's arena back to the kernel after each large free, so a stream of 64 KiB messages
/// page-faulted every page it wrote (bench/README.md, Node 64 KiB). mimalloc keeps and reuses
/// such pages. Only this addon's allocations change; Node's own allocator is untouched.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use callback::{callback_failure, CallbackFailure};
pub use client::NativeClient;
#[cfg(unix)]
pub use pump::fail_pump_start_for_tests;
