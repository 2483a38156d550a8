//! The largest value each option accepts. `build()` refuses anything beyond with
//! [`Error::InvalidOption`] naming the limit; bindings read these constants (and the messages
//! built here) instead of restating them.
//!
//! Why these numbers:
//! - **Durations: 365 days.** Longer than any sensible timeout, ping interval or retry delay (a
//!   longer value is a unit mistake, e.g. milliseconds given as seconds), and far inside every
//!   clock the client uses: tokio's timer wheel spans about 2.2 years (2^36 ms), `Instant + d`
//!   cannot overflow, and the value is exact as seconds or milliseconds in an `f64`. Two of
//!   them added (`interval + timeout`) still fit. `None` is the way to say "never" for
//!   `max_retries`/`max_elapsed`, and a disabled heartbeat for "no pings".
//! - **Message size and outbox bytes: 1 GiB.** A WebSocket client holding more than that per
//!   message or in its queue is a misconfiguration; the bound keeps every length inside a
//!   `u32` (the packed FFI batch, a Node `Buffer`) and sums of sizes far from `usize` overflow,
//!   also on 32-bit targets.
//! - **Queued messages: 2^24; event buffer: 2^20 messages.** The event buffer is a credit count
//!   for inbound messages waiting for a slow consumer (a tokio semaphore, whose own ceiling is
//!   `usize::MAX >> 3`); beyond a million, backpressure is off in all but name.
//! - **Handshake budget: 1,000,000 per second per host.** More than any host can complete;
//!   `None` turns the guard off.
//! - **Retries: 1,000,000,000.** `None` means never give up; a bound under `u32::MAX` lets a
//!   binding saturate a wider host integer and still get this error.

use std::time::Duration;

use crate::error::Error;

/// Longest accepted duration for every duration option.
pub const MAX_DURATION: Duration = Duration::from_secs(MAX_DURATION_DAYS * 86_400);
/// [`MAX_DURATION`] in days, as error messages state it.
pub const MAX_DURATION_DAYS: u64 = 365;
/// Largest accepted `max_message_size`, in bytes.
pub const MAX_MESSAGE_SIZE: usize = 1 << 30;
/// Largest accepted `outbox.max_bytes`.
pub const MAX_OUTBOX_BYTES: usize = 1 << 30;
/// Largest accepted `outbox.max_messages`.
pub const MAX_OUTBOX_MESSAGES: usize = 1 << 24;
/// Largest accepted `event_buffer`, in messages.
pub const MAX_EVENT_BUFFER: usize = 1 << 20;
/// Largest accepted `handshake_budget`, in handshakes per second per host.
pub const MAX_HANDSHAKE_BUDGET: u32 = 1_000_000;
/// Largest accepted `max_retries`.
pub const MAX_RETRIES: u32 = 1_000_000_000;

/// Largest permessage-deflate window in either direction, in bits: 2^15 bytes (RFC 7692), what
/// a peer may use when the answer names no limit.
pub const MAX_WINDOW_BITS: u8 = 15;
/// Smallest `compression.client_max_window_bits`: zlib turns a raw 8-bit window into 9 bits.
pub const MIN_CLIENT_WINDOW_BITS: u8 = 9;
/// Smallest `compression.server_max_window_bits` the server may be asked for (RFC 7692 §7.1.2.1).
pub const MIN_SERVER_WINDOW_BITS: u8 = 8;

/// The error for a value over its limit, e.g. "must be at most 1048576".
pub fn too_large(option: &'static str, limit: impl Into<u64>) -> Error {
    Error::InvalidOption {
        option,
        reason: format!("must be at most {}", limit.into()),
    }
}

/// The error for a duration over [`MAX_DURATION`] (or not representable at all).
pub fn too_long(option: &'static str) -> Error {
    Error::InvalidOption {
        option,
        reason: format!("must be at most {MAX_DURATION_DAYS} days"),
    }
}

/// Refuse a duration over [`MAX_DURATION`].
pub fn check_duration(option: &'static str, d: Duration) -> Result<(), Error> {
    if d > MAX_DURATION {
        Err(too_long(option))
    } else {
        Ok(())
    }
}

/// Refuse a count or size over `limit`.
pub fn check_at_most(option: &'static str, value: usize, limit: usize) -> Result<(), Error> {
    if value > limit {
        Err(too_large(option, limit as u64))
    } else {
        Ok(())
    }
}

/// A count or size from a host language's unsigned integer: values a `usize` cannot hold
/// saturate, so they meet the option's limit in `build()` instead of wrapping.
pub fn saturating_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// [`saturating_usize`] for the `u32` options (`max_retries`, `handshake_budget`).
pub fn saturating_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

// The event buffer stays far under what a counter or a semaphore can hold.
const _: () = assert!(MAX_EVENT_BUFFER < usize::MAX >> 3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_fit_the_clocks_and_types_they_feed() {
        // interval + timeout of two maximal durations still fits tokio's timer wheel (2^36 ms).
        assert!((MAX_DURATION * 2).as_millis() < 1 << 36);
        // Exact in an f64, as seconds and as milliseconds.
        assert_eq!(MAX_DURATION.as_secs_f64() as u64, MAX_DURATION.as_secs());
        assert_eq!(
            (MAX_DURATION.as_millis() as f64) as u128,
            MAX_DURATION.as_millis()
        );
        // Sizes fit a u32 length prefix and sum without overflow even on 32-bit targets.
        assert!(u32::try_from(MAX_MESSAGE_SIZE).is_ok());
        assert!((MAX_OUTBOX_BYTES as u64 + MAX_MESSAGE_SIZE as u64) < u64::from(u32::MAX));
        assert!(saturating_u32(u64::MAX) > MAX_RETRIES);
        assert!(saturating_u32(u64::MAX) > MAX_HANDSHAKE_BUDGET);
    }

    #[test]
    fn messages_name_the_limit() {
        assert_eq!(
            too_long("heartbeat.interval").to_string(),
            "invalid option heartbeat.interval: must be at most 365 days"
        );
        assert_eq!(
            too_large("event_buffer", MAX_EVENT_BUFFER as u64).to_string(),
            "invalid option event_buffer: must be at most 1048576"
        );
    }
}
