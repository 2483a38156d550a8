//! The tokio task of one client. It decides nothing: it drives the [`Engine`] (and so the
//! machine) whenever a timer or the socket's readiness says so, and runs the two things that
//! must wait outside the engine's lock — an attempt (auth provider, TCP, TLS, upgrade) and the
//! greeting provider — feeding their results back. Quinn's `ConnectionDriver`, in short.

use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::FutureExt;
use tokio::time::{sleep_until, timeout};
use tracing::error;

use crate::clock::Clock;
use crate::config::{AuthRequest, Config};
use crate::connect::{self, Link};
use crate::engine::{lock, Engine, Task};
use crate::event::{Cause, Message};
use crate::machine::Settings;

/// The machine's settings from the client's configuration.
pub(crate) fn settings(config: &Config) -> Settings {
    Settings {
        log_url: config.redacted_url(),
        host_key: config.host_key.clone(),
        url: config.url.clone(),
        locate: config.url_provider.is_some(),
        backoff: config.backoff.clone(),
        max_retries: config.max_retries,
        max_elapsed: config.max_elapsed,
        heartbeat: config.heartbeat.clone(),
        terminal: config.terminal.clone(),
        handshake_budget: config.handshake_budget,
        connect_timeout: config.connect_timeout,
        close_timeout: config.close_timeout,
    }
}

type Attempt = Pin<Box<dyn Future<Output = Result<Link, Cause>> + Send>>;
type Locating = Pin<Box<dyn Future<Output = Result<url::Url, Cause>> + Send>>;
type GreetingRun = Pin<Box<dyn Future<Output = Result<Vec<Message>, String>> + Send>>;

/// The client's task: drives the engine at timers and I/O readiness, and runs what must wait
/// outside its lock (attempts, the greeting provider).
pub(crate) struct Driver {
    engine: Arc<Mutex<Engine>>,
    config: Arc<Config>,
    clock: Clock,
    attempt: Option<Attempt>,
    /// The URL provider, asked at the start of an attempt.
    locating: Option<Locating>,
    greeting: Option<GreetingRun>,
    /// Made on the first poll: a timer needs the runtime's context.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Driver {
    pub fn new(engine: Arc<Mutex<Engine>>, config: Arc<Config>) -> Self {
        Driver {
            engine,
            config,
            clock: Clock::shared(),
            attempt: None,
            locating: None,
            greeting: None,
            timer: None,
        }
    }

    /// Run the client's task. Whatever ends it early — a panic, or its runtime dropping it —
    /// the client still reaches `Failed` with every unsent message, so no caller is left
    /// waiting on a client that will never move again.
    ///
    /// The guard is made here, before the task is spawned, and moved into it: a runtime that
    /// shuts down before the task's first poll drops it unpolled, and the guard must fire then
    /// too (made inside an `async fn`, it would not exist yet).
    pub fn run_guarded(mut self) -> impl Future<Output = ()> + Send + 'static {
        let mut guard = Guard {
            engine: self.engine.clone(),
            armed: true,
        };
        async move {
            let ended = AssertUnwindSafe(poll_fn(|cx| self.poll(cx)))
                .catch_unwind()
                .await;
            guard.armed = false;
            if let Err(panic) = ended {
                let why = format!("panic: {}", connect::panic_text(&*panic));
                error!(target: "wstether", url = %self.config.redacted_url(), "the client's task panicked: {why}");
                guard.fail(why);
            }
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..64 {
            let (tasks, next, ended) = {
                let mut engine = lock(&self.engine);
                let (tasks, next) = engine.drive_as_driver(cx);
                (tasks, next, engine.ended())
            };
            if ended {
                return Poll::Ready(());
            }
            for task in tasks {
                self.start(task);
            }
            if let Some(attempt) = self.attempt.as_mut() {
                if let Poll::Ready(result) = attempt.as_mut().poll(cx) {
                    self.attempt = None;
                    lock(&self.engine).attempt_done(result);
                    continue;
                }
            }
            if let Some(locating) = self.locating.as_mut() {
                if let Poll::Ready(result) = locating.as_mut().poll(cx) {
                    self.locating = None;
                    lock(&self.engine).located(result);
                    continue;
                }
            }
            if let Some(greeting) = self.greeting.as_mut() {
                if let Poll::Ready(result) = greeting.as_mut().poll(cx) {
                    self.greeting = None;
                    lock(&self.engine).greeted(result);
                    continue;
                }
            }
            if let Some(at) = next.and_then(|t| self.clock.instant(t)) {
                let timer = self.timer.get_or_insert_with(|| Box::pin(sleep_until(at)));
                if timer.deadline() != at {
                    timer.as_mut().reset(at);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    lock(&self.engine).timer_fired();
                    continue;
                }
            }
            return Poll::Pending;
        }
        // Busy: let other tasks run, then carry on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn start(&mut self, task: Task) {
        match task {
            Task::Connect {
                attempt,
                after_unauthorized,
                url,
            } => {
                let config = self.config.clone();
                let request = AuthRequest {
                    attempt,
                    after_unauthorized,
                };
                self.attempt = Some(Box::pin(async move {
                    connect::attempt(&config, &url, request).await
                }));
            }
            Task::Locate {
                attempt,
                after_unauthorized,
            } => {
                let config = self.config.clone();
                let request = AuthRequest {
                    attempt,
                    after_unauthorized,
                };
                self.locating = Some(Box::pin(async move {
                    let within = config.connect_timeout;
                    match timeout(within, connect::locate(&config, request)).await {
                        Ok(result) => result,
                        Err(_) => Err(Cause::UrlProvider(format!(
                            "no answer within connect_timeout ({within:?})"
                        ))),
                    }
                }));
            }
            // Dropping the attempt closes any half-made socket.
            Task::Abandon => {
                self.attempt = None;
                self.locating = None;
            }
            Task::Greet { within } => {
                let config = self.config.clone();
                self.greeting = Some(Box::pin(async move {
                    // The provider is the app's code: a panic in it is reported like an error.
                    let provider = AssertUnwindSafe(config.greeting.messages()).catch_unwind();
                    match timeout(within, provider).await {
                        Ok(Ok(Ok(messages))) => Ok(messages),
                        Ok(Ok(Err(why))) => Err(format!("greeting provider failed: {why}")),
                        Ok(Err(panic)) => Err(format!(
                            "greeting provider panicked: {}",
                            connect::panic_text(&*panic)
                        )),
                        Err(_) => {
                            Err("greeting provider gave no answer within connect_timeout".into())
                        }
                    }
                }));
            }
        }
    }
}

/// Ends a client whose task stopped early (see [`Driver::run_guarded`]).
struct Guard {
    engine: Arc<Mutex<Engine>>,
    /// Still waiting for the task to end; a drop while armed means the task was cancelled.
    armed: bool,
}

impl Guard {
    fn fail(&self, why: String) {
        lock(&self.engine).fail_stranded(why);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.armed {
            self.fail("the runtime stopped the client's task".into());
        }
    }
}
