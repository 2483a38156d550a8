//! How much one read of the link hands out: a consumer that asks for 1,024 events gets large
//! messages a few at a time (about 128 KiB of them), however many the socket holds, so they are
//! used and freed before the next are read (the allocator then reuses their memory instead of
//! returning it to the kernel and faulting it back in for every message).

mod common;

use common::*;
use wstether::Event;
use wstether_testkit::TestServer;

const SIZE: usize = 64 * 1024;
const COUNT: usize = 64;

#[tokio::test]
async fn a_batch_of_large_messages_holds_about_128_kib_however_many_wait() {
    let server = TestServer::start().await.unwrap();
    // A heartbeat far away: the consumer keeps the read turn, so every read is one of its batches.
    let b = builder(&server.url()).heartbeat(Some(fast_heartbeat(60_000, 60_000)));
    let (client, mut events) = open(b).await;
    client.send_text(format!("!blast {COUNT} {SIZE}")).unwrap();
    // Let megabytes gather in the socket, so that a read taking all it has would show. (The
    // assertions hold with or without this pause.)
    tokio::time::sleep(ms(100)).await;
    let mut sizes = Vec::new();
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + ms(20_000);
    'outer: loop {
        let batch = tokio::time::timeout_at(deadline, events.next_batch(1024))
            .await
            .expect("the blast arrives within 20 s");
        assert!(!batch.is_empty(), "the stream ended mid-blast");
        let mut messages = 0;
        for ev in batch {
            if let Event::Message(m) = ev {
                if m.as_text() == Some("!blast-done") {
                    sizes.push(messages);
                    break 'outer;
                }
                assert_eq!(m.len(), SIZE);
                messages += 1;
                got += 1;
            }
        }
        sizes.push(messages);
    }
    assert_eq!(got, COUNT, "every message arrives once");
    // 128 KiB: two 64 KiB messages per batch.
    assert!(
        sizes.iter().all(|&n| n <= 2),
        "batches of 64 KiB messages: {sizes:?}"
    );
    client.close(1000, "").await.unwrap();
}

/// A consumer that fell behind finds its large messages buffered: one batch still holds about
/// 128 KiB of them, not everything waiting (a binding converts a whole batch before its
/// callbacks run, so all of it would be alive at once).
#[tokio::test]
async fn a_batch_taken_from_the_buffer_holds_about_128_kib() {
    let server = TestServer::start().await.unwrap();
    // No heartbeat: the consumer gives the read turn back after each batch, so the client's
    // task reads the blast into the buffer while nobody asks for it.
    let b = builder(&server.url()).heartbeat(None);
    let (client, mut events) = open(b).await;
    let before = client.stats().messages_in;
    client.send_text(format!("!blast {COUNT} {SIZE}")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // Everything (the blast and "!blast-done") is read and waiting before the first batch.
    while client.stats().messages_in < before + COUNT as u64 + 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the blast was not read within 20 s"
        );
        tokio::time::sleep(ms(5)).await;
    }
    let batch = events.next_batch(1024).await;
    let messages = batch
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count();
    assert!(
        (1..=2).contains(&messages),
        "one batch of buffered 64 KiB messages held {messages}"
    );
    client.close(1000, "").await.unwrap();
}
