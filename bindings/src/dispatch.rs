//! Every client's events on a few host threads (the core's `dispatch::Dispatcher`) instead of
//! one blocking thread per client: the host runs one watcher thread ([`dispatch_watch`]) that
//! starts worker threads when asked, and each worker loops on [`FfiWorker::next_work`].
//! Order per client, backpressure and the growth rule are the core's (see `wstether::dispatch`).

use std::sync::{Arc, Mutex};

use wstether::dispatch::{Dispatcher, Next, Work, Worker};

use crate::convert;
use crate::events::FfiPackedBatch;

static DISPATCHER: Mutex<Option<Arc<Dispatcher<u64>>>> = Mutex::new(None);

/// The process's dispatcher (a new one in a forked child).
pub(crate) fn shared() -> Arc<Dispatcher<u64>> {
    let mut slot = DISPATCHER.lock().unwrap_or_else(|e| e.into_inner());
    match slot.as_ref() {
        Some(d) if d.is_current() => d.clone(),
        _ => {
            // Never touch a parent's dispatcher in a forked child: leak it.
            std::mem::forget(slot.take());
            let d = Arc::new(Dispatcher::new());
            *slot = Some(d.clone());
            d
        }
    }
}

/// Block until the host should start one more worker thread (none yet, or a client's events
/// have waited with every worker busy in a callback): `true`; `false` after [`dispatch_shutdown`].
/// Call it in a loop on one host thread; it uses no CPU while nothing stalls.
#[uniffi::export]
pub fn dispatch_watch() -> bool {
    shared().watch()
}

/// Stop the watcher and the workers (process exit).
#[uniffi::export]
pub fn dispatch_shutdown() {
    shared().shutdown();
}

/// One batch for the host: the client it belongs to and its events (empty `data`: that
/// client's stream has ended, its last work).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiWork {
    pub client_id: u64,
    pub batch: FfiPackedBatch,
}

/// A host thread serving every client's events. Make one per worker thread and use it only
/// there.
#[derive(uniffi::Object)]
pub struct FfiWorker {
    worker: Worker<u64>,
    /// The batch the host is handling: handed back at the next `next_work` (or on drop).
    current: Mutex<Option<Work<u64>>>,
}

#[uniffi::export]
impl FfiWorker {
    /// Register the calling thread as a worker.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(FfiWorker {
            worker: shared().worker(),
            current: Mutex::new(None),
        })
    }

    /// Hand back the previous batch, then block until a client has events; `None` means this
    /// thread should end (idle while others remain, or shut down).
    pub fn next_work(&self) -> Option<FfiWork> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(done) = current.take() {
            self.worker.done(done);
        }
        match self.worker.next() {
            Next::Exit => None,
            Next::Work(mut work) => {
                let out = FfiWork {
                    client_id: *work.tag(),
                    batch: convert::packed(std::mem::take(&mut work.batch)),
                };
                *current = Some(work);
                Some(out)
            }
        }
    }
}

impl Drop for FfiWorker {
    fn drop(&mut self) {
        // A host thread that stopped mid-batch must not strand that client.
        let current = self.current.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(work) = current.take() {
            self.worker.done(work);
        }
    }
}
