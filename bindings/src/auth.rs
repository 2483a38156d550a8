//! Foreign providers (implemented in Kotlin / Swift) adapted to the core's traits.

use std::sync::Arc;

use wstether::{AuthFuture, AuthRequest};

use crate::convert;
use crate::errors::FfiError;
use crate::events::FfiMessage;
use crate::options::{FfiAuthRequest, FfiHeader};

/// Supplies handshake headers (e.g. a fresh bearer token) before every attempt. Called on a
/// blocking-pool thread, never on a runtime worker, so it may block (e.g. refresh a token).
#[uniffi::export(with_foreign)]
pub trait AuthProvider: Send + Sync {
    /// Headers for this attempt; an error fails the attempt (`Error{auth}`) and the client retries.
    fn headers(&self, request: FfiAuthRequest) -> Result<Vec<FfiHeader>, FfiError>;
}

/// Computes the greeting (messages sent first) on every open, e.g. to resubscribe.
#[uniffi::export(with_foreign)]
pub trait GreetingProvider: Send + Sync {
    /// Messages to send first on this open.
    fn greeting(&self) -> Result<Vec<FfiMessage>, FfiError>;
}

/// The core's `AuthProvider` over a foreign one.
pub(crate) struct ForeignAuth(pub Arc<dyn AuthProvider>);

impl wstether::AuthProvider for ForeignAuth {
    fn headers(&self, request: AuthRequest) -> AuthFuture {
        let provider = self.0.clone();
        let request = FfiAuthRequest {
            attempt: request.attempt,
            after_unauthorized: request.after_unauthorized,
        };
        Box::pin(async move {
            // The host may block (network token refresh): keep it off the runtime workers.
            let call =
                wstether::runtime::handle().spawn_blocking(move || provider.headers(request));
            match call.await {
                Ok(Ok(headers)) => Ok(headers.into_iter().map(|h| (h.name, h.value)).collect()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(join) => Err(format!("auth provider panicked: {join}")),
            }
        })
    }
}

/// The core's async greeting over a foreign provider, run on the blocking pool like auth. A
/// throwing provider becomes an `Error` event from the core; the link stays up without a greeting.
pub(crate) fn greeting_fn(
    provider: Arc<dyn GreetingProvider>,
) -> impl Fn() -> wstether::GreetingFuture + Send + Sync + 'static {
    move || {
        let provider = provider.clone();
        Box::pin(async move {
            let call = wstether::runtime::handle().spawn_blocking(move || provider.greeting());
            match call.await {
                Ok(Ok(messages)) => Ok(messages.into_iter().map(convert::message_in).collect()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(join) => Err(format!("greeting provider panicked: {join}")),
            }
        })
    }
}
