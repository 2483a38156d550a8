//! Every conversion between JS values and core types lives here.

use std::ptr;
use std::time::{Duration, UNIX_EPOCH};

use napi::bindgen_prelude::{Buffer, Either, Null, Object, ToNapiValue};
use napi::{sys, Env};
use wstether::config::{count_from_f64, duration_from_millis};
use wstether::limits::{saturating_u32, saturating_usize};
use wstether::{
    AppPing, Backoff, Cause, ClientBuilder, Event, Heartbeat, Message, OutboxLimits, PongMatch,
    Stats, TerminalPolicy, Transition,
};

use crate::errors::{invalid_option, IntoJs, JsResult};
use crate::options::NativeOptions;
use napi_derive::napi;

/// Milliseconds (a JS number) to a `Duration`: the core refuses negatives, NaN and anything
/// over its longest duration, naming the limit.
pub fn millis(option: &'static str, ms: f64) -> JsResult<Duration> {
    duration_from_millis(option, ms).js()
}

/// A count or size (a JS number, a non-negative whole number). Huge values saturate, so the
/// core's `build()` refuses them naming the option's limit.
pub fn count(option: &'static str, n: f64) -> JsResult<usize> {
    count_from_f64(option, n).map(saturating_usize).js()
}

/// [`count`] for the `u32` options (`maxRetries`, `handshakeBudget`).
pub fn count_u32(option: &'static str, n: f64) -> JsResult<u32> {
    count_from_f64(option, n).map(saturating_u32).js()
}

/// Close codes or HTTP statuses (JS numbers) to `u16`s, refusing what does not fit.
fn u16_list(option: &'static str, list: Vec<f64>) -> JsResult<Vec<u16>> {
    list.into_iter()
        .map(|n| {
            let whole = count_from_f64(option, n).js()?;
            u16::try_from(whole)
                .map_err(|_| invalid_option(option, &format!("{n} is not between 0 and 65535")))
        })
        .collect()
}

/// A JS string or Buffer to a message.
pub fn message_from_js(value: Either<String, Buffer>) -> Message {
    match value {
        Either::A(text) => Message::text(text),
        Either::B(data) => Message::binary(data.to_vec()),
    }
}

/// Apply the options object to a builder.
pub fn apply_options(mut b: ClientBuilder, o: NativeOptions) -> JsResult<ClientBuilder> {
    if let Some(p) = o.protocols {
        b = b.protocols(p);
    }
    for pair in o.headers.unwrap_or_default() {
        let [name, value]: [String; 2] = pair
            .try_into()
            .map_err(|_| invalid_option("headers", "each header must be a [name, value] pair"))?;
        b = b.header(name, value);
    }
    if let Some(ms) = o.connect_timeout_ms {
        b = b.connect_timeout(millis("connectTimeoutMs", ms)?);
    }
    if let Some(bo) = o.backoff {
        let mut curve = Backoff::default();
        if let Some(ms) = bo.initial_ms {
            curve.initial = millis("backoff.initialMs", ms)?;
        }
        if let Some(ms) = bo.max_ms {
            curve.max = millis("backoff.maxMs", ms)?;
        }
        if let Some(f) = bo.factor {
            curve.factor = f;
        }
        if let Some(j) = bo.jitter {
            curve.jitter = j;
        }
        if let Some(ms) = bo.stable_after_ms {
            curve.stable_after = millis("backoff.stableAfterMs", ms)?;
        }
        b = b.backoff(curve);
    }
    if let Some(n) = o.max_retries {
        b = b.max_retries(Some(count_u32("maxRetries", n)?));
    }
    if let Some(ms) = o.max_elapsed_ms {
        b = b.max_elapsed(Some(millis("maxElapsedMs", ms)?));
    }
    if let Some(hb) = o.heartbeat {
        if hb.enabled == Some(false) {
            b = b.heartbeat(None);
        } else {
            let mut beat = Heartbeat::default();
            if let Some(ms) = hb.interval_ms {
                beat.interval = millis("heartbeat.intervalMs", ms)?;
            }
            if let Some(ms) = hb.timeout_ms {
                beat.timeout = millis("heartbeat.timeoutMs", ms)?;
            }
            if let Some(payload) = hb.app_ping_payload {
                let pong = match (hb.app_pong_exact, hb.app_pong_contains) {
                    (Some(s), None) => PongMatch::Exact(s),
                    (None, Some(s)) => PongMatch::Contains(s),
                    _ => {
                        return Err(invalid_option(
                            "heartbeat.appPing.pong",
                            "give exactly one of { exact } or { contains }",
                        ))
                    }
                };
                beat.app_ping = Some(AppPing {
                    payload: message_from_js(payload),
                    pong,
                });
            }
            b = b.heartbeat(Some(beat));
        }
    }
    if let Some(ob) = o.outbox {
        let mut limits = OutboxLimits::default();
        if let Some(n) = ob.max_messages {
            limits.max_messages = count("outbox.maxMessages", n)?;
        }
        if let Some(n) = ob.max_bytes {
            limits.max_bytes = count("outbox.maxBytes", n)?;
        }
        b = b.outbox(limits);
    }
    if o.handshake_budget_off == Some(true) {
        b = b.handshake_budget(None);
    } else if let Some(n) = o.handshake_budget {
        b = b.handshake_budget(Some(count_u32("handshakeBudget", n)?));
    }
    if let Some(t) = o.terminal {
        let mut policy = TerminalPolicy::default();
        if let Some(c) = t.close_codes {
            policy.close_codes = u16_list("terminal.closeCodes", c)?;
        }
        if let Some(s) = t.statuses {
            policy.statuses = u16_list("terminal.statuses", s)?;
        }
        b = b.terminal(policy);
    }
    if let Some(n) = o.max_message_size {
        b = b.max_message_size(count("maxMessageSize", n)?);
    }
    if let Some(pem) = o.ca {
        b = b.add_root_certificate_pem(pem);
    }
    if let Some(n) = o.event_buffer {
        b = b.event_buffer(count("eventBuffer", n)?);
    }
    if let Some(ms) = o.close_timeout_ms {
        b = b.close_timeout(millis("closeTimeoutMs", ms)?);
    }
    if let Some(required) = o.require_protocol {
        b = b.require_protocol(required);
    }
    if let Some(c) = o.compression {
        b = b.compression(compression(c)?);
    }
    if let Some(t) = o.transport {
        b = crate::transport::apply(b, t)?;
    }
    Ok(b)
}

/// The compression object (absent fields: the core's defaults); the core checks the ranges.
fn compression(c: crate::options::CompressionOptions) -> JsResult<wstether::Compression> {
    if !c.enabled {
        return Ok(wstether::Compression::disabled());
    }
    let mut out = wstether::Compression::default();
    let bits = |option: &'static str, min: u8, v: f64| -> JsResult<u8> {
        // Fractions and values a u8 cannot hold are refused as the core refuses any other.
        if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
            Ok(v as u8)
        } else {
            Err(invalid_option(
                option,
                &format!(
                    "must be {min} to {} (got {v})",
                    wstether::limits::MAX_WINDOW_BITS
                ),
            ))
        }
    };
    match c.client_max_window_bits {
        Some(Either::A(v)) => {
            out.client_max_window_bits = Some(bits(
                "compression.client_max_window_bits",
                wstether::limits::MIN_CLIENT_WINDOW_BITS,
                v,
            )?)
        }
        Some(Either::B(_)) => out.client_max_window_bits = None,
        None => {}
    }
    match c.server_max_window_bits {
        Some(Either::A(v)) => {
            out.server_max_window_bits = Some(bits(
                "compression.server_max_window_bits",
                wstether::limits::MIN_SERVER_WINDOW_BITS,
                v,
            )?)
        }
        Some(Either::B(_)) => out.server_max_window_bits = None,
        None => {}
    }
    if let Some(v) = c.client_no_context_takeover {
        out.client_no_context_takeover = v;
    }
    if let Some(v) = c.server_no_context_takeover {
        out.server_no_context_takeover = v;
    }
    Ok(out)
}

/// Flat `[name, value, name, value, …]` from the auth wrapper to header pairs.
pub fn header_pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

// ---- core values to JS ---------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A message as a JS string (text) or Buffer (binary, copied).
unsafe fn message_to_js(env: sys::napi_env, m: &Message) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    let status = match m {
        Message::Text(t) => unsafe {
            sys::napi_create_string_utf8(
                env,
                t.as_str().as_ptr().cast(),
                t.len() as isize,
                &mut out,
            )
        },
        Message::Binary(b) => unsafe {
            sys::napi_create_buffer_copy(env, b.len(), b.as_ptr().cast(), ptr::null_mut(), &mut out)
        },
    };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason(
            "cannot create a JS value for a message",
        ));
    }
    Ok(out)
}

/// A list of messages as a JS array of strings and Buffers.
pub struct Messages(pub Vec<Message>);

impl ToNapiValue for Messages {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let items = val.0.iter().map(|m| unsafe { message_to_js(env, m) });
        unsafe { array(env, val.0.len(), items) }
    }
}

unsafe fn array(
    env: sys::napi_env,
    len: usize,
    items: impl Iterator<Item = napi::Result<sys::napi_value>>,
) -> napi::Result<sys::napi_value> {
    let mut arr = ptr::null_mut();
    if unsafe { sys::napi_create_array_with_length(env, len, &mut arr) } != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("cannot create a JS array"));
    }
    for (i, item) in items.enumerate() {
        let v = item?;
        if unsafe { sys::napi_set_element(env, arr, i as u32, v) } != sys::Status::napi_ok {
            return Err(napi::Error::from_reason("cannot fill a JS array"));
        }
    }
    Ok(arr)
}

/// One batch of events as one JS array, built on the JS thread. Messages are bare strings and
/// Buffers (the hot path: one JS value each, no wrapper object); every other event is an object
/// with a `type` field. `lib/client.ts` tells them apart with `typeof`.
pub struct Batch(pub Vec<Event>);

impl ToNapiValue for Batch {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let js_env = Env::from_raw(env);
        let items = val.0.into_iter().map(|ev| match ev {
            Event::Message(m) => unsafe { message_to_js(env, &m) },
            other => {
                event_object(&js_env, other).and_then(|o| unsafe { Object::to_napi_value(env, o) })
            }
        });
        let len = items.len();
        unsafe { array(env, len, items) }
    }
}

fn event_object(env: &Env, ev: Event) -> napi::Result<Object<'_>> {
    let mut o = Object::new(env)?;
    match ev {
        Event::StateChanged { state } => {
            o.set("type", "state")?;
            o.set("state", state.as_str())?;
        }
        Event::Connecting { attempt } => {
            o.set("type", "connecting")?;
            o.set("attempt", attempt)?;
        }
        Event::Open {
            attempt,
            protocol,
            compression,
            address,
        } => {
            o.set("type", "open")?;
            o.set("attempt", attempt)?;
            match protocol {
                Some(p) => o.set("protocol", p)?,
                None => o.set("protocol", Null)?,
            }
            match compression {
                Some(c) => o.set("compression", c)?,
                None => o.set("compression", Null)?,
            }
            match address {
                Some(a) => o.set("address", a.to_string())?,
                None => o.set("address", Null)?,
            }
        }
        Event::Message(m) => {
            o.set("type", "message")?;
            o.set("data", Messages(vec![m]))?;
        }
        Event::Pong { rtt } => {
            o.set("type", "pong")?;
            o.set("rttMs", ms(rtt))?;
        }
        Event::Closed {
            code,
            reason,
            initiator,
            will_reconnect,
        } => {
            o.set("type", "close")?;
            o.set("code", code as u32)?;
            o.set("reason", reason)?;
            o.set("initiator", initiator.as_str())?;
            o.set("willReconnect", will_reconnect)?;
        }
        Event::Reconnecting {
            attempt,
            delay,
            cause,
        } => {
            o.set("type", "reconnecting")?;
            o.set("attempt", attempt)?;
            o.set("delayMs", ms(delay))?;
            o.set("cause", cause_object(env, &cause)?)?;
        }
        Event::Error { kind, message } => {
            o.set("type", "error")?;
            o.set("kind", kind.as_str())?;
            o.set("message", message)?;
        }
        Event::Failed { reason, unsent } => {
            o.set("type", "failed")?;
            o.set("reason", cause_object(env, &reason)?)?;
            o.set("unsent", Messages(unsent))?;
        }
    }
    Ok(o)
}

/// A cause as `{ kind, message, …details }`.
fn cause_object<'e>(env: &'e Env, cause: &Cause) -> napi::Result<Object<'e>> {
    let mut o = Object::new(env)?;
    o.set("kind", cause.kind())?;
    o.set("message", cause.to_string())?;
    match cause {
        Cause::Closed { code, reason } => {
            o.set("code", *code as u32)?;
            o.set("reason", reason.as_str())?;
        }
        Cause::HandshakeRejected {
            status,
            retry_after,
        } => {
            o.set("status", *status as u32)?;
            if let Some(d) = retry_after {
                o.set("retryAfterMs", ms(*d))?;
            }
        }
        Cause::ProxyRejected { status } => o.set("status", *status as u32)?,
        Cause::SocksRejected { reply } => o.set("socksReply", *reply as u32)?,
        Cause::RetriesExhausted { attempts, last } => {
            o.set("attempts", *attempts)?;
            o.set("last", cause_object(env, last)?)?;
        }
        Cause::ElapsedExhausted { elapsed, last } => {
            o.set("elapsedMs", ms(*elapsed))?;
            o.set("last", cause_object(env, last)?)?;
        }
        _ => {}
    }
    Ok(o)
}

/// Counters, times in milliseconds.
#[napi(object)]
pub struct NativeStats {
    /// Attempts made.
    pub attempts: f64,
    /// Successful opens.
    pub opens: f64,
    /// Messages received.
    pub messages_in: f64,
    /// Messages written.
    pub messages_out: f64,
    /// Payload bytes received.
    pub bytes_in: f64,
    /// Payload bytes written.
    pub bytes_out: f64,
    /// Messages waiting in the outbox.
    pub queued_messages: f64,
    /// Bytes waiting in the outbox.
    pub queued_bytes: f64,
    /// Last heartbeat round trip.
    pub last_rtt_ms: Option<f64>,
    /// Code of the last close.
    pub last_close_code: Option<u32>,
    /// Reason of the last close.
    pub last_close_reason: Option<String>,
    /// Total time open.
    pub time_connected_ms: f64,
    /// Total time not open.
    pub time_disconnected_ms: f64,
    /// `ip:port` the last link's TCP connection reached (the proxy's through a proxy).
    pub address: Option<String>,
}

impl From<Stats> for NativeStats {
    fn from(s: Stats) -> Self {
        NativeStats {
            attempts: s.attempts as f64,
            opens: s.opens as f64,
            messages_in: s.messages_in as f64,
            messages_out: s.messages_out as f64,
            bytes_in: s.bytes_in as f64,
            bytes_out: s.bytes_out as f64,
            queued_messages: s.queued_messages as f64,
            queued_bytes: s.queued_bytes as f64,
            last_rtt_ms: s.last_rtt.map(ms),
            last_close_code: s.last_close.as_ref().map(|c| c.code as u32),
            last_close_reason: s.last_close.map(|c| c.reason),
            time_connected_ms: ms(s.time_connected),
            time_disconnected_ms: ms(s.time_disconnected),
            address: s.address.map(|a| a.to_string()),
        }
    }
}

/// One state change of the flight recorder.
#[napi(object)]
pub struct NativeTransition {
    /// When, in ms since the Unix epoch.
    pub at: f64,
    /// Previous state.
    pub from: String,
    /// New state.
    pub to: String,
    /// Why.
    pub cause: String,
}

impl From<Transition> for NativeTransition {
    fn from(t: Transition) -> Self {
        NativeTransition {
            at: t.at.duration_since(UNIX_EPOCH).map(ms).unwrap_or(0.0),
            from: t.from.as_str().into(),
            to: t.to.as_str().into(),
            cause: t.cause,
        }
    }
}
