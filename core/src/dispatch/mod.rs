//! Many clients' events handed to a few host threads: what a binding whose callbacks run on
//! threads it owns (Python's callback API, Kotlin, Swift) uses instead of a thread per client.
//!
//! Each client's stream is a [`Slot`] woken by the client's engine (its waker is the slot), so an
//! idle client costs no thread and no task, only the slot. A woken slot joins one ready queue;
//! a host thread in [`Worker::next`] takes it, polls the stream (reading the socket itself, as
//! any consumer does) and gets the batch to run the app's callbacks on. Then [`Worker::done`]
//! puts the slot back at the queue's end, so busy clients take turns.
//!
//! The rules a binding relies on:
//! - **Order.** A slot is in the queue at most once and with at most one worker at a time, so a
//!   client's events are handled in order and never concurrently.
//! - **Backpressure.** A client's next batch is taken only after the previous one is done, so a
//!   slow callback leaves events in the core's bounded buffer, which slows that socket.
//! - **No stall for ever.** When a client has waited [`STALL`] in the queue and no worker is
//!   free (a callback is slow or blocked), [`Dispatcher::watch`] asks the binding for one more
//!   thread. A worker left without work for [`IDLE_EXIT`] ends, except the last one. So the
//!   pool is one thread while callbacks are quick, and grows to one per blocked callback (plus
//!   one) when they are not. The price of sharing: another client's events can wait up to
//!   `STALL` behind a slow callback before a new thread takes them.
//!
//! On Linux and Android the workers also watch the clients' sockets themselves
//! (`dispatch/sockets.rs`): an idle worker waits on them, so an arrival wakes the thread
//! that reads it, not a runtime thread first. Elsewhere the runtime watches them and wakes the
//! slot.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sockets;

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::batch::Batch;
use crate::client::Events;

/// How long a ready client may wait for a free worker before the watcher asks for another.
pub const STALL: Duration = Duration::from_millis(100);
/// How long a worker without work lives on (the last one stays).
pub const IDLE_EXIT: Duration = Duration::from_secs(10);
/// Most events handed out per batch.
pub const BATCH: usize = 4096;

// A slot's state: waiting for its waker, in the ready queue, with a worker, or with a worker
// and woken meanwhile (polled again when the worker is done).
const IDLE: u8 = 0;
const QUEUED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;

thread_local! {
    /// The slot whose batch this thread is handling (its address), so a callback that waits for
    /// its own client's end does not wait for itself.
    static HANDLING: Cell<usize> = const { Cell::new(0) };
}

/// The process-wide hand-off; `T` is what the binding needs to find the client's callbacks.
pub struct Dispatcher<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    /// Workers wait here for a ready slot.
    work: Condvar,
    /// The watcher waits here for a stall.
    watcher: Condvar,
    generation: u32,
    /// The clients' sockets, when the workers watch them (Linux, Android).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sockets: Option<sockets::Sockets<Slot<T>>>,
}

struct Queue<T> {
    ready: VecDeque<(Arc<Slot<T>>, Instant)>,
    /// Workers waiting for work that no push has claimed yet.
    idle: usize,
    /// Workers waiting for work that a push has woken (each will take a slot): counted apart
    /// from `idle` so that two pushes before the woken worker runs do not both count on it.
    claimed: usize,
    /// Workers alive.
    workers: usize,
    /// Workers the watcher asked for that have not started yet.
    starting: usize,
    /// The watcher waits with nothing queued (only a push wakes it).
    watcher_parked: bool,
    /// [`Dispatcher::shutdown`] was called: workers and the watcher return.
    stopped: bool,
    /// A worker waits on the sockets and no push has rung it yet (it will take a slot).
    polling: bool,
    /// A thread holds the sockets' poll: a worker waiting on it, or the watcher looking.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    poll_taken: bool,
    /// Since when nobody has waited on the sockets though a worker exists (all are in
    /// batches); `None` while a worker waits on them.
    unwatched_since: Option<Instant>,
    /// The watcher's alarm is set (it fires [`STALL`] after the sockets were left unwatched).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    alarm_armed: bool,
}

/// One client's stream in a [`Dispatcher`].
pub struct Slot<T> {
    tag: T,
    events: Mutex<Option<Events>>,
    state: AtomicU8,
    shared: Arc<Shared<T>>,
    /// Set once the end of the stream has been handled.
    finished: Mutex<bool>,
    finished_cv: Condvar,
    /// The link whose socket the workers watch for this client, and their duplicate of it.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    watch: Mutex<Option<(u64, std::os::fd::OwnedFd)>>,
    /// This slot's token among the sockets (from 1).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    id: usize,
}

/// A batch for the binding to handle, then give back with [`Worker::done`].
pub struct Work<T> {
    slot: Arc<Slot<T>>,
    /// The events, in order, small messages packed; empty when the stream has ended (the
    /// client's last work). The binding may take them.
    pub batch: Batch,
    ended: bool,
}

/// What [`Worker::next`] found.
pub enum Next<T> {
    /// A batch to handle.
    Work(Work<T>),
    /// No work for [`IDLE_EXIT`] and other workers remain: end this thread.
    Exit,
}

/// A host thread serving a [`Dispatcher`]; dropping it ends its membership.
pub struct Worker<T> {
    shared: Arc<Shared<T>>,
    /// Counted out already (it returned [`Next::Exit`]).
    exited: AtomicBool,
}

/// The binding's handle on one client's slot.
pub struct Handle<T> {
    slot: Arc<Slot<T>>,
}

fn lock<U>(m: &Mutex<U>) -> MutexGuard<'_, U> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Send + Sync + 'static> Default for Dispatcher<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + Sync + 'static> Dispatcher<T> {
    /// An empty dispatcher with no worker yet ([`watch`](Self::watch) asks for the first).
    pub fn new() -> Self {
        Dispatcher {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    ready: VecDeque::new(),
                    idle: 0,
                    claimed: 0,
                    workers: 0,
                    starting: 0,
                    watcher_parked: false,
                    stopped: false,
                    polling: false,
                    #[cfg(any(target_os = "linux", target_os = "android"))]
                    poll_taken: false,
                    unwatched_since: None,
                    #[cfg(any(target_os = "linux", target_os = "android"))]
                    alarm_armed: false,
                }),
                work: Condvar::new(),
                watcher: Condvar::new(),
                generation: crate::runtime::fork_generation(),
                #[cfg(any(target_os = "linux", target_os = "android"))]
                sockets: sockets::Sockets::new(),
            }),
        }
    }

    /// Whether this dispatcher was made in this process (a forked child needs a new one: the
    /// threads serving this one stayed in the parent).
    pub fn is_current(&self) -> bool {
        self.shared.generation == crate::runtime::fork_generation()
    }

    /// Serve `events` with `tag`; its first events are taken at once.
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        allow(unused_mut)
    )]
    pub fn add(&self, mut events: Events, tag: T) -> Handle<T> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.shared.sockets.is_some() {
            events.read_on_own_loop();
        }
        let slot = Slot::new(tag, Some(events), &self.shared);
        self.shared.push(slot.clone(), false);
        Handle { slot }
    }

    /// Register the calling thread as a worker.
    pub fn worker(&self) -> Worker<T> {
        let mut q = lock(&self.shared.queue);
        q.starting = q.starting.saturating_sub(1);
        q.workers += 1;
        Worker {
            shared: self.shared.clone(),
            exited: AtomicBool::new(false),
        }
    }

    /// Block until the binding should start one more worker thread (none yet, or a ready
    /// client has waited [`STALL`] with every worker busy): `true`; `false` once
    /// [`shutdown`](Self::shutdown) was called. Run it in a loop on one thread of the
    /// binding's; it uses no CPU while nothing stalls.
    pub fn watch(&self) -> bool {
        let shared = &self.shared;
        let mut q = lock(&shared.queue);
        loop {
            if q.stopped {
                return false;
            }
            q = shared.look_at_sockets(q);
            // While the sockets are unwatched, look at them again STALL after the last look.
            let unwatched = q
                .unwatched_since
                .map(|since| STALL.saturating_sub(since.elapsed()));
            let waiting = q.ready.front().map(|(_, since)| since.elapsed());
            match waiting {
                Some(_) if q.workers + q.starting == 0 => break,
                Some(age) if q.idle == 0 && !q.polling && q.starting == 0 => {
                    if age >= STALL {
                        break;
                    }
                    q = shared.watcher_wait(q, Some(earliest(STALL - age, unwatched)));
                }
                // A worker is idle or starting and should take it. Look again after STALL all
                // the same: that worker may take another client's batch and block in its
                // callback, and nothing would wake this thread for the one left waiting.
                Some(_) => q = shared.watcher_wait(q, Some(earliest(STALL, unwatched))),
                None => {
                    q.watcher_parked = true;
                    q = shared.watcher_wait(q, unwatched);
                    q.watcher_parked = false;
                }
            }
        }
        q.starting += 1;
        true
    }

    /// Stop serving (interpreter or process exit): the watcher returns `false`, idle workers
    /// [`Next::Exit`], busy ones once their batch is done.
    pub fn shutdown(&self) {
        lock(&self.shared.queue).stopped = true;
        self.shared.work.notify_all();
        self.shared.watcher.notify_all();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(sockets) = &self.shared.sockets {
            sockets.ring();
            sockets.bell();
        }
    }
}

/// The sooner of `a` and `b` (`None`: no deadline).
fn earliest(a: Duration, b: Option<Duration>) -> Duration {
    b.map_or(a, |b| a.min(b))
}

impl<T: Send + Sync + 'static> Shared<T> {
    fn push(&self, slot: Arc<Slot<T>>, by_worker: bool) {
        let mut q = lock(&self.queue);
        self.push_locked(&mut q, slot, Instant::now(), by_worker);
    }

    /// Queue `slot` (ready since `since`) and wake whoever must take it: an unclaimed idle
    /// worker, the worker waiting on the sockets, or else the watcher (which starts one if the
    /// slot waits [`STALL`]). Never more than one. None when a worker queues it with nothing
    /// ahead (`by_worker`): that worker takes it next.
    fn push_locked(&self, q: &mut Queue<T>, slot: Arc<Slot<T>>, since: Instant, by_worker: bool) {
        let ahead = !q.ready.is_empty();
        q.ready.push_back((slot, since));
        if by_worker && !ahead {
            return;
        }
        if q.idle > 0 {
            q.idle -= 1;
            q.claimed += 1;
            self.work.notify_one();
        } else if q.polling {
            q.polling = false;
            self.ring_poller();
        } else {
            self.wake_watcher();
        }
    }

    /// Where the watcher waits: on its condvar, or (when the workers watch the sockets) on its
    /// bell and alarm.
    fn watcher_wait<'a>(
        &'a self,
        q: MutexGuard<'a, Queue<T>>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, Queue<T>> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(sockets) = &self.sockets {
            drop(q);
            sockets.watcher_wait(timeout);
            let mut q = lock(&self.queue);
            q.alarm_armed = false;
            return q;
        }
        match timeout {
            Some(t) => {
                self.watcher
                    .wait_timeout(q, t)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => self.watcher.wait(q).unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// The watcher's turn on the sockets: when nobody has waited on them for [`STALL`] (every
    /// worker is in a batch), queue the clients whose sockets became readable meanwhile, as
    /// waiting since then, so a worker is started for them if none comes free.
    fn look_at_sockets<'a>(&'a self, q: MutexGuard<'a, Queue<T>>) -> MutexGuard<'a, Queue<T>> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(sockets) = &self.sockets {
            let mut q = q;
            let Some(since) = q.unwatched_since else {
                return q;
            };
            if q.poll_taken || since.elapsed() < STALL {
                return q;
            }
            q.poll_taken = true;
            drop(q);
            let found = sockets.wait(Some(Duration::ZERO));
            let mut q = lock(&self.queue);
            q.poll_taken = false;
            for slot in found {
                slot.notify_locked(&mut q, since, false);
            }
            if q.unwatched_since.is_some() {
                q.unwatched_since = Some(Instant::now());
            }
            self.hand_over_sockets(&mut q);
            return q;
        }
        q
    }

    /// Nobody waits on the sockets now: an idle worker takes them, or else the watcher's alarm
    /// is set to look at them after [`STALL`].
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn hand_over_sockets(&self, q: &mut Queue<T>) {
        let Some(sockets) = &self.sockets else {
            return;
        };
        if q.idle > 0 {
            q.idle -= 1;
            q.claimed += 1;
            self.work.notify_one();
            return;
        }
        if q.unwatched_since.is_none() {
            q.unwatched_since = Some(Instant::now());
        }
        // A watcher waiting with a deadline looks by itself; a parked one needs the alarm.
        if q.watcher_parked && !q.alarm_armed {
            sockets.arm(STALL);
            q.alarm_armed = true;
        }
    }
}

impl<T> Shared<T> {
    /// Wake the worker waiting on the sockets.
    fn ring_poller(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(sockets) = &self.sockets {
            sockets.ring();
        }
    }

    fn wake_watcher(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(sockets) = &self.sockets {
            // The bell stays rung until the watcher waits again, so it is never lost.
            sockets.bell();
            return;
        }
        self.watcher.notify_one();
    }
}

impl<T: Send + Sync + 'static> Wake for Slot<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.mark_queued() {
            self.shared.push(self.clone(), false);
        }
    }
}

impl<T: Send + Sync + 'static> Slot<T> {
    fn new(tag: T, events: Option<Events>, shared: &Arc<Shared<T>>) -> Arc<Self> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        static IDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        Arc::new(Slot {
            tag,
            events: Mutex::new(events),
            state: AtomicU8::new(QUEUED),
            shared: shared.clone(),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            watch: Mutex::new(None),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            id: IDS.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Mark the slot woken: `true` when it must be queued now, `false` when it is queued or
    /// with a worker already (then it is polled again when that worker is done).
    fn mark_queued(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (next, queue) = match state {
                IDLE => (QUEUED, true),
                RUNNING => (NOTIFIED, false),
                _ => return false,
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return queue,
                Err(now) => state = now,
            }
        }
    }

    /// [`wake`](Wake::wake) with the queue locked: ready since `since`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn notify_locked(self: &Arc<Self>, q: &mut Queue<T>, since: Instant, by_worker: bool) {
        if self.mark_queued() {
            self.shared.push_locked(q, self.clone(), since, by_worker);
        }
    }

    /// Watch the socket of the stream's current link, and no other (`None`: the stream ended).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn sync_watch(self: &Arc<Self>, stream: Option<&Events>) {
        use std::os::fd::AsRawFd;
        let Some(sockets) = &self.shared.sockets else {
            return;
        };
        let want = stream.and_then(|s| s.watched_link());
        let mut watch = lock(&self.watch);
        if watch.as_ref().map(|w| w.0) == want {
            return;
        }
        if let Some((_, fd)) = watch.take() {
            sockets.unwatch(self.id, fd.as_raw_fd());
        }
        let (Some(link), Some(stream)) = (want, stream) else {
            return;
        };
        let Some(fd) = stream.duplicate_watched_socket(link) else {
            return;
        };
        match sockets.watch(self.id, Arc::downgrade(self), fd.as_raw_fd()) {
            Ok(()) => *watch = Some((link, fd)),
            Err(e) => {
                // Its arrivals are then read at the heartbeat's pace only.
                tracing::warn!(target: "wstether", error = %e, "dispatcher: cannot watch a client's socket");
            }
        }
    }

    /// Poll the stream (state `RUNNING`): a batch, the end (empty), or `None` when nothing is
    /// ready (the slot then waits for its waker).
    fn poll(self: &Arc<Self>) -> Option<Batch> {
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut events = lock(&self.events);
        let Some(stream) = events.as_mut() else {
            return Some(Batch::default());
        };
        if let Poll::Ready(batch) = stream.poll_next_packed(&mut cx, BATCH) {
            if batch.is_empty() {
                // Ended: dropping the stream releases the engine (and its waker, this slot).
                *events = None;
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            self.sync_watch(events.as_ref());
            return Some(batch);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        self.sync_watch(events.as_ref());
        drop(events);
        if self
            .state
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Woken while polling: poll again, after the clients already waiting.
            self.state.store(QUEUED, Ordering::Release);
            self.shared.push(self.clone(), true);
        }
        None
    }
}

impl<T: Send + Sync + 'static> Worker<T> {
    /// Block until a client has events (or its stream ended) and return them.
    pub fn next(&self) -> Next<T> {
        let shared = &self.shared;
        let mut q = lock(&shared.queue);
        loop {
            if q.stopped {
                q.workers -= 1;
                self.exited.store(true, Ordering::Relaxed);
                return Next::Exit;
            }
            if let Some((slot, _)) = q.ready.pop_front() {
                drop(q);
                slot.state.store(RUNNING, Ordering::Release);
                if let Some(batch) = slot.poll() {
                    HANDLING.with(|h| h.set(Arc::as_ptr(&slot) as usize));
                    let ended = batch.is_empty();
                    return Next::Work(Work { slot, batch, ended });
                }
                q = lock(&shared.queue);
                continue;
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(sockets) = &shared.sockets {
                if !q.poll_taken {
                    q.poll_taken = true;
                    q.polling = true;
                    q.unwatched_since = None;
                    if q.alarm_armed {
                        sockets.disarm();
                        q.alarm_armed = false;
                    }
                    drop(q);
                    let found = sockets.wait(None);
                    let now = Instant::now();
                    q = lock(&shared.queue);
                    q.poll_taken = false;
                    q.polling = false;
                    for slot in found {
                        slot.notify_locked(&mut q, now, true);
                    }
                    if !q.ready.is_empty() {
                        // This thread leaves the sockets for work: someone else must watch.
                        shared.hand_over_sockets(&mut q);
                    }
                    continue;
                }
            }
            q.idle += 1;
            let (guard, wait) = shared
                .work
                .wait_timeout(q, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            q = guard;
            // Whichever waiter wakes (notified, timed out or spurious) leaves the waiting
            // count once: as a claimed worker while any claim is open, else as an idle one.
            if q.claimed > 0 {
                q.claimed -= 1;
            } else {
                q.idle -= 1;
            }
            if wait.timed_out() && q.ready.is_empty() && q.workers > 1 {
                q.workers -= 1;
                self.exited.store(true, Ordering::Relaxed);
                return Next::Exit;
            }
        }
    }

    /// The binding has handled `work`: the client is polled again (after the others waiting),
    /// or, after its last work, marked finished.
    pub fn done(&self, work: Work<T>) {
        HANDLING.with(|h| h.set(0));
        let slot = work.slot;
        if work.ended {
            *lock(&slot.finished) = true;
            slot.finished_cv.notify_all();
            return;
        }
        slot.state.store(QUEUED, Ordering::Release);
        // The binding calls `next` after `done` on this thread (or drops the worker, which
        // wakes the watcher), so this thread takes it unless others wait ahead.
        self.shared.push(slot, true);
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        if self.exited.load(Ordering::Relaxed) {
            return;
        }
        lock(&self.shared.queue).workers -= 1;
        // Someone must take over what is queued.
        self.shared.wake_watcher();
    }
}

impl<T> Work<T> {
    /// The tag the client was added with.
    pub fn tag(&self) -> &T {
        &self.slot.tag
    }

    /// Whether the stream has ended (this is the client's last work).
    pub fn ended(&self) -> bool {
        self.ended
    }
}

impl<T> Handle<T> {
    /// The tag the client was added with.
    pub fn tag(&self) -> &T {
        &self.slot.tag
    }

    /// Wait until the end of the stream has been handled, at most `timeout`. Returns at once
    /// (false) on the thread that is handling this client's batch (a callback closing its own
    /// client), and in a forked child (nothing serves the parent's dispatcher there).
    pub fn wait_finished(&self, timeout: Duration) -> bool {
        let me = Arc::as_ptr(&self.slot) as usize;
        if HANDLING.with(|h| h.get()) == me
            || self.slot.shared.generation != crate::runtime::fork_generation()
        {
            return false;
        }
        let deadline = Instant::now() + timeout;
        let mut finished = lock(&self.slot.finished);
        while !*finished {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            finished = self
                .slot
                .finished_cv
                .wait_timeout(finished, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Item;
    use crate::event::Event;
    use std::sync::mpsc;
    use std::thread;

    /// A slot whose stream has ended already: a worker takes it as one (empty) work.
    fn ended_slot(d: &Dispatcher<u32>, tag: u32) -> Arc<Slot<u32>> {
        Slot::new(tag, None, &d.shared)
    }

    /// Two slots queued before the one idle worker wakes: the worker takes the first and blocks
    /// in its handler; the second must not wait for that worker (it was counted on twice).
    #[test]
    fn two_pushes_do_not_both_count_on_one_idle_worker() {
        let d = Arc::new(Dispatcher::<u32>::new());
        let (served_tx, served) = mpsc::channel::<u32>();
        let (release_tx, release) = mpsc::channel::<()>();
        let release = Arc::new(Mutex::new(release));
        let watcher = d.clone();
        thread::spawn(move || {
            while watcher.watch() {
                let (d, tx, release) = (watcher.clone(), served_tx.clone(), release.clone());
                thread::spawn(move || {
                    let worker = d.worker();
                    while let Next::Work(work) = worker.next() {
                        let tag = *work.tag();
                        if tag == 1 {
                            let _ = lock(&release).recv();
                        }
                        let _ = tx.send(tag);
                        worker.done(work);
                    }
                });
            }
        });
        // A first slot brings up one worker, which then waits idle.
        d.shared.push(ended_slot(&d, 0), false);
        assert_eq!(served.recv_timeout(Duration::from_secs(5)), Ok(0));
        let deadline = Instant::now() + Duration::from_secs(5);
        // ... and the watcher waits for a push (with nothing queued, it looks at nothing).
        while !{
            let q = lock(&d.shared.queue);
            (q.idle == 1 || q.polling) && q.watcher_parked
        } {
            assert!(Instant::now() < deadline, "the worker never went idle");
            thread::yield_now();
        }
        {
            let mut q = lock(&d.shared.queue);
            let now = Instant::now();
            d.shared.push_locked(&mut q, ended_slot(&d, 1), now, false);
            d.shared.push_locked(&mut q, ended_slot(&d, 2), now, false);
        }
        let got = served.recv_timeout(Duration::from_secs(2));
        release_tx.send(()).unwrap();
        assert_eq!(got, Ok(2), "slot 2 was left behind the blocked handler");
        d.shutdown();
    }

    /// A client whose link was watched and which then closed leaves nothing behind among the
    /// sockets (each entry would hold its slot's memory for good).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closed_client_leaves_no_watched_socket_behind() {
        let server = wstether_testkit::TestServer::start().await.unwrap();
        let d = Arc::new(Dispatcher::<u32>::new());
        let client = crate::Client::builder(server.url())
            .heartbeat(None)
            .handshake_budget(None)
            .build()
            .unwrap();
        let events = client.events().unwrap();
        let handle = d.add(events, 0);
        let (open_tx, open) = mpsc::channel::<()>();
        let serving = d.clone();
        let worker = thread::spawn(move || {
            let worker = serving.worker();
            while let Next::Work(work) = worker.next() {
                if work
                    .batch
                    .iter()
                    .any(|e| matches!(e, Item::Event(Event::Open { .. })))
                {
                    let _ = open_tx.send(());
                }
                worker.done(work);
            }
        });
        client.connect().unwrap();
        open.recv_timeout(Duration::from_secs(5)).expect("open");
        let sockets = d.shared.sockets.as_ref().expect("a poll of its own");
        let deadline = Instant::now() + Duration::from_secs(5);
        while sockets.watched() != 1 {
            assert!(
                Instant::now() < deadline,
                "the open link's socket was never watched"
            );
            thread::yield_now();
        }
        client.close(1000, "").await.unwrap();
        assert!(tokio::task::block_in_place(
            || handle.wait_finished(Duration::from_secs(5))
        ));
        assert_eq!(
            sockets.watched(),
            0,
            "the ended client is still among the sockets"
        );
        d.shutdown();
        tokio::task::block_in_place(|| worker.join().unwrap());
    }
}
