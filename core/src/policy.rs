//! Which endings are worth retrying, which need fresh credentials, and which are final.

use std::time::Duration;

use crate::event::Cause;

/// Causes that retrying cannot fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminalPolicy {
    /// Close codes that end in `Failed`.
    pub close_codes: Vec<u16>,
    /// Handshake HTTP statuses that end in `Failed`.
    pub statuses: Vec<u16>,
}

impl Default for TerminalPolicy {
    fn default() -> Self {
        TerminalPolicy {
            close_codes: vec![1008],
            statuses: vec![400, 403, 404],
        }
    }
}

/// What to do after a link or attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Give up.
    Fail,
    /// Retry at once with fresh credentials (a 401, once).
    RetryWithFreshAuth,
    /// Retry after the backoff delay, but not sooner than `floor`.
    Retry { floor: Option<Duration> },
    /// The server asked us to come back later without saying when: wait the curve's maximum,
    /// jittered like any delay so a fleet told at once does not return at once.
    RetryLater,
}

/// Decide what follows `cause`. `refreshed` says the previous attempt already was the 401 retry.
pub(crate) fn verdict(cause: &Cause, terminal: &TerminalPolicy, refreshed: bool) -> Verdict {
    match cause {
        Cause::HandshakeRejected { status, .. } if terminal.statuses.contains(status) => {
            Verdict::Fail
        }
        // Retrying gets the same answer from the same server.
        Cause::Incompatible(_) | Cause::Internal(_) => Verdict::Fail,
        // The proxy's credentials are fixed in the client's settings: asking again with the
        // same ones gets the same refusal. (407 is the proxy's status for it; tinyproxy
        // answers CONNECT with 401.)
        Cause::ProxyRejected { status: 401 | 407 } | Cause::ProxyAuth(_) => Verdict::Fail,
        Cause::HandshakeRejected { status: 401, .. } if !refreshed => Verdict::RetryWithFreshAuth,
        Cause::HandshakeRejected {
            status: 429 | 503,
            retry_after,
        } => Verdict::Retry {
            floor: *retry_after,
        },
        Cause::Closed { code, .. } if terminal.close_codes.contains(code) => Verdict::Fail,
        // 1013 Try Again Later carries no delay: wait the curve's (jittered) maximum.
        Cause::Closed { code: 1013, .. } => Verdict::RetryLater,
        _ => Verdict::Retry { floor: None },
    }
}

/// Parse a `Retry-After` header value: delta-seconds, or an HTTP date counted from `now_unix`
/// (the wall clock's Unix seconds, read by the caller: this module reads no clock).
#[cfg(feature = "native")]
pub(crate) fn parse_retry_after(value: &str, now_unix: u64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate_to_unix(v)?;
    Some(Duration::from_secs(when.saturating_sub(now_unix)))
}

/// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") to Unix seconds.
#[cfg(feature = "native")]
fn httpdate_to_unix(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || year < 1970 {
        return None;
    }
    // Days since the epoch, from the civil-date algorithm (Howard Hinnant's days_from_civil).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// The name of a close code (kept here too: the CLI and older callers import it from `policy`).
pub use crate::event::close_code_name;

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(status: u16) -> Cause {
        Cause::HandshakeRejected {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn terminal_statuses_and_codes_fail() {
        let p = TerminalPolicy::default();
        for s in [400, 403, 404] {
            assert_eq!(verdict(&rejected(s), &p, false), Verdict::Fail);
        }
        let c = Cause::Closed {
            code: 1008,
            reason: String::new(),
        };
        assert_eq!(verdict(&c, &p, false), Verdict::Fail);
    }

    #[test]
    fn unauthorized_refreshes_once() {
        let p = TerminalPolicy::default();
        assert_eq!(
            verdict(&rejected(401), &p, false),
            Verdict::RetryWithFreshAuth
        );
        assert_eq!(
            verdict(&rejected(401), &p, true),
            Verdict::Retry { floor: None }
        );
    }

    #[test]
    fn retry_after_and_1013_set_a_floor() {
        let p = TerminalPolicy::default();
        let c = Cause::HandshakeRejected {
            status: 503,
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            verdict(&c, &p, false),
            Verdict::Retry {
                floor: Some(Duration::from_secs(2))
            }
        );
        let c = Cause::Closed {
            code: 1013,
            reason: String::new(),
        };
        assert_eq!(verdict(&c, &p, false), Verdict::RetryLater);
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = 784_111_700;
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(77)),
            "a date is counted from the caller's now"
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 1000),
            Some(Duration::ZERO),
            "a date already past"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
