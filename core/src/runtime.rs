//! The process-wide runtime bindings share, and the rustls crypto provider.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

/// The shared multi-thread runtime, built on first use. Bindings spawn every client here, so
/// no foreign thread ever needs a runtime context of its own.
pub fn shared() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        install_crypto_provider();
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
        Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("wstether-worker")
            .enable_all()
            .build()
            .expect("cannot start the wstether runtime: the OS refused threads or timers")
    })
}

/// A handle to [`shared`].
pub fn handle() -> Handle {
    shared().handle().clone()
}

/// Install ring as the process's default rustls provider if nobody has chosen one. The client
/// itself always passes its provider explicitly; this protects other rustls users in the process
/// (which panic without a default).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
