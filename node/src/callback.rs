//! The core's rule for an exception in an application callback (`wstether::CallbackFailure`,
//! the `callback-error` scenario of tests/README.md), for the TypeScript layer to follow.

use napi_derive::napi;

/// What to do about a listener that threw: log `message`; deliver an `error` event with
/// `report` as its message unless it is absent (the listener was handling an `error` event).
#[napi(object)]
pub struct CallbackFailure {
    /// What to log, e.g. `'message' listener raised Error: boom`.
    pub message: String,
    /// The message of the `error` event (`kind: 'callback'`) to deliver, if any.
    pub report: Option<String>,
}

/// `callback` raised `exception` (as JS prints it) while handling an `error` event or not.
#[napi]
pub fn callback_failure(
    callback: String,
    exception: String,
    handling_error: bool,
) -> CallbackFailure {
    let failure = wstether::CallbackFailure::new(&callback, &exception, handling_error);
    let report = match failure.report {
        Some(wstether::Event::Error { message, .. }) => Some(message),
        _ => None,
    };
    CallbackFailure {
        message: failure.message,
        report,
    }
}
