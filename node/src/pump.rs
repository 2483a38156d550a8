//! Moves events from the core to the JS thread where libuv is not linked in (non-Unix; Unix uses
//! `uv_pump.rs`): one task per client on the core's shared runtime
//! awaits a batch and crosses once with the whole batch. At most `IN_FLIGHT` batches sit between
//! the core and JS: a slow (or absent) consumer leaves events in the core's bounded buffer, which
//! then slows the socket (promise 4 of docs/contract.md). Two rather than one, so that JS finishing a batch frees
//! a slot without waking this task (a thread wake-up per round trip, measurable in latency).

use std::sync::Arc;

use napi::bindgen_prelude::{Function, Status};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Env;
use tokio::sync::Semaphore;
use wstether::{Event, Events};

use crate::convert::Batch;

/// Most events handed to JS in one call.
pub const MAX_BATCH: usize = 1024;

/// Most batches handed to JS and not yet consumed.
pub const IN_FLIGHT: usize = 2;

/// `(batch) => boolean` (true: consumed; false: JS holds it and calls `resume_delivery()` once it has).
/// Strong (not weak): while a client runs, it keeps Node alive, as an open `ws` socket does.
pub type BatchTsfn = ThreadsafeFunction<Vec<Event>, bool, Batch, Status, false, false>;

/// What `NativeClient` keeps of its pump: it only ever tells it a held batch was consumed.
pub struct Delivery(Arc<Semaphore>);

impl Delivery {
    /// JS consumed a batch it held back.
    pub fn resume(&self) {
        self.0.add_permits(1);
    }
}

/// Start delivering the stream in `events` to `on_batch`. The stream is taken only once nothing
/// can fail: after an error it is still in `events`.
pub fn start(
    _env: &Env,
    on_batch: Function<'_, Batch, bool>,
    events: &mut Option<Events>,
) -> napi::Result<Delivery> {
    let tsfn = on_batch
        .build_threadsafe_function::<Vec<Event>>()
        .build_callback(|ctx| Ok(Batch(ctx.value)))?;
    let stream = events
        .take()
        .ok_or_else(|| napi::Error::from_reason("cannot start: the event stream was taken"))?;
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    spawn(stream, tsfn, slots.clone());
    Ok(Delivery(slots))
}

/// Start the pump. It ends, releasing the threadsafe function (so Node may exit), after the
/// terminal event has been delivered, or when the JS environment goes away.
fn spawn(mut events: Events, tsfn: BatchTsfn, slots: Arc<Semaphore>) {
    wstether::runtime::handle().spawn(async move {
        loop {
            match slots.acquire().await {
                Ok(permit) => permit.forget(), // given back when JS has consumed the batch
                Err(_) => break,
            }
            let batch = events.next_batch(MAX_BATCH).await;
            if batch.is_empty() {
                break; // the stream ended after the terminal event
            }
            let consumed = slots.clone();
            let status = tsfn.call_with_return_value(
                batch,
                ThreadsafeFunctionCallMode::NonBlocking,
                move |taken: napi::Result<bool>, _env| {
                    // A handler that threw still consumed the batch (the TS layer reports it).
                    if taken.unwrap_or(true) {
                        consumed.add_permits(1);
                    }
                    Ok(())
                },
            );
            if status != Status::Ok {
                break; // the environment is shutting down
            }
        }
        drop(tsfn);
    });
}
