//! Outbox: queued while not open, flushed in order after the greeting, bounded, accounted for.

mod common;

use common::*;
use wstether::{Error, Event, Message, OutboxLimits, SendStatus};
use wstether_testkit::{FaultProxy, ProxyMode, TestServer};

#[tokio::test]
async fn queued_messages_follow_the_greeting_in_order() {
    let server = TestServer::start().await.unwrap();
    let client = builder(&server.url())
        .greeting(vec![
            Message::text("auth:me"),
            Message::text("subscribe:news"),
        ])
        .build()
        .unwrap();
    let mut events = client.events().unwrap();
    for i in 0..5 {
        assert_eq!(
            client.send_text(format!("m{i}")).unwrap(),
            SendStatus::Queued
        );
    }
    assert_eq!(client.stats().queued_messages, 5);
    client.connect().unwrap();
    assert!(server.wait_received(7, ms(3000)).await);
    assert_eq!(
        server.stats().received,
        ["auth:me", "subscribe:news", "m0", "m1", "m2", "m3", "m4"]
    );
    // The greeting goes first again on every open.
    server.clear_received();
    server.drop_all().await;
    // Sent once the client knows the link is gone, so it cannot go into the dying socket.
    wait_for(&mut events, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    client.send_text("after drop").unwrap();
    assert!(server.wait_received(3, ms(3000)).await);
    assert_eq!(
        server.stats().received,
        ["auth:me", "subscribe:news", "after drop"]
    );
    assert!(client.close(1000, "").await.unwrap().is_empty());
}

#[tokio::test]
async fn full_outbox_is_an_error_and_close_hands_everything_back() {
    let client = builder("ws://127.0.0.1:9/")
        .outbox(OutboxLimits {
            max_messages: 3,
            max_bytes: 1024,
        })
        .build()
        .unwrap();
    for i in 0..3 {
        client.send_text(format!("q{i}")).unwrap();
    }
    assert!(matches!(
        client.send_text("overflow"),
        Err(Error::QueueFull { messages: 3, .. })
    ));
    assert!(matches!(
        client.send_binary(vec![0u8; 2000]),
        Err(Error::QueueFull { .. })
    ));
    let unsent = client.close(1000, "bye").await.unwrap();
    let texts: Vec<_> = unsent.iter().map(|m| m.as_text().unwrap()).collect();
    assert_eq!(texts, ["q0", "q1", "q2"]);
    assert_eq!(client.send_text("late"), Err(Error::Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_message_is_written_or_handed_back_when_the_link_dies() {
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    let (client, mut events) = open(builder(&proxy.url()).outbox(OutboxLimits {
        max_messages: 100_000,
        max_bytes: 64 << 20,
    }))
    .await;

    let payload = "x".repeat(512);
    let sender = client.clone();
    // The supervisor writes on another worker while this task keeps sending.
    let writer = tokio::spawn(async move {
        for i in 0..4000 {
            sender.send_text(format!("{i}:{payload}")).unwrap();
            if i % 100 == 0 {
                tokio::time::sleep(ms(2)).await;
            }
        }
    });
    assert!(server.wait_received(200, ms(3000)).await);
    // Kill the link with messages in flight; attempts keep failing while it is in reset mode.
    proxy.set_mode(ProxyMode::Reset).await;
    writer.await.unwrap();
    wait_for(&mut events, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    for i in 4000..4100 {
        client.send_text(format!("{i}:late")).unwrap();
    }
    let unsent = client.close(1000, "").await.unwrap();
    let stats = client.stats();
    // Promise 1: written, or handed back. Nothing else.
    assert_eq!(stats.messages_out + unsent.len() as u64, 4100, "{stats:?}");
    let ids: Vec<u64> = unsent
        .iter()
        .map(|m| {
            m.as_text()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    // Handed back in order, with nothing skipped between them.
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "unsent not contiguous"
    );
    assert_eq!(ids.last(), Some(&4099));
    // The server saw a prefix of what was written, in order.
    let received = server.stats().received;
    for (i, text) in received.iter().enumerate() {
        assert!(text.starts_with(&format!("{i}:")), "out of order at {i}");
    }
}

#[tokio::test]
async fn messages_in_flight_are_retried_on_the_next_link() {
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    let (client, _events) = open(builder(&proxy.url()).outbox(OutboxLimits {
        max_messages: 100_000,
        max_bytes: 64 << 20,
    }))
    .await;
    let n = 3000;
    for i in 0..n {
        if i == 1000 {
            proxy.set_mode(ProxyMode::Reset).await;
            proxy.set_mode(ProxyMode::Pass).await;
        }
        client.send_text(format!("{i}")).unwrap();
    }
    // Whatever the reset cut off goes out on the next link; the server sees the tail in order.
    assert!(server.wait_received(1, ms(3000)).await);
    let deadline = tokio::time::Instant::now() + ms(5000);
    loop {
        let got = server.stats().received;
        if got.last().map(String::as_str) == Some("2999") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "tail never arrived: {} received",
            got.len()
        );
        server.wait_received(got.len() + 1, ms(200)).await;
    }
    assert!(client.close(1000, "").await.unwrap().is_empty());
    assert!(client.stats().messages_out >= n as u64);
}

#[tokio::test]
async fn outbound_message_size_is_checked() {
    let client = builder("ws://127.0.0.1:9/")
        .max_message_size(10)
        .build()
        .unwrap();
    assert_eq!(
        client.send_text("01234567890"),
        Err(Error::MessageTooLarge { size: 11, max: 10 })
    );
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn async_greeting_is_computed_on_every_open_and_a_failing_one_is_reported() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let server = TestServer::start().await.unwrap();
    let opens = Arc::new(AtomicU32::new(0));
    let counter = opens.clone();
    let (client, mut events) = open(builder(&server.url()).greeting_async(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n == 2 {
                return Err("subscription service down".to_string());
            }
            tokio::time::sleep(ms(2)).await;
            Ok(vec![Message::text(format!("subscribe:{n}"))])
        }
    }))
    .await;
    assert!(server.wait_received(1, ms(3000)).await);
    server.drop_all().await;
    // Second open: the provider fails; an Error right after Open says so and the link stays up.
    let (ev, seen) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Error { .. })).await;
    assert!(
        matches!(ev, Event::Error { message, .. } if message.contains("subscription service down"))
    );
    assert!(matches!(seen.last(), Some(Event::Open { .. })), "{seen:?}");
    client.send_text("still works").unwrap();
    assert!(server.wait_received(2, ms(3000)).await);
    server.drop_all().await;
    wait_for(&mut events, ms(3000), |e| matches!(e, Event::Open { .. })).await;
    assert!(server.wait_received(3, ms(3000)).await);
    assert_eq!(
        server.stats().received,
        ["subscribe:1", "still works", "subscribe:3"]
    );
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn send_on_an_idle_open_link_writes_before_it_returns() {
    let server = TestServer::start().await.unwrap();
    // No heartbeat: nothing else wakes the client's task, so the link is idle between round trips.
    let (client, mut events) = open(builder(&server.url()).heartbeat(None)).await;
    let mut written_by_send = 0;
    for i in 0..50 {
        let before = client.stats().messages_out;
        assert_eq!(client.send_text(format!("d{i}")).unwrap(), SendStatus::Sent);
        // Counted as written already: `send` wrote it on this thread.
        if client.stats().messages_out == before + 1 {
            written_by_send += 1;
        }
        let echo = format!("d{i}");
        wait_for(
            &mut events,
            ms(3000),
            |e| matches!(e, Event::Message(m) if m.as_text() == Some(echo.as_str())),
        )
        .await;
    }
    // A send that finds the client's task mid-poll hands the message over instead; that is rare.
    assert!(
        written_by_send >= 40,
        "only {written_by_send} of 50 written directly"
    );
    assert!(client.close(1000, "").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_on_many_threads_keep_their_order_and_every_message_is_counted() {
    const THREADS: usize = 4;
    const EACH: usize = 2000;
    let server = TestServer::start().await.unwrap();
    let (client, _events) = open(builder(&server.url()).outbox(OutboxLimits {
        max_messages: THREADS * EACH,
        max_bytes: 1 << 24,
    }))
    .await;
    // Direct writes and queued ones mix here; none may overtake an earlier one of its thread.
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for n in 0..EACH {
                    client.send_text(format!("{t}:{n}")).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    assert!(server.wait_received(THREADS * EACH, ms(10_000)).await);
    let mut next = [0usize; THREADS];
    for text in server.stats().received {
        let (t, n) = text.split_once(':').unwrap();
        let (t, n): (usize, usize) = (t.parse().unwrap(), n.parse().unwrap());
        assert_eq!(n, next[t], "thread {t}'s messages arrived out of order");
        next[t] += 1;
    }
    // Every message counted once, whether `send` or the client's task wrote it.
    let deadline = tokio::time::Instant::now() + ms(3000);
    while client.stats().messages_out < (THREADS * EACH) as u64
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(ms(2)).await;
    }
    assert_eq!(client.stats().messages_out, (THREADS * EACH) as u64);
    assert!(client.close(1000, "").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_sends_through_a_slow_link_all_arrive_in_order_and_are_counted_once() {
    const N: usize = 48;
    const SIZE: usize = 256 * 1024;
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    // No heartbeat: the stalled link must not be declared dead while the test fills it.
    let (client, _events) = open(builder(&proxy.url()).heartbeat(None).outbox(OutboxLimits {
        max_messages: 100,
        max_bytes: 64 << 20,
    }))
    .await;
    // A proxy that reads slowly fills the socket: a send then leaves its frame half-written
    // for the client's task to finish, and later sends queue behind it.
    proxy.set_mode(ProxyMode::Delay(ms(50))).await;
    for i in 0..N {
        let text = format!("{i:02}:{}", "x".repeat(SIZE));
        assert_eq!(client.send_text(text).unwrap(), SendStatus::Sent);
    }
    proxy.set_mode(ProxyMode::Pass).await;
    assert!(server.wait_received(N, ms(20_000)).await);
    let order: Vec<String> = server
        .stats()
        .received
        .iter()
        .map(|t| t[..2].to_string())
        .collect();
    let expected: Vec<String> = (0..N).map(|i| format!("{i:02}")).collect();
    assert_eq!(order, expected);
    let deadline = tokio::time::Instant::now() + ms(3000);
    while client.stats().messages_out < N as u64 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(ms(2)).await;
    }
    assert_eq!(client.stats().messages_out, N as u64);
    assert!(client.close(1000, "").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_written_send_on_a_link_that_dies_is_handed_back() {
    const N: usize = 48;
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    let (client, mut events) = open(builder(&proxy.url()).heartbeat(None).outbox(OutboxLimits {
        max_messages: 100,
        max_bytes: 64 << 20,
    }))
    .await;
    proxy.set_mode(ProxyMode::Delay(ms(50))).await;
    for i in 0..N {
        client
            .send_text(format!("{i:02}:{}", "x".repeat(256 * 1024)))
            .unwrap();
    }
    proxy.set_mode(ProxyMode::Reset).await;
    wait_for(&mut events, ms(5000), |e| matches!(e, Event::Closed { .. })).await;
    let unsent = client.close(1000, "").await.unwrap();
    // Written (into a socket that then died) or handed back: nothing vanished, nothing twice.
    assert_eq!(client.stats().messages_out + unsent.len() as u64, N as u64);
    assert!(
        !unsent.is_empty(),
        "the stalled link cannot have taken everything"
    );
    let first_unsent: usize = unsent[0].as_text().unwrap()[..2].parse().unwrap();
    let tail: Vec<usize> = unsent
        .iter()
        .map(|m| m.as_text().unwrap()[..2].parse().unwrap())
        .collect();
    assert_eq!(
        tail,
        (first_unsent..N).collect::<Vec<_>>(),
        "unsent keeps send order"
    );
}
