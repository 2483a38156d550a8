//! Tests of permessage-deflate: negotiation rule by rule, RFC 7692's examples, round trips for
//! every window with and without context takeover, a deflate bomb, and what memory is held.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress};

use super::*;

// ----- a per-thread counting allocator ---------------------------------------------------
//
// Installed for the crate's unit-test binary; it only counts, per thread, so tests running in
// parallel do not see each other's allocations.

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        count(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let q = System.realloc(p, layout, size);
        if !q.is_null() {
            count(size as isize - layout.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes this thread holds now.
fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Start measuring a peak from now.
fn reset_peak() {
    PEAK.with(|p| p.set(live()));
}

fn peak() -> isize {
    PEAK.with(Cell::get)
}

// ----- helpers ---------------------------------------------------------------------------

/// Parameters as if both sides agreed on `bits` windows and these takeover settings.
fn params(bits: u8, takeover: bool) -> Params {
    Params {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    }
}

/// JSON-like messages of about `size` bytes, all different, as a market feed sends.
fn json(size: usize, seed: u64) -> Vec<u8> {
    let mut s = String::new();
    let mut i = seed;
    while s.len() < size {
        i += 1;
        s.push_str(&format!(
            "{{\"type\":\"trade\",\"symbol\":\"BTC-USD\",\"price\":{}.{:02},\"size\":{}.{:04},\"side\":\"{}\",\"ts\":{}}}",
            60_000 + (i * 7919 % 1000),
            i % 100,
            i % 5,
            (i * 31) % 10_000,
            if i % 3 == 0 { "buy" } else { "sell" },
            1_700_000_000_000u64 + i * 17
        ));
    }
    s.truncate(size);
    s.into_bytes()
}

/// Bytes that do not compress (xorshift).
fn noise(size: usize, mut seed: u64) -> Vec<u8> {
    (0..size)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn inflate_all(
    inflater: &mut Inflater,
    chunks: &[&[u8]],
    max: usize,
) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    let last = chunks.len().saturating_sub(1);
    if chunks.is_empty() {
        inflater.inflate(&[], true, max, &mut out)?;
    }
    for (i, chunk) in chunks.iter().enumerate() {
        inflater.inflate(chunk, i == last, max, &mut out)?;
    }
    Ok(out)
}

fn inflate_one(inflater: &mut Inflater, payload: &[u8]) -> Vec<u8> {
    inflate_all(inflater, &[payload], 1 << 30).expect("inflates")
}

fn compressed(deflater: &mut Deflater, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    assert!(deflater.compress(payload, &mut out), "compressed");
    out
}

// ----- options ---------------------------------------------------------------------------

#[test]
fn default_offers_twelve_bit_windows_both_ways() {
    let c = Compression::default();
    assert!(c.enabled);
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(
        offer(&c).as_deref(),
        Some("permessage-deflate; client_max_window_bits=12; server_max_window_bits=12")
    );
    assert_eq!(offer(&Compression::disabled()), None);
}

#[test]
fn offer_carries_every_parameter() {
    let c = Compression {
        enabled: true,
        client_max_window_bits: None,
        server_max_window_bits: None,
        client_no_context_takeover: true,
        server_no_context_takeover: true,
        min_size: 0,
    };
    assert_eq!(
        offer(&c).as_deref(),
        Some(
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover; \
             client_max_window_bits"
        )
    );
}

#[test]
fn validate_names_the_window_limits() {
    let with = |client, server| Compression {
        client_max_window_bits: client,
        server_max_window_bits: server,
        ..Compression::default()
    };
    for ok in [(Some(9), Some(8)), (Some(15), Some(15)), (None, None)] {
        assert_eq!(with(ok.0, ok.1).validate(), Ok(()), "{ok:?}");
    }
    let err = with(Some(8), None).validate().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { option: "compression.client_max_window_bits", reason } if reason.contains("9 to 15") && reason.contains("zlib")),
        "{err}"
    );
    assert!(matches!(
        with(Some(16), None).validate(),
        Err(Error::InvalidOption {
            option: "compression.client_max_window_bits",
            ..
        })
    ));
    for bad in [7, 16, 0] {
        let err = with(None, Some(bad)).validate().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidOption { option: "compression.server_max_window_bits", reason } if reason.contains("8 to 15")),
            "{err}"
        );
    }
}

// ----- negotiation (RFC 7692 §7.1) -------------------------------------------------------

fn ok(answer: &str) -> Params {
    accept(&Compression::default(), answer).unwrap_or_else(|e| panic!("{answer:?}: {e}"))
}

fn refused(c: &Compression, answer: &str) -> String {
    match accept(c, answer) {
        Ok(p) => panic!("{answer:?} was accepted as {p}"),
        Err(e) => e,
    }
}

#[test]
fn a_bare_answer_keeps_our_window_and_the_servers_full_one() {
    let p = ok("permessage-deflate");
    assert_eq!(
        p,
        Params {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 12,
        }
    );
    assert_eq!(
        p.to_string(),
        "permessage-deflate; client_max_window_bits=12"
    );
}

#[test]
fn an_echo_of_the_default_offer_describes_itself() {
    let p = ok("permessage-deflate; client_max_window_bits=12; server_max_window_bits=12");
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (12, 12)
    );
    assert_eq!(
        p.to_string(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    );
    let p = ok("permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    assert_eq!(
        p.to_string(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         client_max_window_bits=12"
    );
}

#[test]
fn an_extension_that_was_not_offered_is_refused() {
    let e = refused(&Compression::default(), "x-webkit-deflate-frame");
    assert!(
        e.contains("\"x-webkit-deflate-frame\"") && e.contains("not offered"),
        "{e}"
    );
    let e = refused(&Compression::default(), "permessage-deflate, x-other");
    assert!(e.contains("x-other"), "{e}");
    let e = refused(&Compression::disabled(), "permessage-deflate");
    assert!(e.contains("not offered"), "{e}");
}

#[test]
fn permessage_deflate_accepted_twice_is_refused() {
    let e = refused(
        &Compression::default(),
        "permessage-deflate; server_max_window_bits=10, permessage-deflate",
    );
    assert!(e.contains("more than once"), "{e}");
}

#[test]
fn unknown_and_duplicate_parameters_are_refused() {
    let e = refused(&Compression::default(), "permessage-deflate; mem_level=4");
    assert!(e.contains("unknown") && e.contains("mem_level"), "{e}");
    let e = refused(
        &Compression::default(),
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    );
    assert!(e.contains("server_no_context_takeover twice"), "{e}");
    let e = refused(
        &Compression::default(),
        "permessage-deflate; server_max_window_bits=10; Server_Max_Window_Bits=11",
    );
    assert!(e.contains("twice"), "{e}");
}

#[test]
fn takeover_flags_take_no_value() {
    for flag in ["server_no_context_takeover", "client_no_context_takeover"] {
        let e = refused(
            &Compression::default(),
            &format!("permessage-deflate; {flag}=1"),
        );
        assert!(e.contains(flag) && e.contains("no value"), "{e}");
    }
}

#[test]
fn window_bits_need_a_value_from_8_to_15() {
    for name in ["server_max_window_bits", "client_max_window_bits"] {
        let e = refused(
            &Compression::default(),
            &format!("permessage-deflate; {name}"),
        );
        assert!(e.contains(name) && e.contains("without a value"), "{e}");
        for bad in ["7", "16", "08", "1x", "-9", "\"\"", "255", "99999999999"] {
            let answer = format!("permessage-deflate; {name}={bad}");
            let e = match accept(&Compression::default(), &answer) {
                Ok(p) => panic!("{answer:?} accepted as {p}"),
                Err(e) => e,
            };
            assert!(e.contains(name), "{answer}: {e}");
        }
    }
}

#[test]
fn server_window_bits_may_be_lowered_not_raised() {
    assert_eq!(
        ok("permessage-deflate; server_max_window_bits=12").server_max_window_bits,
        12
    );
    assert_eq!(
        ok("permessage-deflate; server_max_window_bits=8").server_max_window_bits,
        8
    );
    let e = refused(
        &Compression::default(),
        "permessage-deflate; server_max_window_bits=13",
    );
    assert!(
        e.contains("server_max_window_bits=13") && e.contains("12 offered"),
        "{e}"
    );
    // Not asked for: the server may still name its window (RFC 7692 §7.1.2.1).
    let unasked = Compression {
        server_max_window_bits: None,
        ..Compression::default()
    };
    let p = accept(&unasked, "permessage-deflate; server_max_window_bits=15").unwrap();
    assert_eq!(p.server_max_window_bits, 15);
    let p = accept(&unasked, "permessage-deflate; server_max_window_bits=9").unwrap();
    assert_eq!(p.server_max_window_bits, 9);
}

#[test]
fn client_window_bits_lower_ours_and_never_raise_it() {
    assert_eq!(
        ok("permessage-deflate; client_max_window_bits=9").client_max_window_bits,
        9
    );
    // Autobahn's 13.4 answers 15 to an offer of 12: keeping ours still honours the answer.
    assert_eq!(
        ok("permessage-deflate; client_max_window_bits=15").client_max_window_bits,
        12
    );
    let bare = Compression {
        client_max_window_bits: None,
        ..Compression::default()
    };
    assert_eq!(
        accept(&bare, "permessage-deflate")
            .unwrap()
            .client_max_window_bits,
        15
    );
    assert_eq!(
        accept(&bare, "permessage-deflate; client_max_window_bits=10")
            .unwrap()
            .client_max_window_bits,
        10
    );
}

#[test]
fn an_eight_bit_client_window_is_agreed_and_sent_uncompressed() {
    let p = ok("permessage-deflate; client_max_window_bits=8");
    assert_eq!(p.client_max_window_bits, 8);
    let mut deflater = Deflater::new(&p);
    let mut out = vec![1, 2, 3];
    assert!(!deflater.compress(b"Hello", &mut out));
    assert!(out.is_empty());
    assert!(deflater.state.is_none(), "nothing allocated");
}

#[test]
fn no_context_takeover_answers() {
    // The server may ask us to drop context, offered or not.
    assert!(ok("permessage-deflate; client_no_context_takeover").client_no_context_takeover);
    // Offered by us: in force even if the answer leaves it out.
    let ours = Compression {
        client_no_context_takeover: true,
        ..Compression::default()
    };
    assert!(
        accept(&ours, "permessage-deflate")
            .unwrap()
            .client_no_context_takeover
    );
    // The server may drop its own context unasked (§7.1.1.1).
    assert!(ok("permessage-deflate; server_no_context_takeover").server_no_context_takeover);
    // Asked for but not granted: the server keeps context, and so does our decompressor.
    let asked = Compression {
        server_no_context_takeover: true,
        ..Compression::default()
    };
    assert!(
        !accept(&asked, "permessage-deflate")
            .unwrap()
            .server_no_context_takeover
    );
}

#[test]
fn a_missing_server_window_means_the_full_window() {
    // gorilla/websocket's answer to any offer.
    let p = ok("permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    assert_eq!(p.server_max_window_bits, 15);
}

#[test]
fn answer_syntax_quotes_case_and_spaces() {
    let p =
        ok("Permessage-Deflate ; SERVER_MAX_WINDOW_BITS = \"10\" ;client_max_window_bits=\"9\"");
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (10, 9)
    );
    // Empty list elements are allowed by HTTP's list syntax.
    assert_eq!(ok(", permessage-deflate ,").server_max_window_bits, 15);
    for bad in [
        "permessage-deflate; server_max_window_bits=\"1 0\"",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate;",
        "permessage-deflate; =10",
        "perm\"essage-deflate",
        "",
        " , ",
    ] {
        let e = refused(&Compression::default(), bad);
        assert!(!e.is_empty(), "{bad:?}");
    }
}

// ----- RFC 7692 §7.2.3 examples ----------------------------------------------------------

const HELLO: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn rfc_hello_compresses_to_the_known_bytes() {
    let mut deflater = Deflater::new(&params(15, false));
    assert_eq!(compressed(&mut deflater, b"Hello"), HELLO);
    let mut inflater = Inflater::new(&params(15, false));
    assert_eq!(inflate_one(&mut inflater, HELLO), b"Hello");
}

#[test]
fn rfc_hello_in_two_fragments() {
    let mut inflater = Inflater::new(&params(15, false));
    let out = inflate_all(&mut inflater, &[&HELLO[..3], &HELLO[3..]], 100).unwrap();
    assert_eq!(out, b"Hello");
}

#[test]
fn rfc_shared_window_second_hello() {
    // §7.2.3.2: with context takeover the second "Hello" is a back-reference.
    let mut deflater = Deflater::new(&params(15, true));
    assert_eq!(compressed(&mut deflater, b"Hello"), HELLO);
    assert_eq!(
        compressed(&mut deflater, b"Hello"),
        [0xf2, 0x00, 0x11, 0x00, 0x00]
    );
    let mut inflater = Inflater::new(&params(15, true));
    assert_eq!(inflate_one(&mut inflater, HELLO), b"Hello");
    assert_eq!(
        inflate_one(&mut inflater, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
        b"Hello"
    );
    // Without context takeover the same bytes refer to nothing and are refused.
    let mut fresh = Inflater::new(&params(15, false));
    assert_eq!(inflate_one(&mut fresh, HELLO), b"Hello");
    assert!(matches!(
        inflate_all(&mut fresh, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100),
        Err(InflateError::Corrupt(_))
    ));
}

#[test]
fn rfc_stored_block_bfinal_and_two_blocks() {
    let mut inflater = Inflater::new(&params(15, true));
    // §7.2.3.3: a block with no compression.
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(inflate_one(&mut inflater, &stored), b"Hello");
    // §7.2.3.4: a block with BFINAL set; the context still carries on.
    assert_eq!(
        inflate_one(
            &mut inflater,
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]
        ),
        b"Hello"
    );
    assert_eq!(
        inflate_one(&mut inflater, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
        b"Hello"
    );
    // §7.2.3.5: two blocks in one message.
    let two = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(inflate_one(&mut inflater, &two), b"Hello");
}

#[test]
fn empty_messages() {
    let mut deflater = Deflater::new(&params(15, true));
    assert_eq!(compressed(&mut deflater, b""), [0x00]);
    let mut inflater = Inflater::new(&params(15, true));
    assert_eq!(inflate_one(&mut inflater, &[0x00]), b"");
    // An empty payload with RSV1 set is an empty message too, and leaves the stream as it
    // was (were the tail inflated, the next tail would complete a bogus stored block).
    assert_eq!(inflate_all(&mut inflater, &[], 10).unwrap(), b"");
    assert_eq!(inflate_all(&mut inflater, &[&[], &[]], 10).unwrap(), b"");
    assert_eq!(inflate_one(&mut inflater, HELLO), b"Hello");
    // Also after context: an empty message still compresses to the single byte.
    assert_eq!(compressed(&mut deflater, b"Hello"), HELLO);
    assert_eq!(compressed(&mut deflater, b""), [0x00]);
    assert_eq!(
        compressed(&mut deflater, b"Hello"),
        [0xf2, 0x00, 0x11, 0x00, 0x00]
    );
    assert_eq!(inflate_one(&mut inflater, &[0x00]), b"");
    assert_eq!(
        inflate_one(&mut inflater, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
        b"Hello"
    );
}

// ----- round trips -----------------------------------------------------------------------

/// Messages of every kind: small and large JSON, noise, empty, repeats.
fn corpus() -> Vec<Vec<u8>> {
    let mut messages = vec![
        json(120, 1),
        json(120, 1),
        Vec::new(),
        json(2_000, 7),
        noise(3_000, 11),
        json(70_000, 13),
        b"Hello".to_vec(),
        noise(40_000, 17),
        json(300, 19),
    ];
    messages.push(messages[3].clone());
    messages
}

/// The peer's view: one continuous zlib stream per direction, as any RFC 7692 peer keeps it,
/// with the window the parameters allow and no knowledge of our releases.
fn peer_inflate(peer: &mut Decompress, payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&TAIL);
    let mut out = Vec::with_capacity(256 * 1024);
    let status = peer
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .expect("the peer inflates what we sent");
    assert_ne!(status, flate2::Status::StreamEnd);
    out
}

#[test]
fn every_window_round_trips_with_and_without_takeover_and_releases() {
    for bits in 9..=15u8 {
        for takeover in [true, false] {
            for release_every in [None, Some(1), Some(3)] {
                let p = params(bits, takeover);
                let mut deflater = Deflater::new(&p);
                let mut inflater = Inflater::new(&p);
                // A strict peer: a decompressor limited to the agreed window.
                let mut peer = Decompress::new_with_window_bits(false, bits);
                for (i, m) in corpus().iter().enumerate() {
                    let c = compressed(&mut deflater, m);
                    if !takeover {
                        peer = Decompress::new_with_window_bits(false, bits);
                    }
                    assert_eq!(&peer_inflate(&mut peer, &c), m, "peer, bits {bits} msg {i}");
                    assert_eq!(
                        &inflate_one(&mut inflater, &c),
                        m,
                        "ours, bits {bits} msg {i}"
                    );
                    if release_every.is_some_and(|n| i % n == 0) {
                        deflater.release();
                        inflater.release();
                    }
                }
            }
        }
    }
}

/// A block repeated at a distance the window does not reach must not be matched: the peer
/// sized its window from what was agreed.
#[test]
fn the_compressor_keeps_to_the_agreed_window() {
    for bits in 9..=14u8 {
        let window = 1usize << bits;
        let block = noise(200, u64::from(bits));
        // Text-like filler (16 letters) that Huffman codes well and that shares nothing long
        // with the block, so the block's repeat is the only long match.
        let filler: Vec<u8> = noise(window, 99).iter().map(|b| b'a' + (b & 15)).collect();
        let message = [&block[..], &filler, &block].concat();
        let c = compressed(&mut Deflater::new(&params(bits, false)), &message);
        let mut peer = Decompress::new_with_window_bits(false, bits);
        assert_eq!(peer_inflate(&mut peer, &c), message);
        // One bit more and the repeat is in reach: the difference is the 200 bytes not matched.
        let wider = compressed(&mut Deflater::new(&params(bits + 1, false)), &message);
        assert!(
            c.len() > wider.len() + 150,
            "bits {bits}: {} bytes, with one bit more {}",
            c.len(),
            wider.len()
        );
    }
}

#[test]
fn context_takeover_shrinks_a_repeated_message() {
    let m = json(1_000, 3);
    let mut with = Deflater::new(&params(12, true));
    let first = compressed(&mut with, &m).len();
    let second = compressed(&mut with, &m).len();
    assert!(second * 10 < first, "second {second} vs first {first}");
    // After a release the context still holds.
    with.release();
    assert!(compressed(&mut with, &m).len() * 10 < first);
    let mut without = Deflater::new(&params(12, false));
    assert_eq!(compressed(&mut without, &m).len(), first);
    assert_eq!(compressed(&mut without, &m).len(), first);
}

#[test]
fn inflates_what_a_plain_zlib_peer_sends_through_releases() {
    for bits in [8u8, 9, 12, 15] {
        // zlib compresses an 8-bit window as 9 bits; the window we keep is what was agreed.
        let mut peer =
            Compress::new_with_window_bits(flate2::Compression::new(9), false, bits.max(9));
        let mut inflater = Inflater::new(&params(bits.max(9), true));
        for (i, m) in corpus().iter().enumerate() {
            let mut c = Vec::with_capacity(m.len() + 1024);
            peer.compress_vec(m, &mut c, FlushCompress::Sync).unwrap();
            // As Python's websockets does: zlib emits nothing for an empty message after
            // another, and the tail is removed only when there is one.
            if c.ends_with(&TAIL) {
                c.truncate(c.len() - 4);
            }
            assert!(!c.is_empty() || m.is_empty());
            assert_eq!(&inflate_one(&mut inflater, &c), m, "bits {bits} msg {i}");
            if i % 2 == 0 {
                inflater.release();
            }
        }
    }
}

#[test]
fn fragments_of_any_size_inflate_alike() {
    let m = json(20_000, 5);
    let c = compressed(&mut Deflater::new(&params(15, false)), &m);
    for size in [1, 2, 7, 100, 4096, c.len()] {
        let chunks: Vec<&[u8]> = c.chunks(size).collect();
        let mut inflater = Inflater::new(&params(15, false));
        assert_eq!(
            inflate_all(&mut inflater, &chunks, m.len()).unwrap(),
            m,
            "{size}"
        );
    }
    // Empty fragments anywhere change nothing.
    let mut inflater = Inflater::new(&params(15, false));
    let chunks: Vec<&[u8]> = vec![&[], &c[..10], &[], &c[10..], &[]];
    assert_eq!(inflate_all(&mut inflater, &chunks, m.len()).unwrap(), m);
}

// ----- limits and bad input --------------------------------------------------------------

#[test]
fn max_size_is_exact() {
    let m = json(10_000, 9);
    let c = compressed(&mut Deflater::new(&params(15, false)), &m);
    let mut inflater = Inflater::new(&params(15, false));
    assert_eq!(inflate_all(&mut inflater, &[&c], m.len()).unwrap(), m);
    let mut inflater = Inflater::new(&params(15, false));
    assert_eq!(
        inflate_all(&mut inflater, &[&c], m.len() - 1),
        Err(InflateError::TooLarge {
            max_size: m.len() - 1
        })
    );
}

/// A raw DEFLATE bit writer, to build a bomb without compressing a gigabyte.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// `len` bits of `value`, least significant first (header fields).
    fn put(&mut self, value: u32, len: u32) {
        self.acc |= (value as u64) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        self.put(code.reverse_bits() >> (32 - len), len);
    }

    fn align(&mut self) {
        if self.n > 0 {
            self.put(0, 8 - self.n);
        }
    }
}

/// A compressed message of `1 + 258 * copies` zero bytes: one fixed-Huffman block with a zero
/// literal and `copies` matches of length 258 at distance 1 (13 bits each), then the empty
/// stored block of a sync flush with its `00 00 ff ff` removed, as a sender does.
fn bomb(copies: usize) -> Vec<u8> {
    let mut b = Bits::default();
    b.put(0, 1); // BFINAL = 0
    b.put(1, 2); // BTYPE = 01, fixed Huffman codes
    b.code(0x30, 8); // literal 0
    for _ in 0..copies {
        b.code(0xc5, 8); // length code 285: 258 bytes
        b.code(0, 5); // distance code 0: distance 1
    }
    b.code(0, 7); // end of block
    b.put(0, 3); // the sync flush's empty stored block header
    b.align();
    b.out
}

#[test]
fn the_bomb_builder_builds_valid_deflate() {
    let mut inflater = Inflater::new(&params(15, false));
    let out = inflate_one(&mut inflater, &bomb(10));
    assert_eq!(out, vec![0u8; 1 + 2580]);
}

#[test]
fn a_gigabyte_bomb_is_refused_with_bounded_memory() {
    // 1 GiB of zeros in 6.8 MB of input (a real compressor gets it to about 1 MB).
    let copies = (1usize << 30) / 258;
    let input = bomb(copies);
    assert!(input.len() < 7 << 20, "{}", input.len());
    let max_size = 1 << 20;
    let mut inflater = Inflater::new(&params(15, true));
    let mut out = Vec::new();
    let base = live();
    reset_peak();
    let mut result = Ok(());
    let mut fed = 0;
    for (i, fragment) in input.chunks(64 * 1024).enumerate() {
        fed = i + 1;
        let fin = fed * 64 * 1024 >= input.len();
        result = inflater.inflate(fragment, fin, max_size, &mut out);
        if result.is_err() {
            break;
        }
    }
    let grown = peak() - base;
    assert_eq!(result, Err(InflateError::TooLarge { max_size }));
    assert_eq!(fed, 1, "refused within the first 64 KiB fragment");
    assert!(
        out.capacity() <= max_size + 1,
        "capacity {}",
        out.capacity()
    );
    // The output buffer, zlib-rs's 46 KiB state and nothing else.
    let bound = (max_size + 1 + 64 * 1024) as isize;
    assert!(grown <= bound, "peak grew by {grown} bytes, bound {bound}");
}

#[test]
fn a_real_compressor_bomb_is_refused() {
    // 8 MiB of zeros compressed by zlib-rs: about 8 KB.
    let zeros = vec![0u8; 8 << 20];
    let c = compressed(&mut Deflater::new(&params(15, false)), &zeros);
    drop(zeros);
    assert!(c.len() < 16 * 1024, "{}", c.len());
    let mut inflater = Inflater::new(&params(15, false));
    let mut out = Vec::new();
    let r = inflater.inflate(&c, true, 64 * 1024, &mut out);
    assert_eq!(
        r,
        Err(InflateError::TooLarge {
            max_size: 64 * 1024
        })
    );
    assert!(out.capacity() <= 64 * 1024 + 1);
}

#[test]
fn corrupt_input_is_refused() {
    let cases: &[&[u8]] = &[
        &[0xff; 16],                     // BTYPE 11 is reserved
        &[0x07, 0x00],                   // BTYPE 11 again, short
        &[0x00, 0x05, 0x00, 0x00, 0x00], // stored block whose NLEN does not match
        &[0xf2, 0x00, 0x11, 0x00, 0x00], // a back-reference before any data
    ];
    for bad in cases {
        let mut inflater = Inflater::new(&params(15, true));
        let r = inflate_all(&mut inflater, &[bad], 1 << 20);
        assert!(
            matches!(r, Err(InflateError::Corrupt(_))),
            "{bad:02x?}: {r:?}"
        );
    }
}

// ----- memory ----------------------------------------------------------------------------

#[test]
fn nothing_is_allocated_before_the_first_message() {
    let base = live();
    let deflater = Deflater::new(&params(15, true));
    let inflater = Inflater::new(&params(15, true));
    assert_eq!(live(), base);
    drop((deflater, inflater));
}

#[test]
fn without_takeover_nothing_is_held_between_messages() {
    let messages: Vec<Vec<u8>> = (0..3).map(|i| json(2_000, i)).collect();
    let mut source = Deflater::new(&params(12, false));
    let compressed_messages: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| compressed(&mut source, m))
        .collect();
    let mut out = Vec::with_capacity(64 * 1024);
    let base = live();
    let mut deflater = Deflater::new(&params(12, false));
    let mut inflater = Inflater::new(&params(12, false));
    for (m, c) in messages.iter().zip(&compressed_messages) {
        assert!(deflater.compress(m, &mut out));
        let mut plain = Vec::new();
        inflater.inflate(c, true, 1 << 20, &mut plain).unwrap();
        assert_eq!(&plain, m);
        drop(plain);
        assert_eq!(live(), base, "held after a message");
    }
}

/// What a link that has seen traffic holds with context takeover, in use and after
/// `release`, for every window: the figures in the module's doc.
#[test]
fn retained_memory_by_window() {
    let messages: Vec<Vec<u8>> = (0..4).map(|i| json(2_000, i * 100)).collect();
    println!("bits  compressor in use  decompressor in use  after release");
    for bits in 9..=15u8 {
        let p = params(bits, true);
        let mut source = Deflater::new(&p);
        let compressed_messages: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| compressed(&mut source, m))
            .collect();
        let mut out = Vec::with_capacity(64 * 1024);

        let base = live();
        let mut deflater = Deflater::new(&p);
        for m in &messages {
            assert!(deflater.compress(m, &mut out));
        }
        let deflate_in_use = live() - base;

        let base_inflate = live();
        let mut inflater = Inflater::new(&p);
        for (m, c) in messages.iter().zip(&compressed_messages) {
            let mut plain = Vec::new();
            inflater.inflate(c, true, 1 << 20, &mut plain).unwrap();
            assert_eq!(&plain, m);
        }
        let inflate_in_use = live() - base_inflate;

        deflater.release();
        inflater.release();
        let released = live() - base;
        println!("{bits:4}  {deflate_in_use:17}  {inflate_in_use:19}  {released:13}");
        let window = 1isize << bits;
        assert_eq!(
            released,
            2 * window,
            "bits {bits}: only both windows are held"
        );
        assert!(deflate_in_use < 380 * 1024 + window, "{deflate_in_use}");
        assert!(inflate_in_use < 48 * 1024 + window, "{inflate_in_use}");
        // The released links still carry on.
        assert!(deflater.compress(&messages[0], &mut out));
        assert_eq!(
            inflate_one(&mut inflater, &compressed(&mut source, &messages[0])),
            messages[0]
        );
    }
    let default = 2usize << DEFAULT_WINDOW_BITS;
    assert!(
        default <= 24 * 1024,
        "an idle default link holds {default} bytes"
    );
}

/// Smoke figures for the report, in release mode only:
/// `cargo test --release -p wstether --lib deflate::tests::speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn speed() {
    use std::time::Instant;
    for size in [256usize, 2048, 16 * 1024, 128 * 1024] {
        let messages: Vec<Vec<u8>> = (0..64).map(|i| json(size, i * 1000)).collect();
        let total: usize = messages.iter().map(Vec::len).sum::<usize>() * 10;
        for (name, takeover, release) in [
            ("takeover", true, false),
            ("takeover, released each", true, true),
            ("no takeover", false, false),
        ] {
            let p = params(12, takeover);
            let mut best_d = f64::MAX;
            let mut best_i = f64::MAX;
            let mut wire = 0;
            for _ in 0..3 {
                let mut deflater = Deflater::new(&p);
                let mut out = Vec::new();
                let mut all = Vec::new();
                let t = Instant::now();
                for _ in 0..10 {
                    for m in &messages {
                        deflater.compress(m, &mut out);
                        all.push(out.clone());
                        if release {
                            deflater.release();
                        }
                    }
                }
                best_d = best_d.min(t.elapsed().as_secs_f64());
                wire = all.iter().map(Vec::len).sum::<usize>();
                let mut inflater = Inflater::new(&p);
                let t = Instant::now();
                for c in &all {
                    let mut plain = Vec::new();
                    inflater.inflate(c, true, 1 << 24, &mut plain).unwrap();
                    if release {
                        inflater.release();
                    }
                }
                best_i = best_i.min(t.elapsed().as_secs_f64());
            }
            let n = (messages.len() * 10) as f64;
            println!(
                "{size:6} B, {name:24}: deflate {:6.1} us/msg {:6.0} MB/s, inflate {:6.1} us/msg {:6.0} MB/s, wire {:5.1}%",
                best_d / n * 1e6,
                total as f64 / best_d / 1e6,
                best_i / n * 1e6,
                total as f64 / best_i / 1e6,
                100.0 * wire as f64 / total as f64
            );
        }
    }
}
