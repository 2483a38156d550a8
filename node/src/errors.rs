//! Core errors to JS errors: each gets a stable `code` string that the TypeScript layer maps to an
//! `Error` subclass (see `lib/errors.ts`).

use napi::bindgen_prelude::Status;

/// The `code` property of a JS error thrown by the native layer.
#[derive(Clone, Copy, Debug)]
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl From<Status> for Code {
    // napi's own failures (a value of the wrong type reached a native method) are argument errors.
    fn from(_: Status) -> Self {
        Code("ERR_INVALID_ARG_TYPE")
    }
}

/// A JS error with a `code`.
pub type JsError = napi::Error<Code>;
/// The result of every native method.
pub type JsResult<T> = std::result::Result<T, JsError>;

/// The stable code of a core error.
pub fn code_of(e: &wstether::Error) -> &'static str {
    use wstether::Error as E;
    match e {
        E::InvalidUrl { .. } => "ERR_INVALID_URL",
        E::InvalidScheme { .. } => "ERR_INVALID_SCHEME",
        E::InvalidHeader { .. } => "ERR_INVALID_HEADER",
        E::InvalidOption { .. } => "ERR_INVALID_OPTION",
        E::InvalidCertificate(_) => "ERR_INVALID_CERTIFICATE",
        E::MessageTooLarge { .. } => "ERR_MESSAGE_TOO_LARGE",
        E::QueueFull { .. } => "ERR_QUEUE_FULL",
        E::InvalidCloseCode(_) => "ERR_INVALID_CLOSE_CODE",
        E::CloseReasonTooLong(_) => "ERR_CLOSE_REASON_TOO_LONG",
        E::Closed => "ERR_CLOSED",
        E::Failed => "ERR_FAILED",
        E::EventsTaken => "ERR_EVENTS_TAKEN",
        E::Timeout(_) => "ERR_TIMEOUT",
        _ => "ERR_WSTETHER",
    }
}

/// Convert a core error into a JS error.
pub fn to_js(e: wstether::Error) -> JsError {
    napi::Error::new(Code(code_of(&e)), e.to_string())
}

/// An invalid option detected while converting JS values.
pub fn invalid_option(option: &'static str, reason: &str) -> JsError {
    to_js(wstether::Error::InvalidOption {
        option,
        reason: reason.to_string(),
    })
}

/// A failure of napi itself (creating a JS value or a threadsafe function).
pub fn from_napi(e: napi::Error) -> JsError {
    napi::Error::new(Code("ERR_WSTETHER"), e.reason.clone())
}

/// Shorthand: `core_call().map_err(to_js)`.
pub trait IntoJs<T> {
    /// Convert the error side into a JS error.
    fn js(self) -> JsResult<T>;
}

impl<T> IntoJs<T> for Result<T, wstether::Error> {
    fn js(self) -> JsResult<T> {
        self.map_err(to_js)
    }
}

impl<T> IntoJs<T> for napi::Result<T> {
    fn js(self) -> JsResult<T> {
        self.map_err(from_napi)
    }
}
