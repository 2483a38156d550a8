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
