//! Moves events from the core to the JS thread: one task per client on the core's shared runtime
//! awaits a batch, crosses once with the whole batch, and waits until JS has taken it before it
//! takes the next. So at most one batch sits between the core and JS, and a slow (or absent)
//! consumer holds events in the core's bounded buffer, which then slows the socket (SPEC promise 4).

use std::sync::Arc;

use napi::bindgen_prelude::Status;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use tokio::sync::Notify;
use wstether::{Event, Events};

use crate::convert::Batch;

/// Most events handed to JS in one call.
pub const MAX_BATCH: usize = 1024;

/// `(batch) => boolean` (true: consumed; false: JS holds it and calls `resume()` later).
/// Strong (not weak): while a client runs, it keeps Node alive, as an open `ws` socket does.
pub type BatchTsfn = ThreadsafeFunction<Vec<Event>, bool, Batch, Status, false, false>;

/// Start the pump. It ends, releasing the threadsafe function (so Node may exit), after the
/// terminal event has been delivered, or when the JS environment goes away.
pub fn spawn(mut events: Events, tsfn: BatchTsfn, resume: Arc<Notify>) {
    wstether::runtime::handle().spawn(async move {
        loop {
            let batch = events.next_batch(MAX_BATCH).await;
            if batch.is_empty() {
                break; // the stream ended after the terminal event
            }
            let consumed = resume.clone();
            let status = tsfn.call_with_return_value(
                batch,
                ThreadsafeFunctionCallMode::NonBlocking,
                move |taken: napi::Result<bool>, _env| {
                    // A handler that threw still consumed the batch (the TS layer reports it).
                    if taken.unwrap_or(true) {
                        consumed.notify_one();
                    }
                    Ok(())
                },
            );
            if status != Status::Ok {
                break; // the environment is shutting down
            }
            resume.notified().await;
        }
        drop(tsfn);
    });
}
