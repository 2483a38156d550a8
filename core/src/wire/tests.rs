//! RFC 6455 §5 on byte strings: what a server may send, and what the client writes.

use super::*;

/// An unmasked server frame.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n < 65536 => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

fn decode_all(bytes: &[u8]) -> Result<Vec<Decoded>, Violation> {
    let mut d = Decoder::new(1 << 20, bytes, None);
    let mut out = Vec::new();
    while let Some(item) = d.decode()? {
        out.push(item);
    }
    Ok(out)
}

fn text(s: &str) -> Decoded {
    Decoded::Message(Message::text(s))
}

#[test]
fn whole_and_fragmented_messages_with_a_ping_between_fragments() {
    let mut bytes = frame(true, 0x1, b"hello");
    bytes.extend(frame(false, 0x2, b"ab"));
    bytes.extend(frame(true, 0x9, b"p"));
    bytes.extend(frame(false, 0x0, b"cd"));
    bytes.extend(frame(true, 0x0, b"e"));
    bytes.extend(frame(true, 0xA, b"q"));
    assert_eq!(
        decode_all(&bytes).unwrap(),
        [
            text("hello"),
            Decoded::Ping(Bytes::from_static(b"p")),
            Decoded::Message(Message::binary(b"abcde".to_vec())),
            Decoded::Pong(Bytes::from_static(b"q")),
        ]
    );
}

#[test]
fn bytes_arriving_one_at_a_time_decode_the_same() {
    let payload = vec![b'x'; 70_000];
    let mut bytes = frame(true, 0x1, &payload);
    bytes.extend(frame(true, 0x1, b"tail"));
    let mut d = Decoder::new(1 << 20, &[], None);
    let mut out = Vec::new();
    for chunk in bytes.chunks(997) {
        d.feed(chunk);
        while let Some(item) = d.decode().unwrap() {
            out.push(item);
        }
    }
    assert_eq!(out.len(), 2);
    assert!(matches!(&out[0], Decoded::Message(m) if m.len() == 70_000));
    assert_eq!(out[1], text("tail"));
}

#[test]
fn a_large_frame_is_read_into_a_buffer_of_its_exact_size() {
    let mut d = Decoder::new(1 << 20, &frame(true, 0x2, &[0; 300_000])[..20], None);
    assert_eq!(d.decode(), Ok(None));
    // The next read goes straight into the payload's own buffer, sized for what is missing.
    assert_eq!(d.spare().len(), 300_000 - 10);
    d.feed(&[0; 300_000 - 10]);
    match d.decode() {
        Ok(Some(Decoded::Message(m))) => assert_eq!(m.len(), 300_000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_large_frame_read_whole_is_a_slice_of_the_read_buffer_and_a_small_one_a_copy() {
    let mut bytes = frame(true, 0x2, &[7; 64 * 1024]);
    bytes.extend(frame(true, 0x2, b"small"));
    let mut d = Decoder::new(1 << 20, &[], None);
    d.feed(&bytes);
    let (start, len) = (d.input.as_ptr() as usize, d.input.len());
    assert_eq!(
        len,
        bytes.len(),
        "both frames wait whole in the read buffer"
    );
    let within = |m: &Message| {
        let p = match m {
            Message::Binary(b) => b.as_ptr() as usize,
            Message::Text(_) => unreachable!(),
        };
        (start..start + len).contains(&p)
    };
    match d.decode() {
        Ok(Some(Decoded::Message(m))) => assert!(within(&m), "a 64 KiB payload was copied"),
        other => panic!("{other:?}"),
    }
    match d.decode() {
        Ok(Some(Decoded::Message(m))) => assert!(!within(&m), "a small payload shares the buffer"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_utf8_fails_at_the_fragment_that_carries_it() {
    // "κόσμε" split inside a character is fine...
    let word = "κόσμε".as_bytes();
    let mut bytes = frame(false, 0x1, &word[..3]);
    bytes.extend(frame(true, 0x0, &word[3..]));
    assert_eq!(decode_all(&bytes).unwrap(), [text("κόσμε")]);
    // ...but a byte that can never be UTF-8 fails before the message ends.
    let mut d = Decoder::new(1 << 20, &frame(false, 0x1, b"ok\xff"), None);
    assert_eq!(d.decode().unwrap_err().code, 1007);
    // And a message ending inside a character fails too.
    let err = decode_all(&frame(true, 0x1, &word[..3])).unwrap_err();
    assert_eq!(err.code, 1007);
}

#[test]
fn protocol_violations_close_with_1002() {
    let masked = [0x81, 0x81, 1, 2, 3, 4, b'a' ^ 1];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("masked", masked.to_vec()),
        ("rsv1", {
            let mut f = frame(true, 0x1, b"x");
            f[0] |= 0x40;
            f
        }),
        ("reserved data opcode", frame(true, 0x3, b"")),
        ("reserved control opcode", frame(true, 0xB, b"")),
        ("long ping", frame(true, 0x9, &[0; 126])),
        ("fragmented ping", frame(false, 0x9, b"")),
        ("lone continuation", frame(true, 0x0, b"x")),
        ("new message mid-fragment", {
            let mut f = frame(false, 0x1, b"a");
            f.extend(frame(true, 0x1, b"b"));
            f
        }),
        ("1-byte close", frame(true, 0x8, &[3])),
        ("close 1005", frame(true, 0x8, &1005u16.to_be_bytes())),
        ("close 999", frame(true, 0x8, &999u16.to_be_bytes())),
        ("close 5000", frame(true, 0x8, &5000u16.to_be_bytes())),
    ];
    for (name, bytes) in cases {
        let err = decode_all(&bytes).expect_err(name);
        assert_eq!(err.code, 1002, "{name}: {err:?}");
    }
}

#[test]
fn close_frames() {
    assert_eq!(
        decode_all(&frame(true, 0x8, b"")).unwrap(),
        [Decoded::Close(None)]
    );
    let mut payload = 1001u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    assert_eq!(
        decode_all(&frame(true, 0x8, &payload)).unwrap(),
        [Decoded::Close(Some((1001, "bye".into())))]
    );
    let mut bad = 1000u16.to_be_bytes().to_vec();
    bad.push(0xff);
    assert_eq!(decode_all(&frame(true, 0x8, &bad)).unwrap_err().code, 1007);
    for code in [1000, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999] {
        assert!(close_code_may_be_sent(code), "{code}");
    }
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert!(!close_code_may_be_sent(code), "{code}");
    }
}

#[test]
fn an_oversized_message_is_refused_from_its_header_or_its_fragments() {
    // The header alone says it is too big: refused before its payload arrives.
    let mut d = Decoder::new(1000, &frame(true, 0x2, &[0; 1001])[..4], None);
    assert_eq!(d.decode().unwrap_err().code, 1009);
    let mut bytes = frame(false, 0x2, &[0; 600]);
    bytes.extend(frame(true, 0x0, &[0; 600]));
    let mut d = Decoder::new(1000, &bytes, None);
    assert_eq!(d.decode().unwrap_err().code, 1009);
    // Control frames do not count toward it.
    let mut d = Decoder::new(10, &frame(true, 0x9, &[0; 100]), None);
    assert!(matches!(d.decode(), Ok(Some(Decoded::Ping(_)))));
}

/// Unmask a client frame the way a server would.
fn server_reads(bytes: &[u8]) -> (u8, Vec<u8>) {
    assert_eq!(bytes[1] & 0x80, 0x80, "client frames are masked");
    let (len, at) = match bytes[1] & 0x7f {
        126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
        127 => (
            u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let mask: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
    let mut payload = bytes[at + 4..at + 4 + len].to_vec();
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    assert_eq!(bytes.len(), at + 4 + len, "one frame");
    (bytes[0], payload)
}

#[test]
fn the_encoder_masks_every_frame_with_a_fresh_key() {
    let mut e = Encoder::new([7; 32], None, 0);
    for size in [0, 5, 125, 126, 65_535, 65_536, 100_000] {
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut out = BytesMut::new();
        e.message(&Message::binary(payload.clone()), &mut out);
        assert_eq!(server_reads(&out), (0x82, payload), "size {size}");
    }
    let mut a = BytesMut::new();
    let mut b = BytesMut::new();
    e.ping(b"1", &mut a);
    e.ping(b"1", &mut b);
    assert_eq!(server_reads(&a), (0x89, b"1".to_vec()));
    assert_ne!(a, b, "a new key per frame");
    let mut c = BytesMut::new();
    e.close(Some((1000, &"é".repeat(100))), &mut c);
    let (op, payload) = server_reads(&c);
    assert_eq!(op, 0x88);
    assert!(payload.len() <= 125);
    assert!(
        std::str::from_utf8(&payload[2..]).is_ok(),
        "cut at a character boundary"
    );
}

#[test]
fn wide_masking_matches_the_byte_rule() {
    let mask = [0x6d, 0xb6, 0xb2, 0x80];
    for len in 0..40 {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut fast = data.clone();
        apply_mask(&mut fast, mask);
        let slow: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        assert_eq!(fast, slow, "len {len}");
    }
}

// ----- permessage-deflate --------------------------------------------------------------------

use crate::deflate::Params;

/// What both sides agreed: 12-bit windows, context takeover both ways.
fn params() -> Params {
    Params {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 12,
        client_max_window_bits: 12,
    }
}

/// The server's side of `params`: its compressor keeps to the server window.
fn server_deflater() -> Deflater {
    let p = params();
    Deflater::new(&Params {
        client_max_window_bits: p.server_max_window_bits,
        client_no_context_takeover: p.server_no_context_takeover,
        ..p
    })
}

fn compressed_frame(fin: bool, opcode: u8, compressed: &[u8]) -> Vec<u8> {
    let mut f = frame(fin, opcode, compressed);
    f[0] |= 0x40;
    f
}

fn inflating(bytes: &[u8], max: usize) -> Decoder {
    Decoder::new(max, bytes, Some(Inflater::new(&params())))
}

#[test]
fn compressed_messages_whole_and_fragmented_with_context_takeover() {
    let mut server = server_deflater();
    let text = r#"{"type":"trade","symbol":"BTC-USD","price":"64123.50","size":"0.013"}"#;
    let mut bytes = Vec::new();
    let mut out = Vec::new();
    for _ in 0..3 {
        assert!(server.compress(text.as_bytes(), &mut out));
        bytes.extend(compressed_frame(true, 0x1, &out));
    }
    // A fragmented compressed message: RSV1 on the first frame only, a ping in between.
    assert!(server.compress(text.as_bytes(), &mut out));
    let (a, b) = out.split_at(out.len() / 2);
    bytes.extend(compressed_frame(false, 0x1, a));
    bytes.extend(frame(true, 0x9, b"p"));
    bytes.extend(frame(true, 0x0, b));
    let mut d = inflating(&bytes, 1 << 20);
    let mut got = Vec::new();
    while let Some(item) = d.decode().unwrap() {
        got.push(item);
    }
    assert_eq!(got.len(), 5);
    assert!(got
        .iter()
        .filter(|g| !matches!(g, Decoded::Ping(_)))
        .all(|g| *g == Decoded::Message(Message::text(text))));
}

#[test]
fn rsv1_belongs_on_the_first_frame_of_a_data_message_only() {
    let mut cont = frame(false, 0x1, b"a");
    cont.extend(compressed_frame(true, 0x0, b"b"));
    assert_eq!(inflating(&cont, 1 << 20).decode().unwrap_err().code, 1002);
    let ping = compressed_frame(true, 0x9, b"");
    assert_eq!(inflating(&ping, 1 << 20).decode().unwrap_err().code, 1002);
    // Corrupt deflate data.
    let junk = compressed_frame(true, 0x2, &[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(inflating(&junk, 1 << 20).decode().unwrap_err().code, 1007);
}

#[test]
fn a_deflate_bomb_is_refused_with_1009_while_inflating() {
    // 64 MiB of zeros compresses to a few tens of kilobytes: far under any frame limit.
    let mut server = server_deflater();
    let mut out = Vec::new();
    assert!(server.compress(&vec![0u8; 64 << 20], &mut out));
    assert!(out.len() < 256 * 1024, "{}", out.len());
    let bomb = compressed_frame(true, 0x2, &out);
    let mut d = inflating(&bomb, 1 << 20);
    let err = d.decode().unwrap_err();
    assert_eq!(err.code, 1009, "{err:?}");
    assert!(
        d.inflated.capacity() <= (1 << 20) + 64 * 1024,
        "{}",
        d.inflated.capacity()
    );
}

#[test]
fn the_encoder_compresses_messages_worth_it_and_only_those() {
    let mut e = Encoder::new([1; 32], Some(Deflater::new(&params())), 128);
    let big = "x".repeat(1000);
    let mut out = BytesMut::new();
    e.message(&Message::text(big.clone()), &mut out);
    assert_eq!(out[0], 0x80 | 0x40 | 0x1, "FIN, RSV1, text");
    let (_, payload) = server_reads(&out);
    assert!(payload.len() < 100, "{}", payload.len());
    let mut server_side = Inflater::new(&Params {
        server_max_window_bits: 12,
        server_no_context_takeover: false,
        ..params()
    });
    let mut inflated = Vec::new();
    server_side
        .inflate(&payload, true, 1 << 20, &mut inflated)
        .unwrap();
    assert_eq!(inflated, big.as_bytes());
    let mut small = BytesMut::new();
    e.message(&Message::text("tiny"), &mut small);
    assert_eq!(small[0], 0x81, "below the threshold: plain");
}

#[test]
fn whole_small_messages_are_packed_into_the_callers_buffer_and_the_rest_decoded() {
    let mut d = Decoder::new(1 << 20, &[], None);
    let mut bytes = Vec::new();
    for i in 0..50u8 {
        bytes.extend(frame(true, 0x2, &[i; 64]));
    }
    bytes.extend(frame(true, 0x9, b"ping"));
    bytes.extend(frame(true, 0x1, "é".repeat(32).as_bytes()));
    // A fragmented message is assembled, not packed.
    bytes.extend(frame(false, 0x1, b"frag"));
    bytes.extend(frame(true, 0x0, b"ment"));
    d.feed(&bytes);
    let mut packed = Vec::new();
    let mut items = Vec::new();
    while let Some(item) = d.decode_into(&mut packed).unwrap() {
        items.push(item);
    }
    assert_eq!(items.len(), 53);
    assert!(items[..50].iter().all(|i| *i
        == Decoded::Packed {
            text: false,
            len: 64
        }));
    assert_eq!(items[50], Decoded::Ping(Bytes::from_static(b"ping")));
    assert_eq!(
        items[51],
        Decoded::Packed {
            text: true,
            len: 64
        }
    );
    assert_eq!(items[52], text("fragment"));
    // Entries one after another, in `batch`'s form: tag, length (LE), payload.
    assert_eq!(packed.len(), 51 * (5 + 64));
    let seventh = &packed[7 * 69..8 * 69];
    assert_eq!(&seventh[..5], &[crate::batch::PACKED_BINARY, 64, 0, 0, 0]);
    assert_eq!(&seventh[5..], &[7u8; 64]);
    assert_eq!(packed[50 * 69], crate::batch::PACKED_TEXT);
    assert_eq!(&packed[50 * 69 + 5..], "é".repeat(32).as_bytes());

    // Invalid UTF-8 in a packed text fails as any text does (1007), and adds nothing.
    let before = packed.len();
    d.feed(&frame(true, 0x1, &[0xff, 0xfe]));
    assert_eq!(d.decode_into(&mut packed).unwrap_err().code, 1007);
    assert_eq!(packed.len(), before);

    // From PACK_LIMIT on, a payload travels as a message of its own.
    let mut d = Decoder::new(1 << 20, &[], None);
    d.feed(&frame(true, 0x2, &[1; crate::batch::PACK_LIMIT]));
    let big = d.decode_into(&mut packed).unwrap().unwrap();
    assert_eq!(
        big,
        Decoded::Message(Message::Binary(vec![1; crate::batch::PACK_LIMIT].into()))
    );
    assert_eq!(packed.len(), before);
}

#[test]
fn the_common_frame_shortcut_keeps_every_rule_of_the_general_parser() {
    // Two- and four-byte headers, fed a byte at a time: nothing until a frame is whole.
    let sizes = [0usize, 1, 125, 126, 127, 4000, crate::batch::PACK_LIMIT - 1];
    let mut bytes = Vec::new();
    for &n in &sizes {
        bytes.extend(frame(true, 0x2, &vec![n as u8; n]));
        bytes.extend(frame(true, 0x1, "a".repeat(n).as_bytes()));
    }
    let mut d = Decoder::new(1 << 20, &[], None);
    let mut packed = Vec::new();
    let mut items = Vec::new();
    for byte in bytes {
        d.feed(&[byte]);
        while let Some(item) = d.decode_into(&mut packed).unwrap() {
            items.push(item);
        }
    }
    let expected: Vec<Decoded> = sizes
        .iter()
        .flat_map(|&len| {
            [
                Decoded::Packed { text: false, len },
                Decoded::Packed { text: true, len },
            ]
        })
        .collect();
    assert_eq!(items, expected);

    // A length spelt in eight bytes is left to the general parser: decoded, not packed.
    let mut long_header = vec![0x81, 127];
    long_header.extend_from_slice(&5u64.to_be_bytes());
    long_header.extend_from_slice(b"hello");
    let mut d = Decoder::new(1 << 20, &long_header, None);
    let mut untouched = Vec::new();
    assert_eq!(d.decode_into(&mut untouched).unwrap(), Some(text("hello")));
    assert!(untouched.is_empty());

    // What the shortcut must leave to the general parser still fails as before.
    let fails = |bytes: Vec<u8>, max: usize| {
        let mut d = Decoder::new(max, &bytes, None);
        d.decode_into(&mut Vec::new()).unwrap_err().code
    };
    let mut masked = frame(true, 0x1, b"hi");
    masked[1] |= 0x80;
    masked.splice(2..2, [1, 2, 3, 4]);
    assert_eq!(fails(masked, 1 << 20), 1002, "a masked server frame");
    assert_eq!(
        fails(frame(true, 0x2, &[0; 200]), 100),
        1009,
        "over max_message_size"
    );
    let mut rsv1 = frame(true, 0x1, b"hi");
    rsv1[0] |= 0x40;
    assert_eq!(
        fails(rsv1, 1 << 20),
        1002,
        "RSV1 without permessage-deflate"
    );
    assert_eq!(
        fails(frame(true, 0x1, &[0xc3, 0x28]), 1 << 20),
        1007,
        "invalid UTF-8"
    );
    let mut continued = frame(false, 0x1, b"frag");
    continued.extend(frame(true, 0x1, b"new"));
    assert_eq!(
        fails(continued, 1 << 20),
        1002,
        "a new message inside a fragmented one"
    );
}
