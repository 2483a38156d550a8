//! permessage-deflate (RFC 7692): the offer, the check of the server's answer, and the
//! compressor and decompressor of one link. Pure code, no I/O and no clock: the wire layer
//! calls it with payloads and sets or reads RSV1 itself.
//!
//! ## Memory
//!
//! zlib-rs (flate2's fast backend) allocates nearly a fixed amount whatever the window:
//! 245-371 KiB for a compressor (its hash table alone is 128 KiB, and flate2 offers no
//! `memLevel`) and 46 KiB for a decompressor (a 32 KiB window whatever the bits). So neither is kept for an idle link:
//!
//! - Nothing is allocated before the first message in each direction.
//! - Without context takeover the state is freed after every message.
//! - With context takeover, [`Deflater::release`] and [`Inflater::release`] free the state
//!   and keep only the LZ77 window (the last 2^bits bytes of plain text, which both ends still
//!   share); the next message rebuilds the state from it with a preset dictionary. The wire
//!   layer calls them when a link goes quiet.
//!
//! Measured with a counting allocator (`retained_memory_by_window`, zlib-rs 0.6), in bytes:
//!
//! | window bits | compressor in use | decompressor in use | both after `release` |
//! |---|---|---|---|
//! |  9 | 251 520 | 48 064 |  1 024 |
//! | 10 | 254 080 | 48 576 |  2 048 |
//! | 11 | 259 200 | 49 600 |  4 096 |
//! | 12 | 269 440 | 51 648 |  8 192 |
//! | 13 | 289 920 | 55 744 | 16 384 |
//! | 14 | 330 880 | 63 936 | 32 768 |
//! | 15 | 412 800 | 80 320 | 65 536 |
//!
//! ("In use" includes the window copy kept next to the state.) With the default 12-bit
//! windows an idle link that has seen traffic holds 8 KiB; with no context takeover in either
//! direction it holds nothing. Rebuilding from the window costs a fresh state and a preset
//! dictionary, a few tens of microseconds per message for the compressor and about one for
//! the decompressor, which is why a busy link keeps its state.

use std::fmt;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::Error;
// The window limits live with the other options' limits (bindings read them there).
use crate::limits::{MAX_WINDOW_BITS, MIN_CLIENT_WINDOW_BITS, MIN_SERVER_WINDOW_BITS};

/// The extension's name in `Sec-WebSocket-Extensions`.
const NAME: &str = "permessage-deflate";
/// What every sync flush ends with, removed by the sender and put back by the receiver.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Default window both ways: 4 KiB, as python-websockets' servers use; see [`Compression`].
pub const DEFAULT_WINDOW_BITS: u8 = 12;
/// Default [`Compression::min_size`]: shorter messages go uncompressed.
pub const DEFAULT_MIN_SIZE: usize = 128;
/// Compression level of outgoing messages: zlib's default, as python-websockets and `ws` use.
/// Smoke figures on JSON with 12-bit windows (zlib-rs, release): level 6 compresses 2 KiB
/// messages at about 170 MB/s to 7% and inflates at about 1 GB/s; level 3 is twice as fast
/// but sends 10-25% more bytes on Autobahn's JSON and HTML samples, level 1 five times as
/// fast and 30-90% more bytes. Bytes on the wire are what compression is for.
const LEVEL: u32 = 6;

/// permessage-deflate settings: whether the client offers it and with which parameters.
///
/// The default offers it, as python-websockets and `ws` do:
/// `permessage-deflate; client_max_window_bits=12; server_max_window_bits=12`.
/// 12-bit windows (4 KiB) keep what an idle link retains to 8 KiB (see the module's memory
/// table: 15-bit windows would retain 64 KiB) and cost little ratio on typical messages: on
/// JSON messages of 2 KiB, 5-11% of the plain size against 5-9% with 15 bits. A server that
/// cannot keep to `server_max_window_bits` declines the offer and the link opens without
/// compression; set it to `None` to let the server use its full window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compression {
    /// Offer permessage-deflate at all (default `true`).
    pub enabled: bool,
    /// Our compressor's window, 2^bits bytes, 9..=15, offered as a hint to the server
    /// (default 12); `None` uses 15. The server may lower it in its answer, never raise it.
    pub client_max_window_bits: Option<u8>,
    /// Ask the server to compress with at most 2^bits bytes of window, 8..=15 (default 12);
    /// `None` does not ask (the server may use 15).
    pub server_max_window_bits: Option<u8>,
    /// Compress each outgoing message on its own: nothing kept between messages, but small
    /// messages barely shrink (default `false`).
    pub client_no_context_takeover: bool,
    /// Ask the server to compress each message on its own (default `false`).
    pub server_no_context_takeover: bool,
    /// Outgoing messages shorter than this many bytes go uncompressed (default 128):
    /// compressing a few dozen bytes costs microseconds and saves a handful. OkHttp's
    /// `minimumDeflateSize` and `ws`'s `threshold` are the same idea (both default to 1024);
    /// python-websockets compresses everything (0). At most `limits::MAX_MESSAGE_SIZE`.
    pub min_size: usize,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            enabled: true,
            client_max_window_bits: Some(DEFAULT_WINDOW_BITS),
            server_max_window_bits: Some(DEFAULT_WINDOW_BITS),
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            min_size: DEFAULT_MIN_SIZE,
        }
    }
}

impl Compression {
    /// No compression: nothing is offered.
    pub fn disabled() -> Self {
        Compression {
            enabled: false,
            ..Compression::default()
        }
    }

    /// Refuse window sizes outside what RFC 7692 and zlib allow.
    pub fn validate(&self) -> Result<(), Error> {
        let check = |option: &'static str, bits: Option<u8>, min: u8, why: &str| match bits {
            Some(b) if !(min..=MAX_WINDOW_BITS).contains(&b) => Err(Error::InvalidOption {
                option,
                reason: format!("must be {min} to {MAX_WINDOW_BITS} (got {b}){why}"),
            }),
            _ => Ok(()),
        };
        check(
            "compression.client_max_window_bits",
            self.client_max_window_bits,
            MIN_CLIENT_WINDOW_BITS,
            "; zlib cannot compress with an 8-bit window",
        )?;
        check(
            "compression.server_max_window_bits",
            self.server_max_window_bits,
            MIN_SERVER_WINDOW_BITS,
            "",
        )?;
        if self.min_size > crate::limits::MAX_MESSAGE_SIZE {
            return Err(Error::InvalidOption {
                option: "compression.min_size",
                reason: format!("must be at most {} bytes", crate::limits::MAX_MESSAGE_SIZE),
            });
        }
        Ok(())
    }
}

/// The `Sec-WebSocket-Extensions` value the client sends, or `None` when compression is off.
pub(crate) fn offer(c: &Compression) -> Option<String> {
    if !c.enabled {
        return None;
    }
    let mut s = String::from(NAME);
    if c.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if c.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    // Always offered: it tells the server it may limit our window.
    match c.client_max_window_bits {
        Some(bits) => s.push_str(&format!("; client_max_window_bits={bits}")),
        None => s.push_str("; client_max_window_bits"),
    }
    if let Some(bits) = c.server_max_window_bits {
        s.push_str(&format!("; server_max_window_bits={bits}"));
    }
    Some(s)
}

/// What both ends agreed on for one link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    /// The server compresses each message on its own: nothing to keep between messages.
    pub server_no_context_takeover: bool,
    /// We compress each message on its own (we offered it, or the server asked).
    pub client_no_context_takeover: bool,
    /// The server's window: what it answered, else 15. The decompressor keeps this much.
    pub server_max_window_bits: u8,
    /// Our compressor's window: ours, lowered by the answer. 8 means the server allows only
    /// a window zlib cannot keep to, so messages go uncompressed (RSV1 clear), which RFC 7692
    /// permits.
    pub client_max_window_bits: u8,
}

impl fmt::Display for Params {
    /// The agreed parameters in the header's syntax, defaults left out, e.g.
    /// `permessage-deflate; server_max_window_bits=12; client_max_window_bits=12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NAME)?;
        if self.server_no_context_takeover {
            f.write_str("; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            f.write_str("; client_no_context_takeover")?;
        }
        if self.server_max_window_bits < MAX_WINDOW_BITS {
            write!(
                f,
                "; server_max_window_bits={}",
                self.server_max_window_bits
            )?;
        }
        if self.client_max_window_bits < MAX_WINDOW_BITS {
            write!(
                f,
                "; client_max_window_bits={}",
                self.client_max_window_bits
            )?;
        }
        Ok(())
    }
}

/// Check the server's `Sec-WebSocket-Extensions` answer (all its headers joined with `, `)
/// against what `c` offered (RFC 7692 §7.1), and give the agreed parameters. The error says
/// what does not fit; the link must not open (a terminal `Cause::Incompatible`).
///
/// Lenient where it is harmless: a `client_max_window_bits` above our own only keeps ours, and
/// an answer that leaves out a `server_max_window_bits` or `server_no_context_takeover` we
/// asked for (gorilla/websocket answers `server_no_context_takeover;
/// client_no_context_takeover` to any offer) opens with what the answer says, since the
/// decompressor works with any window and with context takeover.
pub(crate) fn accept(c: &Compression, answer: &str) -> Result<Params, String> {
    let extensions = parse_extensions(answer)?;
    if !c.enabled {
        return Err(format!(
            "the server enabled extension {answer:?}, which was not offered"
        ));
    }
    let mut agreed = None;
    for (name, params) in extensions {
        if !name.eq_ignore_ascii_case(NAME) {
            return Err(format!(
                "the server enabled extension {name:?}, which was not offered (offered: {NAME})"
            ));
        }
        if agreed.is_some() {
            return Err(format!("the server accepted {NAME} more than once"));
        }
        agreed = Some(agree(c, &params)?);
    }
    agreed.ok_or_else(|| format!("the server's extensions answer {answer:?} names none"))
}

/// The parameters of one accepted permessage-deflate, checked one by one.
fn agree(c: &Compression, params: &[(String, Option<String>)]) -> Result<Params, String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut server_no_context = false;
    let mut client_no_context = false;
    let mut server_bits = None;
    let mut client_bits = None;
    for (name, value) in params {
        let name = name.to_ascii_lowercase();
        let known = [
            "server_no_context_takeover",
            "client_no_context_takeover",
            "server_max_window_bits",
            "client_max_window_bits",
        ];
        let Some(known) = known.into_iter().find(|k| *k == name) else {
            return Err(format!(
                "the server answered unknown {NAME} parameter {name:?}"
            ));
        };
        if seen.contains(&known) {
            return Err(format!(
                "the server answered {NAME} parameter {known} twice"
            ));
        }
        seen.push(known);
        match known {
            "server_no_context_takeover" | "client_no_context_takeover" => {
                if let Some(v) = value {
                    return Err(format!("{known} takes no value (the server sent {v:?})"));
                }
                if known == "server_no_context_takeover" {
                    server_no_context = true;
                } else {
                    client_no_context = true;
                }
            }
            _ => {
                let bits = window_bits(known, value.as_deref())?;
                if known == "server_max_window_bits" {
                    server_bits = Some(bits);
                } else {
                    client_bits = Some(bits);
                }
            }
        }
    }
    if let (Some(answered), Some(offered)) = (server_bits, c.server_max_window_bits) {
        if answered > offered {
            return Err(format!(
                "the server answered server_max_window_bits={answered}, above the {offered} offered"
            ));
        }
    }
    let ours = c.client_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
    Ok(Params {
        server_no_context_takeover: server_no_context,
        client_no_context_takeover: client_no_context || c.client_no_context_takeover,
        server_max_window_bits: server_bits.unwrap_or(MAX_WINDOW_BITS),
        client_max_window_bits: client_bits.map_or(ours, |b| b.min(ours)),
    })
}

/// A window-bits value of the answer: a decimal 8..=15 without leading zeros.
fn window_bits(name: &str, value: Option<&str>) -> Result<u8, String> {
    let Some(v) = value else {
        return Err(format!(
            "the server answered {name} without a value (it needs 8 to 15)"
        ));
    };
    match v.parse::<u8>() {
        Ok(b) if (MIN_SERVER_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&b) && !v.starts_with('0') => {
            Ok(b)
        }
        _ => Err(format!(
            "the server answered {name}={v:?}, which is not a number from 8 to 15"
        )),
    }
}

type Extension = (String, Vec<(String, Option<String>)>);

/// Split a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1) into extensions and their
/// parameters, unquoting quoted-string values. Empty list elements are skipped.
fn parse_extensions(value: &str) -> Result<Vec<Extension>, String> {
    let mut extensions = Vec::new();
    for element in split_outside_quotes(value, ',')? {
        if element.trim().is_empty() {
            continue;
        }
        let mut parts = split_outside_quotes(element, ';')?.into_iter();
        let name = parts.next().unwrap_or_default().trim();
        if !is_token(name) {
            return Err(format!(
                "the server's extensions answer {value:?} is malformed"
            ));
        }
        let mut params = Vec::new();
        for part in parts {
            let (pname, pvalue) = match part.split_once('=') {
                Some((n, v)) => (
                    n.trim(),
                    Some(unquote(v.trim()).ok_or_else(|| {
                        format!("the server's extensions answer {value:?} has a bad value {v:?}")
                    })?),
                ),
                None => (part.trim(), None),
            };
            if !is_token(pname) {
                return Err(format!(
                    "the server's extensions answer {value:?} is malformed"
                ));
            }
            params.push((pname.to_string(), pvalue));
        }
        extensions.push((name.to_string(), params));
    }
    Ok(extensions)
}

/// Split on `sep` where it is not inside a quoted string.
fn split_outside_quotes(s: &str, sep: char) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, ch) in s.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err(format!(
            "the server's extensions answer {s:?} has an unclosed quote"
        ));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

/// A token as is, or a quoted string's content; `None` when neither.
fn unquote(v: &str) -> Option<String> {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(ch) = chars.next() {
                out.push(if ch == '\\' { chars.next()? } else { ch });
            }
            is_token(&out).then_some(out)
        }
        None => is_token(v).then(|| v.to_string()),
    }
}

/// RFC 7230 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The last 2^bits bytes of plain text, which the peer's decompressor also holds: all a
/// released compressor or decompressor needs to carry on with context takeover.
#[derive(Debug, Default)]
struct Window {
    bytes: Vec<u8>,
    bits: u8,
}

impl Window {
    fn new(bits: u8) -> Self {
        Window {
            bytes: Vec::new(),
            bits,
        }
    }

    /// Add a message's plain text, keeping only the last 2^bits bytes.
    fn push(&mut self, data: &[u8]) {
        let size = 1usize << self.bits;
        if self.bytes.capacity() == 0 {
            self.bytes.reserve_exact(size);
        }
        if data.len() >= size {
            self.bytes.clear();
            self.bytes.extend_from_slice(&data[data.len() - size..]);
            return;
        }
        let overflow = (self.bytes.len() + data.len()).saturating_sub(size);
        self.bytes.drain(..overflow);
        self.bytes.extend_from_slice(data);
    }

    fn clear(&mut self) {
        self.bytes = Vec::new();
    }
}

/// Compresses the outgoing messages of one link.
pub(crate) struct Deflater {
    /// Window our compressor keeps to; below 9 nothing is compressed.
    bits: u8,
    /// Whether the next message may refer to earlier ones.
    takeover: bool,
    /// zlib's state: allocated by the first message, freed by `release` and, without context
    /// takeover, after every message.
    state: Option<Compress>,
    /// With context takeover, what `state` is rebuilt from after a release.
    window: Window,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater")
            .field("bits", &self.bits)
            .field("takeover", &self.takeover)
            .field("live", &self.state.is_some())
            .finish()
    }
}

impl Deflater {
    /// A compressor for `params`; allocates nothing until the first message.
    pub fn new(params: &Params) -> Self {
        Deflater {
            bits: params.client_max_window_bits,
            takeover: !params.client_no_context_takeover,
            state: None,
            window: Window::new(params.client_max_window_bits),
        }
    }

    /// Compress one message's payload into `out` (cleared first). `true`: send `out` with
    /// RSV1 set. `false`: send `payload` as it is with RSV1 clear (the server allowed only an
    /// 8-bit window, or zlib failed, which also drops the context so later messages stay
    /// decodable).
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.bits < MIN_CLIENT_WINDOW_BITS {
            return false;
        }
        if payload.is_empty() {
            // An empty stored block, LEN and NLEN removed (RFC 7692 §7.2.3.6). zlib itself
            // emits nothing for an empty sync flush right after another.
            out.push(0x00);
            return true;
        }
        let ok = self.deflate(payload, out);
        if !ok {
            self.state = None;
            self.window.clear();
            out.clear();
            return false;
        }
        if self.takeover {
            self.window.push(payload);
        } else {
            self.state = None;
        }
        true
    }

    /// Free zlib's state, keeping only the window: for a link gone quiet. The next message
    /// rebuilds the state.
    pub fn release(&mut self) {
        self.state = None;
    }

    /// Raw deflate with a sync flush, its trailing `00 00 ff ff` removed (RFC 7692 §7.2.1).
    fn deflate(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let state = match &mut self.state {
            Some(state) => state,
            None => {
                let level = flate2::Compression::new(LEVEL);
                let mut state = Compress::new_with_window_bits(level, false, self.bits);
                if !self.window.bytes.is_empty()
                    && state.set_dictionary(&self.window.bytes).is_err()
                {
                    return false;
                }
                self.state.insert(state)
            }
        };
        out.reserve(payload.len() / 2 + 64);
        let start = state.total_in();
        loop {
            let consumed = (state.total_in() - start) as usize;
            if state
                .compress_vec(&payload[consumed..], out, FlushCompress::Sync)
                .is_err()
            {
                return false;
            }
            let consumed = (state.total_in() - start) as usize;
            // The flush is complete once all input is in and zlib left output room unused.
            if consumed == payload.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if !out.ends_with(&TAIL) {
            return false;
        }
        out.truncate(out.len() - TAIL.len());
        true
    }
}

/// Why an incoming compressed message was refused. After either, the link must close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The message inflates to more than `max_size` bytes: close with 1009.
    TooLarge {
        /// The limit.
        max_size: usize,
    },
    /// The payload is not valid DEFLATE data: close with 1007.
    Corrupt(String),
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InflateError::TooLarge { max_size } => {
                write!(
                    f,
                    "compressed message inflates to more than {max_size} bytes"
                )
            }
            InflateError::Corrupt(m) => write!(f, "compressed message is corrupt: {m}"),
        }
    }
}

/// Inflates the incoming messages of one link.
pub(crate) struct Inflater {
    /// Whether a message may refer to earlier ones.
    takeover: bool,
    /// zlib's state: allocated by the first message, freed by `release`, after a message
    /// without context takeover, and when the sender ended its stream (a BFINAL block).
    state: Option<Decompress>,
    /// The current message's stream has ended: what is left of it is ignored.
    ended: bool,
    /// Whether the current message had any compressed byte yet.
    started: bool,
    /// With context takeover, what `state` is rebuilt from.
    window: Window,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("takeover", &self.takeover)
            .field("live", &self.state.is_some())
            .finish()
    }
}

impl Inflater {
    /// A decompressor for `params`; allocates nothing until the first message.
    pub fn new(params: &Params) -> Self {
        Inflater {
            takeover: !params.server_no_context_takeover,
            state: None,
            ended: false,
            started: false,
            window: Window::new(params.server_max_window_bits),
        }
    }

    /// Inflate the next fragment of a compressed message (RSV1 was set on its first frame),
    /// appending to `out`, which holds what the earlier fragments of this message inflated to
    /// (empty for the first). `fin` marks the last fragment. `out` never grows past
    /// `max_size + 1` bytes: as soon as the message would exceed `max_size`, this stops with
    /// [`InflateError::TooLarge`], however small the input.
    pub fn inflate(
        &mut self,
        fragment: &[u8],
        fin: bool,
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), InflateError> {
        if !fragment.is_empty() {
            self.started = true;
            self.feed(fragment, max_size, out)?;
        }
        if !fin {
            return Ok(());
        }
        // A message of no compressed bytes at all is empty: zlib-based senders (Python's,
        // for one) send that for an empty message after another. The tail alone would be
        // read as the start of a stored block and throw the stream off.
        if std::mem::take(&mut self.started) {
            self.feed(&TAIL, max_size, out)?;
        }
        self.ended = false;
        if self.takeover {
            self.window.push(&out[..]);
        } else {
            self.state = None;
        }
        Ok(())
    }

    /// Free zlib's state, keeping only the window: for a link gone quiet. The next message
    /// rebuilds the state.
    pub fn release(&mut self) {
        self.state = None;
    }

    /// Inflate `input` into `out`, growing it in steps and never past `max_size + 1`.
    fn feed(
        &mut self,
        mut input: &[u8],
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), InflateError> {
        if self.ended {
            // The sender closed its DEFLATE stream (BFINAL) before the message's end: what
            // follows is the empty block it appends, and our own tail.
            return Ok(());
        }
        let state = match &mut self.state {
            Some(state) => state,
            None => {
                // A 15-bit decompressor reads any smaller window too (zlib-rs allocates 32 KiB
                // whatever the bits).
                let mut state = Decompress::new_with_window_bits(false, MAX_WINDOW_BITS);
                if !self.window.bytes.is_empty() {
                    state
                        .set_dictionary(&self.window.bytes)
                        .map_err(|e| InflateError::Corrupt(e.to_string()))?;
                }
                self.state.insert(state)
            }
        };
        let limit = max_size.saturating_add(1);
        loop {
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    return Err(InflateError::TooLarge { max_size });
                }
                // Double, starting from a few times the input, and never past the limit.
                let want = out.capacity().max(input.len().saturating_mul(4)).max(1024);
                out.reserve_exact(want.min(limit - out.len()));
            }
            let (before_in, before_out) = (state.total_in(), out.len());
            let status = state
                .decompress_vec(input, out, FlushDecompress::None)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            input = &input[(state.total_in() - before_in) as usize..];
            if out.len() > max_size {
                return Err(InflateError::TooLarge { max_size });
            }
            match status {
                Status::StreamEnd => {
                    // Context, if kept, carries on from the window into a fresh stream.
                    self.state = None;
                    self.ended = true;
                    return Ok(());
                }
                // zlib stops early only when the output is full.
                _ if input.is_empty() && out.len() < out.capacity() => return Ok(()),
                _ if out.len() == before_out
                    && state.total_in() == before_in
                    && out.len() < out.capacity() =>
                {
                    return Err(InflateError::Corrupt("inflate made no progress".into()));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
