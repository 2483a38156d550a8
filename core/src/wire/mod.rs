//! The message layer above tungstenite's frame header codec: frames in, messages out; messages
//! in, masked frames out. Pure: bytes go in and come out, nothing here touches a socket, so
//! every rule of RFC 6455 §5 can be tested on byte strings (and Autobahn checks the rest).
//!
//! Why our own rather than tungstenite's `WebSocket`: its message layer logs every frame and
//! message payload at trace level (a token sent in a greeting would reach an app's logs), it
//! fails any frame with an RSV bit set (so no permessage-deflate), and it copies each payload
//! through an 8 KiB read buffer. Here a payload is read into one buffer sized from the frame
//! header and handed out without another copy.

use std::io::Cursor;
use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use crate::batch::{put_entry, PACK_LIMIT};
use crate::deflate::{Deflater, InflateError, Inflater};
use crate::event::{Message, Utf8Bytes};

/// Most bytes a control frame may carry (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame or message that came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A complete data message.
    Message(Message),
    /// A whole, unfragmented, uncompressed data message under `PACK_LIMIT` bytes, appended as a
    /// packed entry to the buffer [`Decoder::decode_into`] was given (text checked as UTF-8):
    /// no allocation of its own. `len` is its payload's length.
    Packed { text: bool, len: usize },
    /// A ping: answer with a pong carrying the same payload.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame: its code and reason, `None` when it carried no status (1005).
    Close(Option<(u16, String)>),
}

/// The server broke the protocol: close with `code` (1002, 1007 or 1009) and say why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    pub code: u16,
    pub detail: String,
}

impl Violation {
    fn protocol(detail: impl Into<String>) -> Violation {
        Violation {
            code: 1002,
            detail: detail.into(),
        }
    }
}

/// A data message being assembled from fragments.
#[derive(Debug)]
struct Partial {
    text: bool,
    /// Its frames carry compressed data (RSV1 on the first); `payload` holds what they
    /// inflated to.
    compressed: bool,
    payload: BytesMut,
    /// How much of `payload` is known to be valid UTF-8 (text only): an invalid sequence fails
    /// the message at the fragment that carries it, not at its end.
    valid_up_to: usize,
}

/// Turns bytes from the server into [`Decoded`] frames and messages.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Bytes read and not yet decoded.
    input: BytesMut,
    partial: Option<Partial>,
    max_message_size: usize,
    /// A large frame whose payload is being read straight into a buffer of its exact size.
    big: Option<BigFrame>,
    /// permessage-deflate, when negotiated.
    inflater: Option<Inflater>,
    /// Reused output of inflating.
    inflated: Vec<u8>,
}

/// A large frame's payload, read into its own buffer: one allocation of exactly its size, never
/// a growing read buffer (whose reallocations crossed malloc's mmap threshold and cost page
/// faults on every 64 KiB message), and handed out without a copy.
#[derive(Debug)]
struct BigFrame {
    header: FrameHeader,
    payload: Vec<u8>,
    length: usize,
}

/// Smallest read buffer; also what an idle link keeps.
const MIN_READ: usize = 4 * 1024;
/// The read buffer of a busy link: many small frames, or a 64 KiB one, per read.
const MAX_READ: usize = 128 * 1024;
/// Frames from this size on that have not arrived whole are read into a buffer of their own (the
/// read buffer does not grow for them).
const BIG_FRAME: usize = 128 * 1024;
/// Frames from this size on that arrived whole in the read buffer are handed out as a slice of
/// it, not copied: copying 64 KiB payloads out cost the client about half again raw
/// tokio-tungstenite's CPU per message on this machine (bench/README.md). Smaller whole
/// messages are copied into the engine's packed queue (`Decoded::Packed`), so a busy link of
/// small messages keeps reusing one unshared buffer. A sliced payload the app keeps holds the
/// read buffer it came from (at most `MAX_READ`), as tungstenite's do.
const SHARE_FRAME: usize = PACK_LIMIT;

impl Decoder {
    /// A decoder that refuses messages over `max_message_size` bytes (1009, the inflated size
    /// when compressed), starting with `leftover` (bytes that arrived behind the upgrade
    /// response), inflating with `inflater` when permessage-deflate was negotiated.
    pub fn new(max_message_size: usize, leftover: &[u8], inflater: Option<Inflater>) -> Decoder {
        let mut input = BytesMut::with_capacity(MIN_READ.max(leftover.len()));
        input.extend_from_slice(leftover);
        Decoder {
            input,
            partial: None,
            max_message_size,
            big: None,
            inflater,
            inflated: Vec::new(),
        }
    }

    /// Free the inflater's state for a link gone quiet (its window stays).
    pub fn release_compression(&mut self) {
        if let Some(inflater) = self.inflater.as_mut() {
            inflater.release();
        }
        self.inflated = Vec::new();
    }

    /// Where the next read goes: the rest of a large frame's own buffer, or room in the input
    /// buffer for many small frames. Report what was read with [`filled`](Self::filled).
    pub fn spare(&mut self) -> &mut [MaybeUninit<u8>] {
        if let Some(big) = self.big.as_mut().filter(|b| b.payload.len() < b.length) {
            return big.payload.spare_capacity_mut();
        }
        if self.input.capacity() - self.input.len() < MIN_READ {
            // While no large payload still holds part of it, this moves the unread tail to the
            // front or grows the one buffer, once, to a busy link's size; otherwise it starts a
            // new buffer and the old one is freed with the last payload that shares it.
            self.input
                .reserve(MAX_READ.saturating_sub(self.input.len()).max(MIN_READ));
        }
        self.input.spare_capacity_mut()
    }

    /// `n` bytes were read into [`spare`](Self::spare).
    pub fn filled(&mut self, n: usize) {
        // SAFETY: the reader initialised the first `n` bytes of the spare capacity `spare`
        // handed out, which is still the spare capacity of the same buffer.
        unsafe {
            match self.big.as_mut().filter(|b| b.payload.len() < b.length) {
                Some(big) => {
                    let len = big.payload.len() + n;
                    big.payload.set_len(len);
                }
                None => {
                    let len = self.input.len() + n;
                    self.input.set_len(len);
                }
            }
        }
    }

    /// Copy `bytes` in as if read (tests and the bytes that came behind the `101`).
    #[cfg(test)]
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let spare = self.spare();
            let n = spare.len().min(bytes.len());
            for (dst, src) in spare.iter_mut().zip(&bytes[..n]) {
                dst.write(*src);
            }
            self.filled(n);
            bytes = &bytes[n..];
        }
    }

    /// Let an idle link give back a large read buffer.
    pub fn shrink_if_idle(&mut self) {
        if self.input.is_empty() && self.partial.is_none() && self.input.capacity() > MAX_READ {
            self.input = BytesMut::with_capacity(MIN_READ);
        }
    }

    /// The next frame or message in the bytes read so far, if complete; never
    /// [`Decoded::Packed`] (tests and the probe).
    pub fn decode(&mut self) -> Result<Option<Decoded>, Violation> {
        let mut packed = Vec::new();
        Ok(match self.decode_into(&mut packed)? {
            Some(Decoded::Packed { text, len }) => {
                let payload = Bytes::copy_from_slice(&packed[packed.len() - len..]);
                Some(Decoded::Message(finish(text, payload)?))
            }
            other => other,
        })
    }

    /// The next frame or message in the bytes read so far, if complete; a small whole message in
    /// the common frame (see `common_frame`) is appended to `packed` as a packed entry
    /// ([`Decoded::Packed`]).
    pub fn decode_into(&mut self, packed: &mut Vec<u8>) -> Result<Option<Decoded>, Violation> {
        loop {
            if let Some(big) = &self.big {
                if big.payload.len() < big.length {
                    return Ok(None);
                }
                let big = self.big.take().expect("checked");
                if let Some(decoded) = self.frame(big.header, Bytes::from(big.payload))? {
                    return Ok(Some(decoded));
                }
                continue;
            }
            // Every whole small message comes this way (a server that spends eight length bytes
            // on one is decoded below, unpacked).
            if self.partial.is_none() {
                if let Some((text, head_len, length)) = common_frame(&self.input) {
                    if length < SHARE_FRAME
                        && length <= self.max_message_size
                        && self.input.len() >= head_len + length
                    {
                        return self.pack(text, head_len, length, packed).map(Some);
                    }
                }
            }
            let mut cursor = Cursor::new(&self.input[..]);
            let (header, length) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return Ok(None),
                Err(e) => return Err(Violation::protocol(e.to_string())),
            };
            let head_len = cursor.position() as usize;
            let control = matches!(header.opcode, OpCode::Control(_));
            if header.mask.is_some() {
                return Err(Violation::protocol("the server masked a frame"));
            }
            if header.rsv2 || header.rsv3 {
                return Err(Violation::protocol(
                    "reserved bits set without a negotiated extension",
                ));
            }
            // RSV1 marks a compressed message: only on its first frame, only when negotiated.
            if header.rsv1 {
                let first_data = matches!(header.opcode, OpCode::Data(d) if d != Data::Continue);
                if self.inflater.is_none() {
                    return Err(Violation::protocol(
                        "reserved bits set without a negotiated extension",
                    ));
                }
                if !first_data {
                    return Err(Violation::protocol(
                        "RSV1 set on a control frame or a continuation",
                    ));
                }
            }
            if control && (length as usize > MAX_CONTROL_PAYLOAD || !header.is_final) {
                return Err(Violation::protocol(
                    "control frame fragmented or over 125 bytes",
                ));
            }
            // A compressed frame's size says nothing of what it inflates to: that is bounded
            // while inflating.
            let compressed = header.rsv1 || self.partial.as_ref().is_some_and(|p| p.compressed);
            let buffered = self.partial.as_ref().map_or(0, |p| p.payload.len());
            // Compressed, the frame itself is still bounded (deflate may expand a little).
            let limit = if compressed {
                (self.max_message_size as u64).saturating_add(64 * 1024)
            } else {
                self.max_message_size as u64
            };
            if !control && length.saturating_add(buffered as u64) > limit {
                return Err(Violation {
                    code: 1009,
                    detail: format!(
                        "message over max_message_size ({} bytes)",
                        self.max_message_size
                    ),
                });
            }
            let length = length as usize;
            if self.input.len() < head_len + length {
                if length >= BIG_FRAME {
                    // Read the rest straight into a buffer of its own.
                    self.input.advance(head_len);
                    let mut payload = Vec::with_capacity(length);
                    payload.extend_from_slice(&self.input);
                    self.input.clear();
                    self.big = Some(BigFrame {
                        header,
                        payload,
                        length,
                    });
                }
                return Ok(None);
            }
            self.input.advance(head_len);
            let payload = if length >= SHARE_FRAME {
                self.input.split_to(length).freeze()
            } else {
                let payload = Bytes::copy_from_slice(&self.input[..length]);
                self.input.advance(length);
                payload
            };
            if let Some(decoded) = self.frame(header, payload)? {
                return Ok(Some(decoded));
            }
        }
    }

    /// A whole small message (its frame complete in the input, `head_len` bytes of header),
    /// copied once, into the packed queue.
    fn pack(
        &mut self,
        text: bool,
        head_len: usize,
        length: usize,
        packed: &mut Vec<u8>,
    ) -> Result<Decoded, Violation> {
        let payload = &self.input[head_len..head_len + length];
        if text && std::str::from_utf8(payload).is_err() {
            return Err(invalid_utf8());
        }
        put_entry(packed, text, payload);
        self.input.advance(head_len + length);
        Ok(Decoded::Packed { text, len: length })
    }

    /// One complete frame: a control frame, a whole message, or a fragment of one.
    fn frame(&mut self, header: FrameHeader, payload: Bytes) -> Result<Option<Decoded>, Violation> {
        match header.opcode {
            OpCode::Control(Control::Ping) => Ok(Some(Decoded::Ping(payload))),
            OpCode::Control(Control::Pong) => Ok(Some(Decoded::Pong(payload))),
            OpCode::Control(Control::Close) => close_frame(&payload).map(Some),
            OpCode::Control(Control::Reserved(op)) | OpCode::Data(Data::Reserved(op)) => {
                Err(Violation::protocol(format!("reserved opcode {op}")))
            }
            OpCode::Data(data) => {
                let first = data != Data::Continue;
                match (&self.partial, first) {
                    (None, false) => {
                        return Err(Violation::protocol(
                            "continuation frame without a message to continue",
                        ))
                    }
                    (Some(_), true) => {
                        return Err(Violation::protocol(
                            "new data frame while a fragmented message is incomplete",
                        ))
                    }
                    _ => {}
                }
                if first && header.is_final && !header.rsv1 {
                    // The common case: a whole message in one frame, handed out without a copy.
                    return Ok(Some(Decoded::Message(finish(data == Data::Text, payload)?)));
                }
                let partial = self.partial.get_or_insert_with(|| Partial {
                    text: data == Data::Text,
                    compressed: header.rsv1,
                    payload: BytesMut::new(),
                    valid_up_to: 0,
                });
                if partial.compressed {
                    // The whole message inflates into `inflated`, so the limit counts it all
                    // (and, with context takeover, the window sees it all).
                    let inflater = self.inflater.as_mut().expect("checked in decode");
                    inflater
                        .inflate(
                            &payload,
                            header.is_final,
                            self.max_message_size,
                            &mut self.inflated,
                        )
                        .map_err(inflate_violation)?;
                    if partial.text {
                        check_utf8(&self.inflated, &mut partial.valid_up_to, header.is_final)?;
                    }
                } else {
                    partial.payload.extend_from_slice(&payload);
                    if partial.text {
                        check_utf8(&partial.payload, &mut partial.valid_up_to, header.is_final)?;
                    }
                }
                if !header.is_final {
                    return Ok(None);
                }
                let partial = self.partial.take().expect("set above");
                let payload = if partial.compressed {
                    // The inflated buffer is reused; the message gets a copy of its exact size.
                    let whole = Bytes::copy_from_slice(&self.inflated);
                    self.inflated.clear();
                    whole
                } else {
                    partial.payload.freeze()
                };
                Ok(Some(Decoded::Message(finish(partial.text, payload)?)))
            }
        }
    }
}

/// The frame nearly every message comes in, read without the general parser: final, no
/// reserved bits, text or binary, unmasked, its length in the first two bytes or the next two.
/// Returns whether it is text, the header's length and the payload's; `None` for anything
/// else (or a header not yet complete), which the general parser then handles.
fn common_frame(input: &[u8]) -> Option<(bool, usize, usize)> {
    let text = match *input.first()? {
        0x81 => true,
        0x82 => false,
        _ => return None,
    };
    match *input.get(1)? {
        len @ 0..=125 => Some((text, 2, len as usize)),
        126 => {
            let len = u16::from_be_bytes([*input.get(2)?, *input.get(3)?]);
            Some((text, 4, len as usize))
        }
        _ => None,
    }
}

fn inflate_violation(e: InflateError) -> Violation {
    let code = match e {
        InflateError::TooLarge { .. } => 1009,
        InflateError::Corrupt(_) => 1007,
    };
    Violation {
        code,
        detail: e.to_string(),
    }
}

/// Extend the known-valid prefix (`valid_up_to`) of a text message's bytes so far; an invalid
/// sequence fails at once, an incomplete one at the end only if the message ends there.
fn check_utf8(bytes: &[u8], valid_up_to: &mut usize, last: bool) -> Result<(), Violation> {
    match std::str::from_utf8(&bytes[*valid_up_to..]) {
        Ok(_) => *valid_up_to = bytes.len(),
        Err(e) if e.error_len().is_none() && !last => *valid_up_to += e.valid_up_to(),
        Err(_) => return Err(invalid_utf8()),
    }
    Ok(())
}

fn invalid_utf8() -> Violation {
    Violation {
        code: 1007,
        detail: "invalid UTF-8 in a text message".into(),
    }
}

/// The message a complete payload makes.
fn finish(text: bool, payload: Bytes) -> Result<Message, Violation> {
    if text {
        Utf8Bytes::try_from(payload)
            .map(Message::Text)
            .map_err(|_| invalid_utf8())
    } else {
        Ok(Message::Binary(payload))
    }
}

/// A close frame's status and reason (RFC 6455 §5.5.1, §7.4).
fn close_frame(payload: &[u8]) -> Result<Decoded, Violation> {
    match payload {
        [] => Ok(Decoded::Close(None)),
        [_] => Err(Violation::protocol("close frame with a 1-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close_code_may_be_sent(code) {
                return Err(Violation::protocol(format!(
                    "the server sent close code {code}, which may not be sent"
                )));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Violation {
                code: 1007,
                detail: "close reason is not UTF-8".into(),
            })?;
            Ok(Decoded::Close(Some((code, reason.to_string()))))
        }
    }
}

/// Whether a peer may put `code` in a close frame: the defined codes except the three that
/// only describe a closure (1005, 1006, 1015), and the registered and private ranges.
pub(crate) fn close_code_may_be_sent(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Turns outgoing messages and control frames into masked frames.
pub(crate) struct Encoder {
    /// Masking keys must be unpredictable (RFC 6455 §10.3): a CSPRNG seeded from the OS.
    keys: StdRng,
    /// permessage-deflate, when negotiated, and the size from which messages are compressed.
    deflater: Option<Deflater>,
    min_compress: usize,
    /// Reused output of compressing.
    compressed: Vec<u8>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encoder")
    }
}

impl Encoder {
    /// An encoder whose masking keys come from `seed` (the driver takes it from the OS),
    /// compressing messages of `min_compress` bytes or more with `deflater` when
    /// permessage-deflate was negotiated.
    pub fn new(seed: [u8; 32], deflater: Option<Deflater>, min_compress: usize) -> Encoder {
        Encoder {
            keys: StdRng::from_seed(seed),
            deflater,
            min_compress,
            compressed: Vec::new(),
        }
    }

    /// Free the compressor's state for a link gone quiet (its window stays).
    pub fn release_compression(&mut self) {
        if let Some(deflater) = self.deflater.as_mut() {
            deflater.release();
        }
        self.compressed = Vec::new();
    }

    /// Append a data message as one frame, compressed when that is on and worth it.
    pub fn message(&mut self, message: &Message, out: &mut BytesMut) {
        let (opcode, payload) = match message {
            Message::Text(t) => (Data::Text, t.as_bytes()),
            Message::Binary(b) => (Data::Binary, &b[..]),
        };
        if let Some(deflater) = self.deflater.as_mut() {
            if payload.len() >= self.min_compress
                && deflater.compress(payload, &mut self.compressed)
            {
                let compressed = std::mem::take(&mut self.compressed);
                self.frame_with(OpCode::Data(opcode), true, &compressed, out);
                self.compressed = compressed;
                return;
            }
        }
        self.frame(OpCode::Data(opcode), payload, out);
    }

    /// Append a ping.
    pub fn ping(&mut self, payload: &[u8], out: &mut BytesMut) {
        self.frame(OpCode::Control(Control::Ping), payload, out);
    }

    /// Append a pong.
    pub fn pong(&mut self, payload: &[u8], out: &mut BytesMut) {
        self.frame(OpCode::Control(Control::Pong), payload, out);
    }

    /// Append a close frame (`None`: no status).
    pub fn close(&mut self, status: Option<(u16, &str)>, out: &mut BytesMut) {
        let mut payload = Vec::new();
        if let Some((code, reason)) = status {
            payload.extend_from_slice(&code.to_be_bytes());
            // A reason is at most 123 bytes; cut at a character boundary if longer.
            let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            payload.extend_from_slice(&reason.as_bytes()[..end]);
        }
        self.frame(OpCode::Control(Control::Close), &payload, out);
    }

    fn frame(&mut self, opcode: OpCode, payload: &[u8], out: &mut BytesMut) {
        self.frame_with(opcode, false, payload, out);
    }

    fn frame_with(&mut self, opcode: OpCode, rsv1: bool, payload: &[u8], out: &mut BytesMut) {
        let mut mask = [0u8; 4];
        self.keys.fill_bytes(&mut mask);
        let header = FrameHeader {
            is_final: true,
            rsv1,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: Some(mask),
        };
        let length = payload.len() as u64;
        out.reserve(header.len(length) + payload.len());
        let mut head = [0u8; 14];
        let mut cursor = Cursor::new(&mut head[..]);
        header
            .format(length, &mut cursor)
            .expect("a frame header fits in 14 bytes");
        let head_len = cursor.position() as usize;
        out.extend_from_slice(&head[..head_len]);
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], mask);
    }
}

/// XOR `buf` with the repeating 4-byte `mask`, eight bytes at a time.
pub(crate) fn apply_mask(buf: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

#[cfg(test)]
mod tests;
