//! The process-wide runtime bindings share, the rustls crypto provider, and fork detection.
//!
//! Threads do not survive `fork()`: in a child, the parent's runtime has no workers, so nothing
//! spawned on it would ever run (a gunicorn or Celery worker forked after importing an app that
//! made a client would hang). Each process image therefore gets its own runtime, and a client
//! made before a fork behaves as closed in the child.

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::Mutex;
#[cfg(unix)]
use std::sync::Once;

use tokio::runtime::{Builder, Handle, Runtime};

/// The runtime of one process image, tagged with the fork generation it was built in.
struct Current {
    generation: u32,
    runtime: Runtime,
}

/// The live runtime. Entries are leaked on purpose: a runtime is never dropped, because in a
/// forked child dropping the parent's would wait for worker threads that do not exist there.
static CURRENT: AtomicPtr<Current> = AtomicPtr::new(std::ptr::null_mut());

/// How many forks this process image descends from (0 in the original process).
static FORKS: AtomicU32 = AtomicU32::new(0);

/// The shared multi-thread runtime of this process, built on first use (and again in a forked
/// child). Bindings spawn every client here, so no foreign thread needs a runtime context.
pub fn shared() -> &'static Runtime {
    let generation = fork_generation();
    if let Some(current) = current() {
        if current.generation == generation {
            return &current.runtime;
        }
    }
    static BUILD: Mutex<()> = Mutex::new(());
    let _building = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(current) = current() {
        if current.generation == generation {
            return &current.runtime;
        }
    }
    install_crypto_provider();
    let runtime = Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .thread_name("wstether-worker")
        .enable_all()
        .build()
        .expect("cannot start the wstether runtime: the OS refused threads or timers");
    let entry = Box::leak(Box::new(Current {
        generation,
        runtime,
    }));
    CURRENT.store(entry, Ordering::Release);
    &entry.runtime
}

/// How many workers the shared runtime gets: `WSTETHER_WORKER_THREADS` if set to a positive
/// number, else half the cores (1 to 4). The app's own threads (Node's event loop, asyncio, a JVM
/// event thread) need the other half: on 2 cores a second worker only competes with them.
fn worker_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let setting = std::env::var("WSTETHER_WORKER_THREADS").ok();
    let workers = workers_for(setting.as_deref(), cores);
    if let Some(value) = setting.filter(|v| parse_workers(v).is_none()) {
        tracing::warn!(target: "wstether", value = %value, workers,
            "WSTETHER_WORKER_THREADS is not a positive whole number; using the default");
    }
    workers
}

/// [`worker_threads`] for a given setting and core count; an unusable setting is ignored.
fn workers_for(setting: Option<&str>, cores: usize) -> usize {
    setting
        .and_then(parse_workers)
        .unwrap_or((cores / 2).clamp(1, 4))
}

fn parse_workers(setting: &str) -> Option<usize> {
    setting.trim().parse::<usize>().ok().filter(|&n| n > 0)
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

/// How many `fork()`s separate this process from the one that first used wstether. A client
/// remembers the generation it was built in; in a later one it is a dead copy.
pub fn fork_generation() -> u32 {
    watch_forks();
    FORKS.load(Ordering::Acquire)
}

fn current() -> Option<&'static Current> {
    // SAFETY: CURRENT only ever holds null or a leaked, never freed `Current`.
    unsafe { CURRENT.load(Ordering::Acquire).as_ref() }
}

fn watch_forks() {
    #[cfg(unix)]
    {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            // SAFETY: registers a handler that only bumps an atomic (async-signal-safe).
            unsafe {
                libc::pthread_atfork(None, None, Some(child_after_fork));
            }
        });
    }
}

#[cfg(unix)]
extern "C" fn child_after_fork() {
    FORKS.fetch_add(1, Ordering::AcqRel);
}

#[cfg(test)]
mod tests {
    use super::workers_for;

    #[test]
    fn half_the_cores_by_default() {
        assert_eq!(workers_for(None, 1), 1);
        assert_eq!(workers_for(None, 2), 1);
        assert_eq!(workers_for(None, 8), 4);
        assert_eq!(workers_for(None, 64), 4);
    }

    #[test]
    fn a_positive_setting_wins_and_junk_is_ignored() {
        assert_eq!(workers_for(Some("3"), 2), 3);
        assert_eq!(workers_for(Some(" 2 "), 8), 2);
        assert_eq!(workers_for(Some("0"), 8), 4);
        assert_eq!(workers_for(Some("many"), 2), 1);
    }
}
