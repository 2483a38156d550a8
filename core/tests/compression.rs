//! permessage-deflate against a real third-party server (python-websockets offers and accepts
//! it by default), and a deflate bomb refused with bounded memory.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use flate2::{Compress, Compression as Level, FlushCompress};
use tokio::io::AsyncWriteExt;
use wstether::{Cause, Compression, Event, Message};
use wstether_testkit::python_echo::PythonEcho;

/// Live heap bytes and their peak, so the bomb test can say memory stayed bounded.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// JSON-like text of about `size` bytes, as a market feed would send.
fn json(size: usize) -> String {
    let mut out = String::from("[");
    let mut i = 0;
    while out.len() < size {
        out.push_str(&format!(
            r#"{{"seq":{i},"symbol":"BTC-USD","side":"buy","price":"64123.{:02}","size":"0.0{}"}},"#,
            i % 100,
            i % 7
        ));
        i += 1;
    }
    out.push(']');
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_negotiates_deflate_and_every_message_comes_back_whole() {
    let echo = PythonEcho::start();
    let (client, mut events) = start(builder(&echo.url).heartbeat(None));
    let (open, _) = wait_for(&mut events, ms(5000), |e| matches!(e, Event::Open { .. })).await;
    match &open {
        Event::Open {
            compression: Some(c),
            ..
        } => assert!(c.starts_with("permessage-deflate"), "{c}"),
        other => panic!("no compression negotiated: {other:?}"),
    }
    let sent: Vec<Message> = vec![
        Message::text(json(10_000)),
        Message::text("short"),
        Message::binary(vec![7u8; 300_000]),
        Message::text(String::new()),
        Message::text(json(2_000)),
    ];
    for m in &sent {
        client.send(m.clone()).unwrap();
    }
    for want in &sent {
        let (got, _) = wait_for(&mut events, ms(5000), |e| matches!(e, Event::Message(_))).await;
        assert_eq!(got, Event::Message(want.clone()));
    }
    client.close(1000, "").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_off_offers_nothing() {
    let echo = PythonEcho::start();
    let (client, mut events) = start(
        builder(&echo.url)
            .heartbeat(None)
            .compression(Compression::disabled()),
    );
    let (open, _) = wait_for(&mut events, ms(5000), |e| matches!(e, Event::Open { .. })).await;
    assert!(
        matches!(
            open,
            Event::Open {
                compression: None,
                ..
            }
        ),
        "{open:?}"
    );
    client.send_text(json(5_000)).unwrap();
    let (got, _) = wait_for(&mut events, ms(5000), |e| matches!(e, Event::Message(_))).await;
    assert!(matches!(got, Event::Message(m) if m.len() > 5_000));
    client.close(1000, "").await.unwrap();
}

/// One compressed frame whose payload inflates to `inflated` zero bytes.
fn bomb(inflated: usize) -> Vec<u8> {
    let mut deflate = Compress::new(Level::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(inflated / 500);
    for _ in 0..inflated / zeros.len() {
        deflate
            .compress_vec(&zeros, &mut out, FlushCompress::None)
            .unwrap();
        out.reserve(64 * 1024);
    }
    out.reserve(64 * 1024);
    deflate
        .compress_vec(&[], &mut out, FlushCompress::Sync)
        .unwrap();
    out.truncate(out.len() - 4); // RFC 7692: the sync flush's 00 00 ff ff is not sent
    let mut frame = vec![0x80 | 0x40 | 0x2, 127];
    frame.extend_from_slice(&(out.len() as u64).to_be_bytes());
    frame.extend_from_slice(&out);
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deflate_bomb_is_refused_with_1009_and_memory_stays_bounded() {
    // 256 MiB of zeros in a frame of a few hundred kilobytes, to a client allowing 1 MiB.
    let frame: &'static [u8] = Box::leak(bomb(256 << 20).into_boxed_slice());
    assert!(frame.len() < 1 << 20, "{}", frame.len());
    let url = raw_server(move |mut tcp, key| async move {
        let accept = switching(&key).replace(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12\r\n\r\n",
        );
        let mut out = accept.into_bytes();
        out.extend_from_slice(frame);
        let _ = tcp.write_all(&out).await;
        hold(tcp).await;
    })
    .await;
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let (client, mut events) = start(builder(&url).heartbeat(None).max_message_size(1 << 20));
    let (closed, _) = wait_for(&mut events, ms(10_000), |e| {
        matches!(e, Event::Closed { .. })
    })
    .await;
    assert!(
        matches!(closed, Event::Closed { code: 1009, .. }),
        "{closed:?}"
    );
    let (next, _) = wait_for(&mut events, ms(3000), |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    assert!(matches!(
        next,
        Event::Reconnecting {
            cause: Cause::MessageTooLarge,
            ..
        }
    ));
    // What the client held stays near its 1 MiB limit (plus the frame it read), nowhere near
    // the 256 MiB the frame inflates to.
    let grew = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert!(grew < 8 << 20, "peak heap grew by {} KiB", grew >> 10);
    drop(client);
}
