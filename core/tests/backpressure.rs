//! A slow consumer slows the socket, keeps memory bounded, and is not mistaken for a dead link.

mod common;

use common::*;
use wstether::{Event, State};
use wstether_testkit::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_consumer_stops_reading_without_killing_the_link() {
    const BUFFER: usize = 64;
    const BLAST: usize = 50_000;
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = open(
        builder(&server.url())
            .event_buffer(BUFFER)
            .heartbeat(Some(fast_heartbeat(100, 100))),
    )
    .await;
    client.send_text(format!("!blast {BLAST} 64")).unwrap();

    // Consume nothing for 5× (interval + timeout): the client must stop reading, not die.
    let deadline = tokio::time::Instant::now() + ms(1000);
    while tokio::time::Instant::now() < deadline {
        let s = client.stats();
        assert!(
            s.messages_in as usize <= BUFFER,
            "read {} while the consumer was stalled",
            s.messages_in
        );
        assert_eq!(client.state(), State::Open);
        tokio::time::sleep(ms(50)).await;
    }
    assert_eq!(
        client.stats().messages_in as usize,
        BUFFER,
        "reading should stop exactly at the buffer"
    );

    // Resume consuming: everything arrives, in order, over the same link.
    let mut got = 0;
    loop {
        let batch = tokio::time::timeout(ms(10_000), events.next_batch(512))
            .await
            .expect("stalled");
        for ev in batch {
            match ev {
                Event::Message(m) => {
                    let text = m.as_text().unwrap();
                    if text == "!blast-done" {
                        assert_eq!(got, BLAST);
                        assert_eq!(client.stats().opens, 1, "the link was replaced");
                        client.close(1000, "").await.unwrap();
                        return;
                    }
                    assert!(text.starts_with(&format!("{got}:")), "out of order: {text}");
                    got += 1;
                }
                Event::Closed { .. } => panic!("link closed while the consumer was slow"),
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn a_dropped_event_stream_never_stalls_the_socket() {
    let server = TestServer::start().await.unwrap();
    let client = builder(&server.url()).event_buffer(8).build().unwrap();
    drop(client.events().unwrap());
    client.connect().unwrap();
    client.send_text("!blast 1000 16").unwrap();
    client.send_text("marker").unwrap();
    // The echo of "marker" is sent after the blast: reading all of it proves nothing stalled.
    let deadline = tokio::time::Instant::now() + ms(5000);
    while client.stats().messages_in < 1002 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stalled at {}",
            client.stats().messages_in
        );
        tokio::time::sleep(ms(20)).await;
    }
    client.close(1000, "").await.unwrap();
}
