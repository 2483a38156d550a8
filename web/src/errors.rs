//! The core's errors as JavaScript `Error`s with the stable `code` the Node package uses
//! (`ERR_QUEUE_FULL`, …); `node/lib/errors.ts` turns them into its classes.

use wasm_bindgen::JsValue;
use wstether::Error;

/// A JavaScript error for `e`.
pub fn to_js(e: &Error) -> JsValue {
    let code = match e {
        Error::InvalidUrl { .. } => "ERR_INVALID_URL",
        Error::InvalidScheme { .. } => "ERR_INVALID_SCHEME",
        Error::InvalidHeader { .. } => "ERR_INVALID_HEADER",
        Error::InvalidOption { .. } => "ERR_INVALID_OPTION",
        Error::InvalidCertificate(_) => "ERR_INVALID_CERTIFICATE",
        Error::MessageTooLarge { .. } => "ERR_MESSAGE_TOO_LARGE",
        Error::QueueFull { .. } => "ERR_QUEUE_FULL",
        Error::InvalidCloseCode(_) => "ERR_INVALID_CLOSE_CODE",
        Error::CloseReasonTooLong(_) => "ERR_CLOSE_REASON_TOO_LONG",
        Error::Closed => "ERR_CLOSED",
        Error::Failed => "ERR_FAILED",
        Error::EventsTaken => "ERR_EVENTS_TAKEN",
        Error::Timeout(_) => "ERR_TIMEOUT",
        _ => "ERR_WSTETHER",
    };
    coded(code, &e.to_string())
}

/// A JavaScript error with this `code` and message.
pub fn coded(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

/// `Result` with the core's error, for the exported methods.
pub trait IntoJs<T> {
    /// The error as a JavaScript value.
    fn js(self) -> Result<T, JsValue>;
}

impl<T> IntoJs<T> for Result<T, Error> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(|e| to_js(&e))
    }
}
