//! The browser functions the driver uses, as globals (so a worker has them too), and the
//! machine's time read from `performance.now()`.

use std::time::Duration;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wstether::time::Time;

#[wasm_bindgen]
extern "C" {
    /// `setTimeout(handler, ms)`: the timer's id.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    /// `clearTimeout(id)`.
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Now on the machine's timeline: `performance.now()` is monotonic and shared by every client
/// of the page, as the handshake budget needs.
pub fn now() -> Time {
    Time::from_epoch(Duration::from_secs_f64(performance_now().max(0.0) / 1e3))
}

/// Milliseconds from `now` until `at`, as `setTimeout` takes them (at most its 2^31 − 1 ms:
/// a later deadline fires early and the timer is armed again).
pub fn delay_ms(now: Time, at: Time) -> f64 {
    (at.since(now).as_secs_f64() * 1e3)
        .ceil()
        .min(2_147_483_647.0)
}

/// The wall clock, for the flight recorder.
pub fn wall() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs_f64(js_sys::Date::now().max(0.0) / 1e3)
}

/// A seed for the machine's jitter from the browser's CSPRNG.
pub fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    get_random_values(&mut bytes);
    u64::from_le_bytes(bytes)
}
