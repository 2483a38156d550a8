//! Every conversion from the client's types to text: one-line descriptions for the event log,
//! JSON objects for `--json`, times and durations. Pure functions; `output` decides where lines go.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use wstether::policy::close_code_name;
use wstether::{Cause, Event, Message, Stats};

/// A short human duration: `850µs`, `12.3ms`, `1.25s`, `2m05s`.
pub fn duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1_000 {
        format!("{micros}µs")
    } else if micros < 100_000 {
        format!("{:.1}ms", d.as_secs_f64() * 1e3)
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d < Duration::from_secs(120) {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Milliseconds as a JSON number with microsecond precision.
pub fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// Civil date (y, m, d) from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 UTC timestamp with milliseconds for Unix time `secs` + `millis`.
fn rfc3339(secs: i64, millis: u32) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// Now as RFC 3339 UTC (`2025-01-31T12:00:00.123Z`), for JSON lines.
pub fn timestamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339(since.as_secs() as i64, since.subsec_millis())
}

/// Time of day UTC with milliseconds (`12:00:00.123`), for the event log.
pub fn clock(at: SystemTime) -> String {
    timestamp(at)[11..23].to_string()
}

/// A date from Unix seconds (`2026-03-01 12:00:00 UTC`), for certificate expiry.
pub fn date(unix_secs: i64) -> String {
    let t = rfc3339(unix_secs, 0);
    format!("{} {} UTC", &t[..10], &t[11..19])
}

/// A close code with its meaning: `1006 (abnormal closure: no close frame)`.
pub fn close_code(code: u16) -> String {
    format!("{code} ({})", close_code_name(code))
}

/// A message for stdout: text as-is, binary as a hex preview.
pub fn message_text(m: &Message) -> String {
    match m {
        Message::Text(t) => t.as_str().to_string(),
        Message::Binary(b) => {
            let preview: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
            let more = if b.len() > 32 { "…" } else { "" };
            format!("<binary {} bytes: {preview}{more}>", b.len())
        }
    }
}

/// One line for the event log, or `None` for events the log leaves out (state changes,
/// messages — those go to stdout).
pub fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::StateChanged { .. } | Event::Message(_) => return None,
        Event::Connecting { attempt } => format!("attempt {attempt}: connecting"),
        Event::Open {
            attempt,
            protocol,
            compression,
            ..
        } => format!(
            "open: handshake 101 on attempt {attempt}, subprotocol {}, compression {}",
            protocol.as_deref().unwrap_or("(none)"),
            compression.as_deref().unwrap_or("(none)")
        ),
        Event::Pong { rtt } => format!("heartbeat: pong after {}", duration(*rtt)),
        Event::Closed {
            code,
            reason,
            initiator,
            will_reconnect,
        } => {
            let by = match initiator {
                wstether::Initiator::Local => "by us",
                wstether::Initiator::Remote => "by the server",
                wstether::Initiator::Network => "by the network (no close frame)",
            };
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(", reason {reason:?}")
            };
            let next = if *will_reconnect {
                "will reconnect"
            } else {
                "will not reconnect"
            };
            format!("closed {} {by}{reason}; {next}", close_code(*code))
        }
        Event::Reconnecting {
            attempt,
            delay,
            cause,
        } => format!(
            "backoff: attempt {attempt} in {} (because {})",
            duration(*delay),
            cause_text(cause)
        ),
        Event::Error { kind, message } => format!("{} error: {message}", kind.as_str()),
        Event::Failed { reason, unsent } => {
            let unsent = match unsent.len() {
                0 => String::new(),
                1 => "; 1 message was never sent".to_string(),
                n => format!("; {n} messages were never sent"),
            };
            format!("failed: {}{unsent}", cause_text(reason))
        }
    })
}

/// A cause in words, with the handshake status spelled out.
pub fn cause_text(cause: &Cause) -> String {
    match cause {
        Cause::HeartbeatTimeout => {
            "heartbeat timeout: nothing arrived in interval + timeout, the link was dead".into()
        }
        other => other.to_string(),
    }
}

/// A suggestion for causes people usually fix on their side; `None` for the rest.
pub fn hint(cause: &Cause) -> Option<&'static str> {
    match cause {
        Cause::RetriesExhausted { last, .. } | Cause::ElapsedExhausted { last, .. } => hint(last),
        Cause::ConnectFailed(m) if m.contains("lookup") || m.contains("resolve") => {
            Some("the host name does not resolve: check the spelling, or your DNS")
        }
        Cause::ConnectFailed(m) if m.contains("refused") => {
            Some("nothing accepts connections on that port: is the server running, and is the port right?")
        }
        Cause::ConnectTimeout => {
            Some("no answer in time: a firewall may drop the packets, or the host is down (see --connect-timeout)")
        }
        Cause::Tls(m) if m.contains("UnknownIssuer") => {
            Some("the certificate is not signed by a trusted CA: for a private CA, pass it with --ca-file; for a self-signed certificate, --pin-cert it")
        }
        Cause::Tls(m) if m.contains("CaUsedAsEndEntity") => {
            Some("the server's certificate is itself a CA (as `openssl req -x509` makes): pass it with --pin-cert, not --ca-file")
        }
        Cause::Tls(m) if m.contains("pinned") => {
            Some("the server presents another certificate than the one given with --pin-cert")
        }
        Cause::Tls(m) if m.contains("client certificate") => {
            Some("the server wants a client certificate: pass --client-cert and --client-key")
        }
        Cause::Tls(m) if m.contains("NotValidForName") => {
            Some("the certificate is for another host name: connect with the name it was issued for")
        }
        Cause::Handshake(_) | Cause::Tls(_) => {
            Some("is the scheme right? ws:// is plain TCP, wss:// is TLS")
        }
        Cause::HandshakeRejected { status: 401 | 403, .. } => {
            Some("the server refused the credentials: check -H or --auth-cmd")
        }
        Cause::HandshakeRejected { status: 404, .. } => Some("no WebSocket endpoint at that path"),
        Cause::ProxyRejected { status: 401 | 407 } | Cause::ProxyAuth(_) => {
            Some("the proxy wants other credentials: --proxy http://user:password@host:port (or fix HTTP_PROXY / HTTPS_PROXY)")
        }
        Cause::ProxyRejected { .. } | Cause::SocksRejected { .. } => {
            Some("the proxy would not open the tunnel; --no-proxy connects directly")
        }
        _ => None,
    }
}

/// A cause as JSON: its stable kind, its text, and its numbers.
pub fn cause_json(cause: &Cause) -> Value {
    let mut v = json!({ "kind": cause.kind(), "message": cause.to_string() });
    match cause {
        Cause::HandshakeRejected {
            status,
            retry_after,
        } => {
            v["status"] = json!(status);
            v["retry_after_ms"] = json!(retry_after.map(millis));
        }
        Cause::Closed { code, reason } => {
            v["code"] = json!(code);
            v["code_name"] = json!(close_code_name(*code));
            v["reason"] = json!(reason);
        }
        Cause::ProxyRejected { status } => v["status"] = json!(status),
        Cause::SocksRejected { reply } => v["socks_reply"] = json!(reply),
        Cause::RetriesExhausted { attempts, last } => {
            v["attempts"] = json!(attempts);
            v["last"] = cause_json(last);
        }
        Cause::ElapsedExhausted { elapsed, last } => {
            v["elapsed_ms"] = json!(millis(*elapsed));
            v["last"] = cause_json(last);
        }
        _ => {}
    }
    v
}

/// Base64 (standard alphabet, padded) for binary payloads in JSON.
fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An event as a JSON object: `{"event": name, ...fields}` (the caller adds `ts`).
pub fn event_json(event: &Event) -> Value {
    let mut v = match event {
        Event::StateChanged { state } => json!({ "state": state.as_str() }),
        Event::Connecting { attempt } => json!({ "attempt": attempt }),
        Event::Open {
            attempt,
            protocol,
            compression,
            address,
        } => json!({
            "attempt": attempt,
            "protocol": protocol,
            "compression": compression,
            "address": address.map(|a| a.to_string()),
        }),
        Event::Message(Message::Text(t)) => json!({ "type": "text", "data": t.as_str() }),
        Event::Message(Message::Binary(b)) => {
            json!({ "type": "binary", "len": b.len(), "base64": base64(b) })
        }
        Event::Pong { rtt } => json!({ "rtt_ms": millis(*rtt) }),
        Event::Closed {
            code,
            reason,
            initiator,
            will_reconnect,
        } => json!({
            "code": code,
            "code_name": close_code_name(*code),
            "reason": reason,
            "initiator": initiator.as_str(),
            "will_reconnect": will_reconnect,
        }),
        Event::Reconnecting {
            attempt,
            delay,
            cause,
        } => json!({ "attempt": attempt, "delay_ms": millis(*delay), "cause": cause_json(cause) }),
        Event::Error { kind, message } => json!({ "kind": kind.as_str(), "message": message }),
        Event::Failed { reason, unsent } => {
            json!({ "reason": cause_json(reason), "unsent": unsent.len() })
        }
    };
    v["event"] = json!(event.name());
    v
}

/// The stats line printed on exit.
pub fn stats_text(s: &Stats, unsent: usize) -> String {
    let mut out = format!(
        "stats: {} attempts, {} opens, {} messages in ({} B), {} out ({} B), connected {}, disconnected {}",
        s.attempts,
        s.opens,
        s.messages_in,
        s.bytes_in,
        s.messages_out,
        s.bytes_out,
        duration(s.time_connected),
        duration(s.time_disconnected),
    );
    if let Some(rtt) = s.last_rtt {
        out.push_str(&format!(", last RTT {}", duration(rtt)));
    }
    if let Some(c) = &s.last_close {
        out.push_str(&format!(", last close {}", close_code(c.code)));
    }
    if unsent > 0 {
        out.push_str(&format!(", {unsent} never sent"));
    }
    out
}

/// The stats as a JSON object (`{"event": "stats", ...}`).
pub fn stats_json(s: &Stats, unsent: usize) -> Value {
    json!({
        "event": "stats",
        "attempts": s.attempts,
        "opens": s.opens,
        "messages_in": s.messages_in,
        "messages_out": s.messages_out,
        "bytes_in": s.bytes_in,
        "bytes_out": s.bytes_out,
        "last_rtt_ms": s.last_rtt.map(millis),
        "last_close": s.last_close.as_ref().map(|c| json!({
            "code": c.code,
            "code_name": close_code_name(c.code),
            "reason": c.reason,
        })),
        "connected_ms": millis(s.time_connected),
        "disconnected_ms": millis(s.time_disconnected),
        "unsent": unsent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0, 5), "1970-01-01T00:00:00.005Z");
        assert_eq!(rfc3339(784_111_777, 0), "1994-11-06T08:49:37.000Z");
        assert_eq!(date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(duration(Duration::from_millis(1500)), "1.50s");
        assert_eq!(duration(Duration::from_micros(1234)), "1.2ms");
    }

    #[test]
    fn encodes_base64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[1, 2, 3, 255]), "AQID/w==");
    }

    #[test]
    fn describes_closes_in_words() {
        let e = Event::Closed {
            code: 1006,
            reason: String::new(),
            initiator: wstether::Initiator::Network,
            will_reconnect: true,
        };
        let line = describe(&e).unwrap();
        assert!(
            line.contains("1006 (abnormal closure: no close frame)"),
            "{line}"
        );
        let v = event_json(&e);
        assert_eq!(v["event"], "closed");
        assert_eq!(v["initiator"], "network");
    }
}
