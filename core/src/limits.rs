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

use crate::backoff::Backoff;
use crate::error::Error;
use crate::heartbeat::{Heartbeat, PongMatch};

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

/// The error for an option whose value is wrong for `reason`.
pub fn invalid(option: &'static str, reason: &str) -> Error {
    Error::InvalidOption {
        option,
        reason: reason.to_string(),
    }
}

/// A duration option: positive and at most [`MAX_DURATION`].
pub fn positive_duration(option: &'static str, d: Duration) -> Result<(), Error> {
    if d.is_zero() {
        return Err(invalid(option, "must be greater than zero"));
    }
    check_duration(option, d)
}

/// A count or size option: positive and at most `limit`.
pub fn positive_count(option: &'static str, n: usize, limit: usize) -> Result<(), Error> {
    if n == 0 {
        return Err(invalid(option, "must be positive"));
    }
    check_at_most(option, n, limit)
}

/// The backoff curve's ranges: positive delays, `max` ≥ `initial`, `factor` ≥ 1, `jitter` in 0–1.
pub fn check_backoff(b: &Backoff) -> Result<(), Error> {
    positive_duration("backoff.initial", b.initial)?;
    positive_duration("backoff.max", b.max)?;
    check_duration("backoff.stable_after", b.stable_after)?;
    if b.max < b.initial {
        return Err(invalid("backoff.max", "must be at least backoff.initial"));
    }
    if !(b.factor.is_finite() && b.factor >= 1.0) {
        return Err(invalid("backoff.factor", "must be a finite number >= 1"));
    }
    if !(0.0..=1.0).contains(&b.jitter) {
        return Err(invalid("backoff.jitter", "must be between 0 and 1"));
    }
    Ok(())
}

/// The heartbeat's ranges: positive durations, an app ping that fits `max_message_size` and a
/// pong rule that does not match every message.
pub fn check_heartbeat(hb: &Heartbeat, max_message_size: usize) -> Result<(), Error> {
    positive_duration("heartbeat.interval", hb.interval)?;
    positive_duration("heartbeat.timeout", hb.timeout)?;
    if let Some(ping) = &hb.app_ping {
        if ping.payload.len() > max_message_size {
            return Err(invalid(
                "heartbeat.app_ping",
                &format!(
                    "payload of {} bytes exceeds max_message_size {}",
                    ping.payload.len(),
                    max_message_size
                ),
            ));
        }
        let (PongMatch::Exact(pong) | PongMatch::Contains(pong)) = &ping.pong;
        if pong.is_empty() {
            return Err(invalid(
                "heartbeat.app_ping.pong",
                "must not be empty (it would match every message)",
            ));
        }
    }
    Ok(())
}

/// The handshake budget: positive (`None` turns it off) and at most [`MAX_HANDSHAKE_BUDGET`].
pub fn check_handshake_budget(budget: Option<u32>) -> Result<(), Error> {
    match budget {
        Some(0) => Err(invalid(
            "handshake_budget",
            "must be positive (None turns it off)",
        )),
        Some(n) if n > MAX_HANDSHAKE_BUDGET => {
            Err(too_large("handshake_budget", MAX_HANDSHAKE_BUDGET))
        }
        _ => Ok(()),
    }
}

/// Seconds as a float (Python's, Swift's convention) to a `Duration`, refusing negatives, NaN
/// and anything over [`MAX_DURATION`] (infinity included), with `option` named.
pub fn duration_from_secs(option: &'static str, secs: f64) -> Result<Duration, Error> {
    if secs.is_nan() || secs < 0.0 {
        return Err(invalid(option, "must be a non-negative number of seconds"));
    }
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(too_long(option));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| too_long(option))
}

/// Milliseconds as a float (JavaScript's convention) to a `Duration`, refusing negatives, NaN
/// and anything over [`MAX_DURATION`], with `option` named.
pub fn duration_from_millis(option: &'static str, ms: f64) -> Result<Duration, Error> {
    if ms.is_nan() || ms < 0.0 {
        return Err(invalid(
            option,
            "must be a non-negative number of milliseconds",
        ));
    }
    duration_from_secs(option, ms / 1000.0)
}

/// A count or size from a JavaScript number: a non-negative whole number, saturated to `u64`
/// (so a huge value meets the option's limit in `build()`, named there).
pub fn count_from_f64(option: &'static str, n: f64) -> Result<u64, Error> {
    if n == f64::INFINITY {
        return Ok(u64::MAX);
    }
    if n.is_nan() || n < 0.0 || n.fract() != 0.0 {
        return Err(invalid(option, "must be a non-negative whole number"));
    }
    // `as` saturates: 1e22 and infinity become u64::MAX.
    Ok(n as u64)
}

/// A count or size from a host language's signed integer (Python's `int` after clamping to
/// 64 bits, Kotlin's `Long`): negatives are refused, the rest carried as `u64`.
pub fn count_from_i64(option: &'static str, n: i64) -> Result<u64, Error> {
    u64::try_from(n).map_err(|_| invalid(option, "must not be negative"))
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
