//! The `auth` option: a JS function (possibly async) called before every attempt, through a
//! threadsafe function, from the core's `AuthProvider` future on a tokio worker.

use std::sync::Arc;

use napi::bindgen_prelude::{FnArgs, Function, Promise, Status};
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use wstether::{AuthFuture, AuthProvider, AuthRequest};

use crate::convert::header_pairs;
use crate::errors::{IntoJs, JsResult};

/// What the TypeScript wrapper of the user's `auth` resolves to: headers, or why it failed.
#[napi(object)]
pub struct AuthOutcome {
    /// `[name, value, name, value, …]`.
    pub headers: Option<Vec<String>>,
    /// The provider threw or rejected: its message.
    pub error: Option<String>,
}

/// `(attempt, afterUnauthorized) => Promise<AuthOutcome>`; weak, so it never keeps Node alive.
type AuthTsfn =
    ThreadsafeFunction<AuthRequest, Promise<AuthOutcome>, FnArgs<(u32, bool)>, Status, false, true>;

/// An `AuthProvider` calling into JS.
pub struct JsAuth {
    tsfn: Arc<AuthTsfn>,
}

/// The JS function type the constructor receives.
pub type AuthFunction<'a> = Function<'a, FnArgs<(u32, bool)>, Promise<AuthOutcome>>;

impl JsAuth {
    /// Wrap `f` (called on the JS thread, while constructing the client).
    pub fn new(f: AuthFunction<'_>) -> JsResult<Self> {
        let tsfn = f
            .build_threadsafe_function::<AuthRequest>()
            .weak::<true>()
            .build_callback(|ctx| {
                Ok(FnArgs::from((
                    ctx.value.attempt,
                    ctx.value.after_unauthorized,
                )))
            })
            .js()?;
        Ok(JsAuth {
            tsfn: Arc::new(tsfn),
        })
    }
}

impl AuthProvider for JsAuth {
    fn headers(&self, request: AuthRequest) -> AuthFuture {
        let tsfn = self.tsfn.clone();
        Box::pin(async move {
            let promise = tsfn
                .call_async_catch(request)
                .await
                .map_err(|e| format!("auth callback could not run: {}", e.reason))?;
            let outcome = promise
                .await
                .map_err(|e| format!("auth callback failed: {}", e.reason))?;
            match (outcome.headers, outcome.error) {
                (_, Some(message)) => Err(message),
                (Some(flat), None) => Ok(header_pairs(flat)),
                (None, None) => Ok(Vec::new()),
            }
        })
    }
}
