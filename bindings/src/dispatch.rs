//! Every client's events on a few host threads (the core's `dispatch::Dispatcher`) instead of
//! one blocking thread per client: the host runs one watcher thread ([`dispatch_watch`]) that
//! starts worker threads when asked, and each worker loops on [`FfiWorker::next_work`].
//! Order per client, backpressure and the growth rule are the core's (see `wstether::dispatch`).

use std::sync::{Arc, Mutex};

use wstether::dispatch::{Dispatcher, Next, Work, Worker};

use crate::convert;
use crate::events::FfiEvent;

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

/// One batch for the host, read where it is: the client it belongs to, the address and length
/// of its packed entries (the `data` form of [`FfiPackedBatch`](crate::events::FfiPackedBatch),
/// valid until this worker's next call or its end) and its other events. `data_len` 0: that
/// client's stream has ended, its last work.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FfiPackedWork {
    pub client_id: u64,
    pub data_ptr: u64,
    pub data_len: u64,
    pub others: Vec<FfiEvent>,
}

/// A host thread serving every client's events. Make one per worker thread and use it only
/// there.
#[derive(uniffi::Object)]
pub struct FfiWorker {
    worker: Worker<u64>,
    /// The batch the host is handling: handed back at the next `next_work` (or on drop), and
    /// the packed entries lent to the host meanwhile.
    current: Mutex<(Option<Work<u64>>, Vec<u8>)>,
}

#[uniffi::export]
impl FfiWorker {
    /// Register the calling thread as a worker.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(FfiWorker {
            worker: shared().worker(),
            current: Mutex::new((None, Vec::new())),
        })
    }

    /// Hand back the previous batch, then block until a client has events; `None` means this
    /// thread should end (idle while others remain, or shut down). The packed entries are not
    /// copied into the host's memory: the host reads them where they are (a JVM `ByteBuffer`
    /// over `data_ptr`; uniffi's copy of them into a `ByteArray` was about an eighth of a Kotlin
    /// client's CPU at 64 B), until its next call on this worker.
    pub fn next_work(&self) -> Option<FfiPackedWork> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let (work_slot, lent) = &mut *current;
        if let Some(done) = work_slot.take() {
            self.worker.done(done);
        }
        // The host is done with them; an idle worker keeps none.
        *lent = Vec::new();
        match self.worker.next() {
            Next::Exit => None,
            Next::Work(mut work) => {
                let (data, others) = std::mem::take(&mut work.batch).into_parts();
                *lent = data;
                let out = FfiPackedWork {
                    client_id: *work.tag(),
                    data_ptr: lent.as_ptr() as u64,
                    data_len: lent.len() as u64,
                    others: others.into_iter().map(convert::event).collect(),
                };
                *work_slot = Some(work);
                Some(out)
            }
        }
    }
}

impl Drop for FfiWorker {
    fn drop(&mut self) {
        // A host thread that stopped mid-batch must not strand that client.
        let current = self.current.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(work) = current.0.take() {
            self.worker.done(work);
        }
    }
}
