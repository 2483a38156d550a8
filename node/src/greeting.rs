//! The `greeting` option as a JS function (possibly async), called on every open through a
//! threadsafe function and awaited by the core's async greeting on a tokio worker.

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Either, Function, Promise, Status};
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use wstether::GreetingFuture;

use crate::convert::message_from_js;
use crate::errors::{IntoJs, JsResult};

/// What the TypeScript wrapper of the user's greeting function resolves to.
#[napi(object)]
pub struct GreetingOutcome {
    /// The messages to send first on this open.
    pub messages: Option<Vec<Either<String, Buffer>>>,
    /// The function threw or rejected: its message.
    pub error: Option<String>,
}

/// `() => Promise<GreetingOutcome>`; weak, so it never keeps Node alive.
type GreetingTsfn = ThreadsafeFunction<(), Promise<GreetingOutcome>, (), Status, false, true>;

/// The JS function type the constructor receives.
pub type GreetingFunction<'a> = Function<'a, (), Promise<GreetingOutcome>>;

/// Wrap `f` (on the JS thread, while constructing the client) as the core's async greeting.
pub fn greeting_fn(
    f: GreetingFunction<'_>,
) -> JsResult<impl Fn() -> GreetingFuture + Send + Sync + 'static> {
    let tsfn: Arc<GreetingTsfn> = Arc::new(
        f.build_threadsafe_function::<()>()
            .weak::<true>()
            .build_callback(|_ctx| Ok(()))
            .js()?,
    );
    Ok(move || -> GreetingFuture {
        let tsfn = tsfn.clone();
        Box::pin(async move {
            let promise = tsfn
                .call_async_catch(())
                .await
                .map_err(|e| format!("greeting function could not run: {}", e.reason))?;
            let outcome = promise
                .await
                .map_err(|e| format!("greeting function failed: {}", e.reason))?;
            match (outcome.messages, outcome.error) {
                (_, Some(message)) => Err(message),
                (messages, None) => Ok(messages
                    .unwrap_or_default()
                    .into_iter()
                    .map(message_from_js)
                    .collect()),
            }
        })
    })
}
