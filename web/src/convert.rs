//! Every conversion to JavaScript in one place: events (the shapes the Node package's native
//! layer produces, so `node/lib` reads both alike), causes, stats and the flight recorder.

use std::time::{Duration, UNIX_EPOCH};

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use wstether::{Cause, Event, Message, Stats, Transition};

fn set(o: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(o, &JsValue::from_str(key), &value.into());
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A plain object `{ type, … }`.
pub fn object(kind: &str) -> Object {
    let o = Object::new();
    set(&o, "type", kind);
    o
}

/// A message as the Node package delivers it: a string, or bytes (`Uint8Array` here).
pub fn message(m: &Message) -> JsValue {
    match m {
        Message::Text(t) => JsValue::from_str(t.as_str()),
        Message::Binary(b) => Uint8Array::from(&b[..]).into(),
    }
}

/// Messages as a JavaScript array.
pub fn messages(list: &[Message]) -> Array {
    list.iter().map(message).collect()
}

fn text_or_null(v: Option<String>) -> JsValue {
    v.map_or(JsValue::NULL, |s| JsValue::from_str(&s))
}

/// An event as the Node package's native layer shapes it.
pub fn event(ev: Event) -> JsValue {
    let o = match ev {
        Event::Message(m) => return message(&m),
        Event::StateChanged { state } => {
            let o = object("state");
            set(&o, "state", state.as_str());
            o
        }
        Event::Connecting { attempt } => {
            let o = object("connecting");
            set(&o, "attempt", attempt);
            o
        }
        Event::Open {
            attempt,
            protocol,
            compression,
            address,
        } => {
            let o = object("open");
            set(&o, "attempt", attempt);
            set(&o, "protocol", text_or_null(protocol));
            set(&o, "compression", text_or_null(compression));
            // The browser does not say which address it connected to.
            let _ = address;
            set(&o, "address", JsValue::NULL);
            o
        }
        Event::Pong { rtt } => {
            let o = object("pong");
            set(&o, "rttMs", ms(rtt));
            o
        }
        Event::Closed {
            code,
            reason,
            initiator,
            will_reconnect,
        } => {
            let o = object("close");
            set(&o, "code", code);
            set(&o, "reason", reason);
            set(&o, "initiator", initiator.as_str());
            set(&o, "willReconnect", will_reconnect);
            o
        }
        Event::Reconnecting {
            attempt,
            delay,
            cause: c,
        } => {
            let o = object("reconnecting");
            set(&o, "attempt", attempt);
            set(&o, "delayMs", ms(delay));
            set(&o, "cause", cause(&c));
            o
        }
        Event::Error { kind, message } => {
            let o = object("error");
            set(&o, "kind", kind.as_str());
            set(&o, "message", message);
            o
        }
        Event::Failed { reason, unsent } => {
            let o = object("failed");
            set(&o, "reason", cause(&reason));
            set(&o, "unsent", messages(&unsent));
            o
        }
    };
    o.into()
}

/// A cause: its stable `kind`, its text, and the fields of its kind.
pub fn cause(c: &Cause) -> Object {
    let o = Object::new();
    set(&o, "kind", c.kind());
    set(&o, "message", c.to_string());
    match c {
        Cause::Closed { code, reason } => {
            set(&o, "code", *code);
            set(&o, "reason", reason.as_str());
        }
        Cause::HandshakeRejected {
            status,
            retry_after,
        } => {
            set(&o, "status", *status);
            if let Some(d) = retry_after {
                set(&o, "retryAfterMs", ms(*d));
            }
        }
        Cause::RetriesExhausted { attempts, last } => {
            set(&o, "attempts", *attempts);
            set(&o, "last", cause(last));
        }
        Cause::ElapsedExhausted { elapsed, last } => {
            set(&o, "elapsedMs", ms(*elapsed));
            set(&o, "last", cause(last));
        }
        _ => {}
    }
    o
}

/// `stats()`, with the Node package's field names (times in ms).
pub fn stats(s: Stats) -> JsValue {
    let o = Object::new();
    set(&o, "attempts", s.attempts as f64);
    set(&o, "opens", s.opens as f64);
    set(&o, "messagesIn", s.messages_in as f64);
    set(&o, "messagesOut", s.messages_out as f64);
    set(&o, "bytesIn", s.bytes_in as f64);
    set(&o, "bytesOut", s.bytes_out as f64);
    set(&o, "queuedMessages", s.queued_messages as f64);
    set(&o, "queuedBytes", s.queued_bytes as f64);
    if let Some(rtt) = s.last_rtt {
        set(&o, "lastRttMs", ms(rtt));
    }
    if let Some(close) = s.last_close {
        set(&o, "lastCloseCode", close.code);
        set(&o, "lastCloseReason", close.reason);
    }
    set(&o, "timeConnectedMs", ms(s.time_connected));
    set(&o, "timeDisconnectedMs", ms(s.time_disconnected));
    o.into()
}

/// `history()`: `{ at (ms since the Unix epoch), from, to, cause }`, oldest first.
pub fn history(list: Vec<Transition>) -> JsValue {
    list.into_iter()
        .map(|t| {
            let o = Object::new();
            let at = t.at.duration_since(UNIX_EPOCH).unwrap_or_default();
            set(&o, "at", ms(at).floor());
            set(&o, "from", t.from.as_str());
            set(&o, "to", t.to.as_str());
            set(&o, "cause", t.cause);
            JsValue::from(o)
        })
        .collect::<Array>()
        .into()
}
