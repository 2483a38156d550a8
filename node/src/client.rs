//! `NativeClient`: the core `Client` as a JS class. The public `Client` in `lib/client.ts` wraps it.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Buffer, Either, Function, Object, ToNapiValue};
use napi::{sys, Env, Result};
use napi_derive::napi;
use wstether::{Client, Events, Message, SendStatus};

use crate::auth::{AuthFunction, JsAuth};
use crate::convert::{
    apply_options, message_from_js, Batch, Messages, NativeStats, NativeTransition,
};
use crate::errors::{code_of, to_js, Code, IntoJs};
use crate::greeting::{self, GreetingFunction};
use crate::options::NativeOptions;
use crate::pump::{self, Delivery};
use crate::transport::{JsUrl, UrlFunction};

/// The native half of a client.
#[napi]
pub struct NativeClient {
    inner: Client,
    events: Mutex<Option<Events>>,
    delivery: Mutex<Option<Delivery>>,
    greeting: Arc<Mutex<Vec<Message>>>,
}

#[napi]
impl NativeClient {
    /// Validate `url` and options and build the client (idle until `start`).
    #[napi(
        constructor,
        ts_args_type = "url: string, options?: NativeOptions | undefined | null, auth?: ((attempt: number, afterUnauthorized: boolean) => Promise<AuthOutcome>) | undefined | null, greeting?: (() => Promise<GreetingOutcome>) | undefined | null, urlFn?: ((attempt: number, afterUnauthorized: boolean) => Promise<UrlOutcome>) | undefined | null"
    )]
    pub fn new(
        url: String,
        options: Option<NativeOptions>,
        auth: Option<AuthFunction<'_>>,
        greeting_fn: Option<GreetingFunction<'_>>,
        url_fn: Option<UrlFunction<'_>>,
    ) -> Result<Self, Code> {
        let mut options = options;
        let greeting: Vec<Message> = options
            .as_mut()
            .and_then(|o| o.greeting.take())
            .unwrap_or_default()
            .into_iter()
            .map(message_from_js)
            .collect();
        let greeting = Arc::new(Mutex::new(greeting));
        let current = greeting.clone();
        let mut builder = Client::builder(url)
            .runtime(wstether::runtime::handle())
            .greeting_with(move || current.lock().unwrap_or_else(|e| e.into_inner()).clone());
        if let Some(o) = options {
            builder = apply_options(builder, o)?;
        }
        if let Some(f) = auth {
            builder = builder.auth(JsAuth::new(f)?);
        }
        if let Some(f) = url_fn {
            builder = builder.url_provider(JsUrl::new(f)?);
        }
        if let Some(f) = greeting_fn {
            // A greeting function replaces the list (and `setGreeting()`).
            builder = builder.greeting_async(greeting::greeting_fn(f)?);
        }
        let inner = builder.build().js()?;
        let events = inner.events().js()?;
        Ok(NativeClient {
            inner,
            events: Mutex::new(Some(events)),
            delivery: Mutex::new(None),
            greeting,
        })
    }

    /// Start delivering event batches to `onBatch` (it does not connect). A start that fails
    /// keeps the event stream, so a later call can start again; once started, later calls do
    /// nothing.
    #[napi(ts_args_type = "onBatch: (batch: Array<unknown>) => boolean")]
    pub fn start(&self, env: &Env, on_batch: Function<'_, Batch, bool>) -> Result<(), Code> {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.is_some() {
            let delivery = pump::start(env, on_batch, &mut events).js()?;
            *self.delivery.lock().unwrap_or_else(|e| e.into_inner()) = Some(delivery);
        }
        Ok(())
    }

    /// JS has dispatched a batch it held back (it returned `false` from `onBatch`): one call per batch.
    #[napi]
    pub fn resume_delivery(&self) {
        if let Some(d) = &*self.delivery.lock().unwrap_or_else(|e| e.into_inner()) {
            d.resume();
        }
    }

    /// Move to `url` at once (a server-directed reconnect).
    #[napi]
    pub fn reconnect_to(&self, url: String) -> Result<(), Code> {
        self.inner.reconnect_to(&url).js()
    }

    /// Connect (does nothing while connecting or open).
    #[napi]
    pub fn connect(&self) -> Result<(), Code> {
        self.inner.connect().js()
    }

    /// Queue a text message; `true` if it went out now, `false` if it waits in the outbox.
    #[napi]
    pub fn send_text(&self, text: String) -> Result<bool, Code> {
        self.inner.send_text(text).map(sent).js()
    }

    /// Queue a binary message (copied); `true` if sent now, `false` if queued.
    #[napi]
    pub fn send_binary(&self, data: Buffer) -> Result<bool, Code> {
        self.inner.send_binary(data.to_vec()).map(sent).js()
    }

    /// Close; resolves to `{ unsent }` or `{ code, message }` (an error the TS layer throws).
    #[napi(
        ts_return_type = "Promise<{ unsent: Array<string | Buffer> } | { code: string, message: string }>"
    )]
    pub fn close<'e>(&self, env: &'e Env, code: u32, reason: String) -> Result<Object<'e>, Code> {
        let (deferred, promise) = env.create_deferred().js()?;
        let client = self.inner.clone();
        let code = u16::try_from(code).unwrap_or(0);
        wstether::runtime::handle().spawn(async move {
            let outcome = client.close(code, &reason).await;
            deferred.resolve(move |_env| Ok(CloseOutcome(outcome)));
        });
        Ok(promise)
    }

    /// Close the link and stay disconnected until `resume()`.
    #[napi]
    pub fn pause(&self) -> Result<(), Code> {
        self.inner.pause().js()
    }

    /// Leave `paused` and connect at once.
    #[napi]
    pub fn resume(&self) -> Result<(), Code> {
        self.inner.resume().js()
    }

    /// Skip the current backoff delay.
    #[napi]
    pub fn reconnect_now(&self) -> Result<(), Code> {
        self.inner.reconnect_now().js()
    }

    /// The network changed: verify the link now.
    #[napi]
    pub fn network_changed(&self) -> Result<(), Code> {
        self.inner.network_changed().js()
    }

    /// Replace the messages sent first on every later open.
    #[napi]
    pub fn set_greeting(&self, messages: Vec<Either<String, Buffer>>) {
        let messages = messages.into_iter().map(message_from_js).collect();
        *self.greeting.lock().unwrap_or_else(|e| e.into_inner()) = messages;
    }

    /// The URL with its password and token-like query values hidden (the core's redaction).
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.inner.config().redacted_url()
    }

    /// The current state name.
    #[napi(getter)]
    pub fn state(&self) -> &'static str {
        self.inner.state().as_str()
    }

    /// A snapshot of the counters.
    #[napi]
    pub fn stats(&self) -> NativeStats {
        self.inner.stats().into()
    }

    /// The last 64 state changes, oldest first.
    #[napi]
    pub fn history(&self) -> Vec<NativeTransition> {
        self.inner.history().into_iter().map(Into::into).collect()
    }
}

fn sent(status: SendStatus) -> bool {
    status == SendStatus::Sent
}

/// The result of `close()` as a plain JS object (a deferred can only reject with a bare status).
struct CloseOutcome(std::result::Result<Vec<Message>, wstether::Error>);

impl ToNapiValue for CloseOutcome {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let js_env = Env::from_raw(env);
        let mut o = Object::new(&js_env)?;
        match val.0 {
            Ok(unsent) => o.set("unsent", Messages(unsent))?,
            Err(e) => {
                o.set("code", code_of(&e))?;
                o.set("message", to_js(e).reason)?;
            }
        }
        unsafe { Object::to_napi_value(env, o) }
    }
}
