//! The options object `node/lib/browser.ts` passes (the Node package's native options, in the
//! same camelCase shape, types already checked there), turned into the machine's settings and
//! checked against the core's limits, so a bad value fails when the client is built.

use std::time::Duration;

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wstether::limits::{self, count_from_f64, duration_from_millis, invalid, saturating_u32};
use wstether::machine::Settings;
use wstether::{budget, redact};
use wstether::{
    AppPing, Backoff, Error, Heartbeat, Message, OutboxLimits, PongMatch, TerminalPolicy,
};

use crate::defaults;

/// Where the greeting comes from.
pub enum Greeting {
    /// The same messages on every open (`setGreeting()` replaces them).
    List(Vec<Message>),
    /// A JavaScript function, asked on every open.
    Provider,
}

/// Everything the driver needs besides the machine's settings.
pub struct Options {
    /// The machine's settings (its URL among them).
    pub settings: Settings,
    /// Subprotocols offered, as the `WebSocket` constructor takes them.
    pub protocols: Array,
    /// The outbox's limits.
    pub outbox: OutboxLimits,
    /// The greeting sent first on every open.
    pub greeting: Greeting,
    /// Largest message either way.
    pub max_message_size: usize,
    /// How the app-level pong is recognised (a heartbeat's, when it has an app ping).
    pub app_pong: Option<PongMatch>,
}

fn get(o: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(o, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn number(o: &JsValue, key: &str) -> Option<f64> {
    get(o, key).and_then(|v| v.as_f64())
}

fn millis(o: &JsValue, key: &str, option: &'static str) -> Result<Option<Duration>, Error> {
    number(o, key)
        .map(|ms| duration_from_millis(option, ms))
        .transpose()
}

fn count(o: &JsValue, key: &str, option: &'static str) -> Result<Option<u64>, Error> {
    number(o, key)
        .map(|n| count_from_f64(option, n))
        .transpose()
}

fn usize_count(o: &JsValue, key: &str, option: &'static str) -> Result<Option<usize>, Error> {
    Ok(count(o, key, option)?.map(limits::saturating_usize))
}

fn codes(o: &JsValue, key: &str, option: &'static str) -> Result<Option<Vec<u16>>, Error> {
    let Some(list) = get(o, key) else {
        return Ok(None);
    };
    Array::from(&list)
        .iter()
        .map(|v| {
            let n = count_from_f64(option, v.as_f64().unwrap_or(f64::NAN))?;
            u16::try_from(n)
                .map_err(|_| invalid(option, &format!("{n} is not between 0 and 65535")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A message from a JavaScript string or byte array.
pub fn message(v: &JsValue) -> Option<Message> {
    if let Some(text) = v.as_string() {
        return Some(Message::text(text));
    }
    v.dyn_ref::<Uint8Array>()
        .map(|bytes| Message::binary(bytes.to_vec()))
}

/// Messages from a JavaScript array of strings and byte arrays.
pub fn messages(list: &JsValue, option: &'static str) -> Result<Vec<Message>, Error> {
    Array::from(list)
        .iter()
        .map(|v| message(&v).ok_or_else(|| invalid(option, "must hold strings or Uint8Arrays")))
        .collect()
}

/// Where a client with a URL provider points until the provider's first answer (the Node
/// package's placeholder too).
const PROVIDED_URL: &str = "ws://url-provider.invalid/";

/// Build and check the options; `url` is `None` when a URL provider names each attempt's URL.
pub fn parse(url: Option<String>, o: &JsValue) -> Result<Options, Error> {
    let locate = url.is_none();
    let url = crate::url::parse(url.as_deref().unwrap_or(PROVIDED_URL))?;
    let protocols = Array::new();
    if let Some(list) = get(o, "protocols") {
        for p in Array::from(&list).iter() {
            let p = p.as_string().unwrap_or_default();
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
                return Err(Error::InvalidHeader {
                    name: "Sec-WebSocket-Protocol".into(),
                    reason: format!("invalid subprotocol \"{p}\""),
                });
            }
            protocols.push(&JsValue::from_str(&p));
        }
    }
    let connect_timeout =
        millis(o, "connectTimeoutMs", "connectTimeoutMs")?.unwrap_or(defaults::CONNECT_TIMEOUT);
    limits::positive_duration("connectTimeoutMs", connect_timeout)?;
    let close_timeout =
        millis(o, "closeTimeoutMs", "closeTimeoutMs")?.unwrap_or(defaults::CLOSE_TIMEOUT);
    limits::positive_duration("closeTimeoutMs", close_timeout)?;

    let mut backoff = Backoff::default();
    if let Some(b) = get(o, "backoff") {
        if let Some(d) = millis(&b, "initialMs", "backoff.initialMs")? {
            backoff.initial = d;
        }
        if let Some(d) = millis(&b, "maxMs", "backoff.maxMs")? {
            backoff.max = d;
        }
        if let Some(f) = number(&b, "factor") {
            backoff.factor = f;
        }
        if let Some(j) = number(&b, "jitter") {
            backoff.jitter = j;
        }
        if let Some(d) = millis(&b, "stableAfterMs", "backoff.stableAfterMs")? {
            backoff.stable_after = d;
        }
    }
    limits::check_backoff(&backoff)?;

    let max_retries = count(o, "maxRetries", "maxRetries")?.map(saturating_u32);
    if max_retries.is_some_and(|n| n > limits::MAX_RETRIES) {
        return Err(limits::too_large("maxRetries", limits::MAX_RETRIES));
    }
    let max_elapsed = millis(o, "maxElapsedMs", "maxElapsedMs")?;
    if let Some(d) = max_elapsed {
        limits::positive_duration("maxElapsedMs", d)?;
    }

    let max_message_size =
        usize_count(o, "maxMessageSize", "maxMessageSize")?.unwrap_or(defaults::MAX_MESSAGE_SIZE);
    limits::positive_count("maxMessageSize", max_message_size, limits::MAX_MESSAGE_SIZE)?;

    let heartbeat = heartbeat(o, max_message_size)?;
    let app_pong = heartbeat
        .as_ref()
        .and_then(|h| h.app_ping.as_ref())
        .map(|a| a.pong.clone());

    let mut outbox = OutboxLimits::default();
    if let Some(ob) = get(o, "outbox") {
        if let Some(n) = usize_count(&ob, "maxMessages", "outbox.maxMessages")? {
            outbox.max_messages = n;
        }
        if let Some(n) = usize_count(&ob, "maxBytes", "outbox.maxBytes")? {
            outbox.max_bytes = n;
        }
    }
    limits::positive_count(
        "outbox.maxMessages",
        outbox.max_messages,
        limits::MAX_OUTBOX_MESSAGES,
    )?;
    limits::positive_count(
        "outbox.maxBytes",
        outbox.max_bytes,
        limits::MAX_OUTBOX_BYTES,
    )?;

    let handshake_budget = if get(o, "handshakeBudgetOff").is_some_and(|v| v.is_truthy()) {
        None
    } else {
        Some(
            count(o, "handshakeBudget", "handshakeBudget")?
                .map_or(defaults::HANDSHAKE_BUDGET, saturating_u32),
        )
    };
    limits::check_handshake_budget(handshake_budget).map_err(|_| {
        // The core names its own option; the browser's is camelCase.
        invalid(
            "handshakeBudget",
            "must be between 1 and 1000000 (false turns it off)",
        )
    })?;

    let mut terminal = TerminalPolicy::default();
    if let Some(t) = get(o, "terminal") {
        if let Some(c) = codes(&t, "closeCodes", "terminal.closeCodes")? {
            terminal.close_codes = c;
        }
        if let Some(s) = codes(&t, "statuses", "terminal.statuses")? {
            terminal.statuses = s;
        }
    }

    let greeting = if get(o, "greetingProvider").is_some_and(|v| v.is_truthy()) {
        Greeting::Provider
    } else {
        let list = match get(o, "greeting") {
            Some(list) => messages(&list, "greeting")?,
            None => Vec::new(),
        };
        Greeting::List(list)
    };

    let settings = Settings {
        log_url: redact::url(&url),
        host_key: budget::host_key(&url),
        url,
        locate,
        backoff,
        max_retries,
        max_elapsed,
        heartbeat,
        terminal,
        handshake_budget,
        connect_timeout,
        close_timeout,
    };
    Ok(Options {
        settings,
        protocols,
        outbox,
        greeting,
        max_message_size,
        app_pong,
    })
}

/// Browsers send no protocol pings and show no pongs: a heartbeat is the app-level ping and
/// its pong rule, or none. Without `appPing` the heartbeat is off (a silent, healthy link
/// could not be told from a dead one).
fn heartbeat(o: &JsValue, max_message_size: usize) -> Result<Option<Heartbeat>, Error> {
    let Some(h) = get(o, "heartbeat") else {
        return Ok(None);
    };
    if get(&h, "enabled").is_some_and(|v| v.is_falsy()) {
        return Ok(None);
    }
    let Some(payload) = get(&h, "appPingPayload") else {
        return Err(invalid(
            "heartbeat",
            "browsers cannot send protocol pings: give heartbeat.appPing (a message the server \
             answers, and how to recognise the answer), or heartbeat: false",
        ));
    };
    let mut beat = Heartbeat::default();
    if let Some(d) = millis(&h, "intervalMs", "heartbeat.intervalMs")? {
        beat.interval = d;
    }
    if let Some(d) = millis(&h, "timeoutMs", "heartbeat.timeoutMs")? {
        beat.timeout = d;
    }
    let pong = match (
        get(&h, "appPongExact").and_then(|v| v.as_string()),
        get(&h, "appPongContains").and_then(|v| v.as_string()),
    ) {
        (Some(s), None) => PongMatch::Exact(s),
        (None, Some(s)) => PongMatch::Contains(s),
        _ => {
            return Err(invalid(
                "heartbeat.appPing.pong",
                "give exactly one of { exact } or { contains }",
            ))
        }
    };
    let payload = message(&payload).ok_or_else(|| {
        invalid(
            "heartbeat.appPing.payload",
            "must be a string or Uint8Array",
        )
    })?;
    beat.app_ping = Some(AppPing { payload, pong });
    limits::check_heartbeat(&beat, max_message_size)?;
    Ok(Some(beat))
}
