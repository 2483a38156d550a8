//! The `auth` option: a JS function (possibly async) called before every attempt, through a
//! threadsafe function, from the core's `AuthProvider` future on a tokio worker.

use std::sync::Arc;

use napi::bindgen_prelude::{FnArgs, FromNapiValue, Function, Promise, Status};
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

/// `(attempt, afterUnauthorized) => Promise<R>`; weak, so it never keeps Node alive.
type AttemptTsfn<R> =
    ThreadsafeFunction<AuthRequest, Promise<R>, FnArgs<(u32, bool)>, Status, false, true>;

/// A JS function the core calls before every attempt (`auth`, a `url` function), resolving
/// to `R`.
pub struct AttemptCallback<R: FromNapiValue + 'static> {
    tsfn: Arc<AttemptTsfn<R>>,
    /// The option's name, for error messages.
    what: &'static str,
}

impl<R: FromNapiValue + Send + 'static> AttemptCallback<R> {
    /// Wrap `f` (called on the JS thread, while constructing the client).
    pub fn new(
        f: Function<'_, FnArgs<(u32, bool)>, Promise<R>>,
        what: &'static str,
    ) -> JsResult<Self> {
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
        Ok(AttemptCallback {
            tsfn: Arc::new(tsfn),
            what,
        })
    }

    /// Call the function for `request` and wait for what it resolves to.
    pub fn call(
        &self,
        request: AuthRequest,
    ) -> impl std::future::Future<Output = Result<R, String>> + Send + 'static {
        let (tsfn, what) = (self.tsfn.clone(), self.what);
        async move {
            let promise = tsfn
                .call_async_catch(request)
                .await
                .map_err(|e| format!("{what} callback could not run: {}", e.reason))?;
            promise
                .await
                .map_err(|e| format!("{what} callback failed: {}", e.reason))
        }
    }
}

/// An `AuthProvider` calling into JS.
pub struct JsAuth(AttemptCallback<AuthOutcome>);

/// The JS function type the constructor receives.
pub type AuthFunction<'a> = Function<'a, FnArgs<(u32, bool)>, Promise<AuthOutcome>>;

impl JsAuth {
    /// Wrap `f` (called on the JS thread, while constructing the client).
    pub fn new(f: AuthFunction<'_>) -> JsResult<Self> {
        AttemptCallback::new(f, "auth").map(JsAuth)
    }
}

impl AuthProvider for JsAuth {
    fn headers(&self, request: AuthRequest) -> AuthFuture {
        let outcome = self.0.call(request);
        Box::pin(async move {
            let outcome = outcome.await?;
            match (outcome.headers, outcome.error) {
                (_, Some(message)) => Err(message),
                (Some(flat), None) => Ok(header_pairs(flat)),
                (None, None) => Ok(Vec::new()),
            }
        })
    }
}
