//! Moves events from the core to the JS thread on Unix, with no thread of ours in between: the JS
//! thread polls the client's event stream itself (reading the socket while it has caught up, as
//! every consumer does) from a libuv `uv_async_t` callback, and hands each batch to `onBatch`
//! through `napi_make_callback` (which runs the microtasks the handlers queued).
//!
//! Why not a threadsafe function: Node's `call` holds the function's queue lock while it wakes
//! the JS thread. On a busy core the woken JS thread runs at once, finds the lock taken and
//! sleeps again, so every batch cost two more context switches and a futex round. Here the
//! runtime's thread only sets a flag and writes the loop's eventfd (`uv_async_send`, lock-free),
//! and only when the JS thread is waiting; the socket itself is read on the JS thread.
//!
//! At most `IN_FLIGHT` batches sit in JS unconsumed (`onBatch` returned `false`); past that the
//! pump stops polling, events stay in the core's bounded buffer and the core stops reading the
//! socket (promise 4 of docs/contract.md).
//!
//! libuv is the one Node links and exports to addons (the Node-API docs' "libuv" section); the
//! symbols resolve against the running `node` when the addon loads.

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use napi::bindgen_prelude::{Function, ToNapiValue};
use napi::{sys, Env};
use napi_derive::napi;
use wstether::{Event, Events};

use crate::convert::Batch;

/// Most events handed to JS in one call.
pub const MAX_BATCH: usize = 1024;

/// Most batches handed to JS and not yet consumed.
pub const IN_FLIGHT: usize = 2;

/// Batches delivered in one turn of the loop before it gets the thread back (timers, other I/O).
const BATCHES_PER_TURN: usize = 8;

/// `UV_ASYNC` and `UV_POLL` in libuv's `uv_handle_type`.
const UV_ASYNC: c_int = 1;
const UV_POLL: c_int = 8;
/// `UV_READABLE` in libuv's `uv_poll_event`.
const UV_READABLE: c_int = 1;

type AsyncCb = unsafe extern "C" fn(handle: *mut c_void);
type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_async_init(event_loop: *mut sys::uv_loop_s, handle: *mut c_void, cb: AsyncCb) -> c_int;
    fn uv_async_send(handle: *mut c_void) -> c_int;
    fn uv_poll_init(event_loop: *mut sys::uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int;
    fn uv_poll_stop(handle: *mut c_void) -> c_int;
    fn uv_close(handle: *mut c_void, cb: CloseCb);
}

/// The `uv_async_t`, as far as other threads may touch it: `None` once closing has begun.
struct Handle(*mut c_void);

// SAFETY: libuv allows `uv_async_send` from any thread; the pointer is only used under the lock.
unsafe impl Send for Handle {}

/// The stream's waker (and `resume()`'s): one `uv_async_send` per wait.
struct Notify {
    /// Set when a wake-up is in flight; cleared by the JS thread before it polls.
    pending: AtomicBool,
    handle: Mutex<Option<Handle>>,
}

impl Notify {
    fn send(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            if let Some(h) = &*self.handle.lock().unwrap_or_else(|e| e.into_inner()) {
                // SAFETY: the handle is open (closing clears it under this lock first).
                unsafe { uv_async_send(h.0) };
            }
        }
    }
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.send();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.send();
    }
}

/// What `NativeClient` keeps of its pump: it only ever tells it a held batch was consumed.
pub struct Delivery {
    notify: Arc<Notify>,
    held: Arc<AtomicUsize>,
}

impl Delivery {
    /// JS consumed a batch it held back.
    pub fn resume(&self) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        self.notify.send();
    }
}

/// The loop's watch on one link's socket: a `uv_poll_t` on a duplicate of its descriptor (so
/// the client closing its own never leaves libuv polling a closed or reused number).
struct Watch {
    handle: *mut c_void,
    link: u64,
    fd: OwnedFd,
    active: bool,
}

/// The JS-thread side; owned by the `uv_async_t` (its `data` field) until libuv has closed it.
struct Pump {
    env: sys::napi_env,
    event_loop: *mut sys::uv_loop_s,
    handle: *mut c_void,
    watch: Option<Watch>,
    on_batch: sys::napi_ref,
    context: sys::napi_async_context,
    events: Option<Events>,
    notify: Arc<Notify>,
    waker: Waker,
    held: Arc<AtomicUsize>,
    closing: bool,
    /// The environment's cleanup hook was added (`closed` removes it).
    hooked: bool,
    /// The environment is being torn down: it frees its references itself.
    env_gone: bool,
}

/// Start the pump on `env`'s loop: `on_batch` receives every batch. The handle keeps Node alive
/// (as an open `ws` socket does) until the terminal event was delivered or the environment goes.
///
/// What it acquires, in order: a reference to `on_batch`, an async context, the `uv_async_t`
/// (allocated, then initialised, then owning the pump) and the environment's cleanup hook. A
/// step that fails releases what the steps before it acquired, in reverse order, and returns
/// its error; nothing outlives a failed start, and the stream is back in `events` (so the
/// client can start again). The stream is taken from `events` only on success.
pub fn start(
    env: &Env,
    on_batch: Function<'_, Batch, bool>,
    events: &mut Option<Events>,
) -> napi::Result<Delivery> {
    let env = env.raw();
    let notify = Arc::new(Notify {
        pending: AtomicBool::new(false),
        handle: Mutex::new(None),
    });
    let held = Arc::new(AtomicUsize::new(0));
    let delivery = Delivery {
        notify: notify.clone(),
        held: held.clone(),
    };
    // SAFETY: every call below runs on the JS thread that owns `env`, inside a napi call.
    unsafe {
        let mut event_loop = ptr::null_mut();
        check(
            fails_or(Step::EventLoop, || {
                sys::napi_get_uv_event_loop(env, &mut event_loop)
            }),
            "find the event loop",
        )?;
        // Until the handle is initialised, `acquired` releases what is held if a step fails
        // (its `drop`, in reverse order).
        let mut acquired = Acquired::new(env);
        let value = Function::to_napi_value(env, on_batch)?;
        check(
            fails_or(Step::Reference, || {
                sys::napi_create_reference(env, value, 1, &mut acquired.on_batch)
            }),
            "keep onBatch",
        )?;
        let mut name = ptr::null_mut();
        let label = "wstether:batch";
        check(
            fails_or(Step::Name, || {
                sys::napi_create_string_utf8(
                    env,
                    label.as_ptr() as *const c_char,
                    label.len() as isize,
                    &mut name,
                )
            }),
            "name the async resource",
        )?;
        check(
            fails_or(Step::Context, || {
                sys::napi_async_init(env, ptr::null_mut(), name, &mut acquired.context)
            }),
            "create an async context",
        )?;

        acquired.handle = alloc_handle(UV_ASYNC);
        let status = if fails(Step::AsyncInit) {
            -22 // UV_EINVAL
        } else {
            uv_async_init(event_loop, acquired.handle, on_async)
        };
        if status != 0 {
            // `acquired` frees the handle (libuv never saw it), then the context, the reference.
            return Err(napi::Error::from_reason(
                "cannot watch the event loop (uv_async_init failed)",
            ));
        }
        // An initialised handle is libuv's until `uv_close` has called back: from here on the
        // pump owns everything, and only closing the handle (`closed`) releases it.
        let (on_batch_ref, context, handle) = acquired.into_pump();
        let pump = Box::new(Pump {
            env,
            event_loop,
            handle,
            watch: None,
            on_batch: on_batch_ref,
            context,
            events: events.take(),
            notify: notify.clone(),
            waker: Waker::from(notify.clone()),
            held,
            closing: false,
            hooked: false,
            env_gone: false,
        });
        let pump = Box::into_raw(pump);
        // `data` is the first field of every libuv handle.
        *(handle as *mut *mut Pump) = pump;
        *notify.handle.lock().unwrap_or_else(|e| e.into_inner()) = Some(Handle(handle));
        let hooked = check(
            fails_or(Step::CleanupHook, || {
                sys::napi_add_env_cleanup_hook(env, Some(env_gone), pump as *mut c_void)
            }),
            "watch the environment",
        );
        if let Err(e) = hooked {
            // Close the handle: `closed` frees the pump and the handle, destroys the context
            // and deletes the reference on the loop's next turn (and removes no hook, as none
            // was added). The stream goes back to the caller.
            *events = (*pump).events.take();
            (*pump).close();
            return Err(e);
        }
        (*pump).hooked = true;
        // Last, when nothing can fail any more: a failed start must not leave the client's
        // later links to a loop that never watches them.
        if let Some(events) = (*pump).events.as_mut() {
            // This loop polls the stream: let it watch the sockets too.
            events.read_on_own_loop();
        }
    }
    // Look for events on the loop's first turn.
    delivery.notify.send();
    Ok(delivery)
}

/// What `start` has acquired before the pump owns it. Dropped (a step failed) it releases
/// them in reverse order of acquisition; a null field holds nothing.
struct Acquired {
    env: sys::napi_env,
    on_batch: sys::napi_ref,
    context: sys::napi_async_context,
    /// Allocated and never initialised (libuv knows nothing of it): freed, not closed.
    handle: *mut c_void,
}

impl Acquired {
    fn new(env: sys::napi_env) -> Acquired {
        Acquired {
            env,
            on_batch: ptr::null_mut(),
            context: ptr::null_mut(),
            handle: ptr::null_mut(),
        }
    }

    /// Hand everything to the pump (the handle now initialised): nothing is released here.
    fn into_pump(mut self) -> (sys::napi_ref, sys::napi_async_context, *mut c_void) {
        (
            std::mem::replace(&mut self.on_batch, ptr::null_mut()),
            std::mem::replace(&mut self.context, ptr::null_mut()),
            std::mem::replace(&mut self.handle, ptr::null_mut()),
        )
    }
}

impl Drop for Acquired {
    fn drop(&mut self) {
        // SAFETY: on the JS thread that owns `env`; each field is null or holds what `start`
        // acquired and nothing else owns.
        unsafe {
            if !self.handle.is_null() {
                free_handle(self.handle, UV_ASYNC);
            }
            if !self.context.is_null() {
                sys::napi_async_destroy(self.env, self.context);
            }
            if !self.on_batch.is_null() {
                sys::napi_delete_reference(self.env, self.on_batch);
            }
        }
    }
}

/// The calls of `start` that may fail, for [`fail_pump_start_for_tests`].
#[derive(Clone, Copy)]
enum Step {
    EventLoop = 1,
    Reference,
    Name,
    Context,
    AsyncInit,
    CleanupHook,
}

/// The step the next `start` fails at (0: none).
static FAIL_AT: AtomicU32 = AtomicU32::new(0);

/// Test hook (`__test__/fixtures/pump-start-child.mjs`): the next client start fails at `step`
/// (1: the event loop, 2: the onBatch reference, 3: the resource name, 4: the async context,
/// 5: `uv_async_init`, 6: the cleanup hook) as if that call had failed, without making it. 0
/// or another number: none.
#[napi]
pub fn fail_pump_start_for_tests(step: u32) {
    FAIL_AT.store(step, Ordering::Release);
}

/// Whether `step` is to fail this time (at most once per arming).
fn fails(step: Step) -> bool {
    FAIL_AT
        .compare_exchange(step as u32, 0, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// `call()`'s status, or a failure without making the call if `step` is to fail.
fn fails_or(step: Step, call: impl FnOnce() -> sys::napi_status) -> sys::napi_status {
    if fails(step) {
        sys::Status::napi_generic_failure
    } else {
        call()
    }
}

fn handle_layout(kind: c_int) -> std::alloc::Layout {
    // SAFETY: a pure size query.
    let size = unsafe { uv_handle_size(kind) };
    std::alloc::Layout::from_size_align(size.max(1), 16).expect("a libuv handle's size")
}

fn alloc_handle(kind: c_int) -> *mut c_void {
    let layout = handle_layout(kind);
    // SAFETY: a non-zero size.
    let handle = unsafe { std::alloc::alloc_zeroed(layout) } as *mut c_void;
    if handle.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    handle
}

/// SAFETY: `handle` came from `alloc_handle(kind)` and libuv is done with it.
unsafe fn free_handle(handle: *mut c_void, kind: c_int) {
    unsafe { std::alloc::dealloc(handle as *mut u8, handle_layout(kind)) };
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "cannot {what} (napi status {status})"
        )))
    }
}

unsafe extern "C" fn on_async(handle: *mut c_void) {
    // SAFETY: `data` holds the pump until `closed` frees it, and libuv calls back on the JS thread.
    let pump = unsafe { &mut **(handle as *mut *mut Pump) };
    pump.turn();
}

unsafe extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
    // SAFETY: as for `on_async`: a watch's `data` is its pump until the watch is closed. An error
    // status (the socket failed) is found by the read the turn makes.
    let pump = unsafe { &mut **(handle as *mut *mut Pump) };
    pump.turn();
}

unsafe extern "C" fn watch_closed(handle: *mut c_void) {
    // SAFETY: `close_watch` left the duplicate descriptor in `data`; libuv is done with the handle.
    unsafe {
        drop(Box::from_raw(*(handle as *mut *mut OwnedFd)));
        free_handle(handle, UV_POLL);
    }
}

impl Pump {
    /// One turn of the loop: deliver what is ready, then watch the socket that is current.
    fn turn(&mut self) {
        self.deliver_ready();
        self.sync_watch();
    }

    /// Watch the current link's socket while batches may be delivered; stop watching a socket
    /// whose link has ended, and while JS holds `IN_FLIGHT` batches (the socket stays readable,
    /// and the turn would only return).
    fn sync_watch(&mut self) {
        let want = match (&self.events, self.closing) {
            (Some(events), false) => events.watched_link(),
            _ => None,
        };
        if self.watch.as_ref().map(|w| w.link) != want {
            if let Some(old) = self.watch.take() {
                close_watch(old);
            }
            if let Some(link) = want {
                self.watch = self.open_watch(link);
            }
        }
        let active = !self.closing && self.held.load(Ordering::Acquire) < IN_FLIGHT;
        if let Some(w) = self.watch.as_mut() {
            if w.active != active {
                // SAFETY: an initialised poll handle, on the loop's thread.
                let started = unsafe {
                    if active {
                        uv_poll_start(w.handle, UV_READABLE, on_readable)
                    } else {
                        uv_poll_stop(w.handle)
                    }
                };
                if started == 0 {
                    w.active = active;
                }
            }
        }
    }

    fn open_watch(&mut self, link: u64) -> Option<Watch> {
        let fd = self.events.as_ref()?.duplicate_watched_socket(link)?;
        let handle = alloc_handle(UV_POLL);
        // SAFETY: on the loop's thread; `data` is set before the first callback can run.
        unsafe {
            if uv_poll_init(self.event_loop, handle, fd.as_raw_fd()) != 0 {
                free_handle(handle, UV_POLL);
                return None; // events still arrive through the waker, by the runtime's thread
            }
            *(handle as *mut *mut Pump) = self as *mut Pump;
        }
        Some(Watch {
            handle,
            link,
            fd,
            active: false,
        })
    }

    /// Deliver what is ready, up to `BATCHES_PER_TURN` batches.
    fn deliver_ready(&mut self) {
        // Cleared before looking, so an event pushed meanwhile always comes with a fresh wake-up.
        self.notify.pending.store(false, Ordering::Release);
        for _ in 0..BATCHES_PER_TURN {
            if self.closing || self.held.load(Ordering::Acquire) >= IN_FLIGHT {
                return; // `resume()` wakes the pump again
            }
            let Some(events) = self.events.as_mut() else {
                return;
            };
            let mut cx = Context::from_waker(&self.waker);
            match events.poll_next_batch(&mut cx, MAX_BATCH) {
                Poll::Pending => return, // the waker is registered
                Poll::Ready(batch) if batch.is_empty() => {
                    // Ended after the terminal event: release the engine, then the loop.
                    self.events = None;
                    self.close();
                    return;
                }
                Poll::Ready(batch) => {
                    if !self.deliver(batch) {
                        self.held.fetch_add(1, Ordering::AcqRel);
                    }
                }
            }
        }
        // Still more: come back after the loop's other work.
        self.notify.send();
    }

    /// Call `onBatch(batch)`; `false` if JS holds the batch back.
    fn deliver(&mut self, batch: Vec<Event>) -> bool {
        let env = self.env;
        // SAFETY: on the JS thread, inside a handle scope opened here.
        unsafe {
            let mut scope = ptr::null_mut();
            if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
                return true;
            }
            let taken = self.call(batch);
            sys::napi_close_handle_scope(env, scope);
            taken
        }
    }

    unsafe fn call(&mut self, batch: Vec<Event>) -> bool {
        let env = self.env;
        unsafe {
            let mut func = ptr::null_mut();
            if sys::napi_get_reference_value(env, self.on_batch, &mut func) != sys::Status::napi_ok
                || func.is_null()
            {
                return true;
            }
            let Ok(arg) = Batch::to_napi_value(env, Batch(batch)) else {
                return true;
            };
            let mut recv = ptr::null_mut();
            sys::napi_get_global(env, &mut recv);
            let mut result = ptr::null_mut();
            let status =
                sys::napi_make_callback(env, self.context, recv, func, 1, &arg, &mut result);
            if status == sys::Status::napi_pending_exception {
                // `onBatch` itself threw (handlers' exceptions are caught in lib/client.ts): report
                // it as uncaught, as Node does for an exception in an I/O callback.
                let mut error = ptr::null_mut();
                if sys::napi_get_and_clear_last_exception(env, &mut error) == sys::Status::napi_ok {
                    sys::napi_fatal_exception(env, error);
                }
                return true;
            }
            let mut taken = true;
            if status != sys::Status::napi_ok
                || sys::napi_get_value_bool(env, result, &mut taken) != sys::Status::napi_ok
            {
                return true;
            }
            taken
        }
    }

    /// Stop waking the loop and hand the handle to libuv to close; `closed` frees the pump.
    fn close(&mut self) {
        if self.closing {
            return;
        }
        self.closing = true;
        *self.notify.handle.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if let Some(w) = self.watch.take() {
            close_watch(w);
        }
        // SAFETY: the handle is open and this runs on the loop's thread.
        unsafe { uv_close(self.handle, closed) };
    }
}

/// Close a watch: libuv stops polling, then `watch_closed` closes the duplicate descriptor.
fn close_watch(w: Watch) {
    // SAFETY: an initialised poll handle, on the loop's thread; from here on its `data` holds
    // the descriptor, for `watch_closed`.
    unsafe {
        *(w.handle as *mut *mut OwnedFd) = Box::into_raw(Box::new(w.fd));
        uv_close(w.handle, watch_closed);
    }
}

unsafe extern "C" fn closed(handle: *mut c_void) {
    // SAFETY: libuv is done with the handle; the pump was leaked into it by `start`.
    unsafe {
        let pump = Box::from_raw(*(handle as *mut *mut Pump));
        if !pump.env_gone {
            // The reverse of `start`'s order.
            if pump.hooked {
                let key = &*pump as *const Pump as *mut c_void;
                sys::napi_remove_env_cleanup_hook(pump.env, Some(env_gone), key);
            }
            sys::napi_async_destroy(pump.env, pump.context);
            sys::napi_delete_reference(pump.env, pump.on_batch);
        }
        drop(pump);
        free_handle(handle, UV_ASYNC);
    }
}

/// The environment is going away (process exit, a worker ending) while the client still runs:
/// stop waking its loop. The handle is closed with the loop.
unsafe extern "C" fn env_gone(pump: *mut c_void) {
    // SAFETY: registered with the pump's address, removed before the pump is freed.
    let pump = unsafe { &mut *(pump as *mut Pump) };
    pump.env_gone = true;
    pump.events = None;
    pump.close();
}
