//! The exported client: a thin handle over `wstether::Client`.

use std::sync::{Arc, Mutex};

use wstether::Events;

use crate::auth::{self, AuthProvider, ForeignAuth, GreetingProvider};
use crate::bytes::FfiBytes;
use crate::convert;
use crate::errors::FfiError;
use crate::events::{FfiEvent, FfiMessage, FfiPackedBatch, FfiSendStatus, FfiState};
use crate::options::FfiOptions;
use crate::stats::{FfiStats, FfiTransition};
use crate::transport::{ForeignUrl, UrlProvider};

/// Most events one `next_batch` call may carry, whatever the host asks for.
const MAX_BATCH: u32 = 4096;

/// A WebSocket client that stays connected. Host layers wrap it; see `mobile/`.
///
/// Named methods avoid `close`/`destroy`, which uniffi's generated Kotlin objects already own:
/// closing the connection is [`shutdown`](Self::shutdown).
#[derive(uniffi::Object)]
pub struct FfiClient {
    inner: wstether::Client,
    // Drained by the host's event thread through `next_batch`, or handed to the shared
    // dispatcher by `start_dispatch`.
    events: Mutex<Option<Events>>,
    /// The client's slot in the shared dispatcher, once started.
    dispatch: std::sync::OnceLock<wstether::dispatch::Handle<u64>>,
}

#[uniffi::export]
impl FfiClient {
    /// Validate every option and build the client (in `Idle`; call `connect`).
    #[uniffi::constructor]
    pub fn new(
        url: String,
        options: FfiOptions,
        auth: Option<Arc<dyn AuthProvider>>,
        greeting: Option<Arc<dyn GreetingProvider>>,
    ) -> Result<Arc<Self>, FfiError> {
        Self::start(convert::builder(url, options)?, auth, greeting)
    }

    /// Like `new`, with the URL named by `url_provider` before every attempt.
    #[uniffi::constructor]
    pub fn with_url_provider(
        url_provider: Arc<dyn UrlProvider>,
        options: FfiOptions,
        auth: Option<Arc<dyn AuthProvider>>,
        greeting: Option<Arc<dyn GreetingProvider>>,
    ) -> Result<Arc<Self>, FfiError> {
        let url = "ws://url-provider.invalid/".to_string();
        let builder = convert::builder(url, options)?.url_provider(ForeignUrl(url_provider));
        Self::start(builder, auth, greeting)
    }

    /// Move to `url` at once (a server-directed reconnect): the link closes with 1000 and the
    /// client connects to `url` without a backoff delay; `url` is its URL from then on.
    pub fn reconnect_to(&self, url: String) -> Result<(), FfiError> {
        self.inner.reconnect_to(&url).map_err(convert::error)
    }

    /// Start connecting. Does nothing while connecting or open.
    pub fn connect(&self) -> Result<(), FfiError> {
        self.inner.connect().map_err(convert::error)
    }

    /// Queue a text message; never blocks.
    pub fn send_text(&self, text: String) -> Result<FfiSendStatus, FfiError> {
        convert::send_status(self.inner.send_text(text))
    }

    /// Queue a binary message; never blocks.
    pub fn send_binary(&self, data: FfiBytes) -> Result<FfiSendStatus, FfiError> {
        convert::send_status(self.inner.send_binary(data.0))
    }

    /// Close with `code` (1000 or 3000–4999) and `reason`; returns every accepted message never
    /// written. Idempotent. Awaitable from any executor: the work runs on the core's runtime.
    pub async fn shutdown(&self, code: u16, reason: String) -> Result<Vec<FfiMessage>, FfiError> {
        let client = self.inner.clone();
        let task =
            wstether::runtime::handle().spawn(async move { client.close(code, &reason).await });
        match task.await {
            Ok(result) => result
                .map(|unsent| unsent.into_iter().map(convert::message_out).collect())
                .map_err(convert::error),
            Err(join) => Err(FfiError::Closed {
                description: format!("close task ended abnormally: {join}"),
            }),
        }
    }

    /// Blocking form of `shutdown` for hosts without an executor at hand (Kotlin's
    /// `AutoCloseable.close`). Call it from a host thread, never from a runtime worker.
    pub fn shutdown_blocking(
        &self,
        code: u16,
        reason: String,
    ) -> Result<Vec<FfiMessage>, FfiError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            // block_on inside a runtime would panic; say so instead.
            return Err(FfiError::InvalidOption {
                option: "shutdown_blocking".into(),
                reason: "called from async code; use shutdown".into(),
                description: "shutdown_blocking called from async code; use shutdown".into(),
            });
        }
        let client = self.inner.clone();
        wstether::runtime::shared()
            .block_on(async move { client.close(code, &reason).await })
            .map(|unsent| unsent.into_iter().map(convert::message_out).collect())
            .map_err(convert::error)
    }

    /// Close the link and stay disconnected until `resume`. Sends keep queueing.
    pub fn pause(&self) -> Result<(), FfiError> {
        self.inner.pause().map_err(convert::error)
    }

    /// Leave `Paused` and connect at once.
    pub fn resume(&self) -> Result<(), FfiError> {
        self.inner.resume().map_err(convert::error)
    }

    /// Skip the current backoff delay.
    pub fn reconnect_now(&self) -> Result<(), FfiError> {
        self.inner.reconnect_now().map_err(convert::error)
    }

    /// The network changed: verify the link now with a short ping, or retry now if waiting.
    pub fn network_changed(&self) -> Result<(), FfiError> {
        self.inner.network_changed().map_err(convert::error)
    }

    /// The URL with its password and token-like query values hidden.
    pub fn redacted_url(&self) -> String {
        self.inner.config().redacted_url()
    }

    /// The current state.
    pub fn state(&self) -> FfiState {
        convert::state(self.inner.state())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> FfiStats {
        convert::stats(self.inner.stats())
    }

    /// The last 64 state changes, oldest first.
    pub fn history(&self) -> Vec<FfiTransition> {
        self.inner
            .history()
            .into_iter()
            .map(convert::transition)
            .collect()
    }

    /// Block until at least one event is ready and return up to `max` of them; an empty list
    /// means the stream has ended (after `Failed`, or after `shutdown` completed). Call it from
    /// one dedicated host thread per client, in a loop: it holds no host lock while it waits,
    /// and while it waits it reads the link's data frames itself (one busy thread less per
    /// message). Between calls the client reads again only at heartbeat ticks (or at once with no
    /// heartbeat), so come back promptly.
    pub fn next_batch(&self, max: u32) -> Vec<FfiEvent> {
        self.blocking_batch(max)
            .into_iter()
            .map(convert::event)
            .collect()
    }

    /// Serve this client's events on the process's shared worker threads (see [`crate::FfiWorker`]),
    /// tagged `client_id`, instead of a thread of its own calling `next_batch`. Once per client.
    pub fn start_dispatch(&self, client_id: u64) -> Result<(), FfiError> {
        let events = self
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| convert::error(wstether::Error::EventsTaken))?;
        let _ = self
            .dispatch
            .set(crate::dispatch::shared().add(events, client_id));
        Ok(())
    }

    /// After `shutdown`: wait until the stream's last events were handed to the host and handled,
    /// at most `timeout_secs`. False at once on the worker thread handling this client's batch.
    pub fn wait_dispatched(&self, timeout_secs: f64) -> bool {
        let Some(handle) = self.dispatch.get() else {
            return true;
        };
        let timeout = std::time::Duration::try_from_secs_f64(timeout_secs.max(0.0))
            .unwrap_or(wstether::limits::MAX_DURATION);
        handle.wait_finished(timeout)
    }

    /// [`next_batch`](Self::next_batch) with inbound messages packed into one byte string
    /// (see [`FfiPackedBatch`]): what a host uses when throughput matters. Empty `data`
    /// means the stream has ended.
    pub fn next_packed_batch(&self, max: u32) -> FfiPackedBatch {
        convert::packed(self.blocking_batch(max).into_iter().collect())
    }
}

impl FfiClient {
    /// Add the providers and start the client on the process-wide runtime.
    fn start(
        mut builder: wstether::ClientBuilder,
        auth: Option<Arc<dyn AuthProvider>>,
        greeting: Option<Arc<dyn GreetingProvider>>,
    ) -> Result<Arc<Self>, FfiError> {
        if let Some(provider) = auth {
            builder = builder.auth(ForeignAuth(provider));
        }
        if let Some(provider) = greeting {
            builder = builder.greeting_async(auth::greeting_fn(provider));
        }
        // Every client runs on the process-wide runtime: foreign threads have no runtime context.
        let inner = builder
            .runtime(wstether::runtime::handle())
            .build()
            .map_err(convert::error)?;
        let events = inner.events().map_err(convert::error)?;
        Ok(Arc::new(FfiClient {
            inner,
            events: Mutex::new(Some(events)),
            dispatch: std::sync::OnceLock::new(),
        }))
    }
}

impl FfiClient {
    fn blocking_batch(&self, max: u32) -> Vec<wstether::Event> {
        let max = max.clamp(1, MAX_BATCH) as usize;
        let mut slot = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let Some(events) = slot.as_mut() else {
            return Vec::new();
        };
        let batch = events.blocking_pull_batch(max);
        if batch.is_empty() {
            // Ended: release the receiver so later calls return at once.
            *slot = None;
        }
        batch
    }
}
