//! pause / resume / reconnect_now, close codes and reasons, stats and the flight recorder.

mod common;

use common::*;
use tokio::time::Instant;
use wstether::{Backoff, Event, Initiator, SendStatus, State};
use wstether_testkit::TestServer;

#[tokio::test]
async fn pause_closes_and_queues_resume_reconnects_and_flushes() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = open(builder(&server.url())).await;

    client.pause().unwrap();
    let (ev, _) = wait_for(&mut events, ms(3000), |e| {
        matches!(
            e,
            Event::StateChanged {
                state: State::Paused
            }
        )
    })
    .await;
    assert!(matches!(ev, Event::StateChanged { .. }));
    assert_eq!(server.stats().close_codes, [1000]);
    assert_eq!(
        client.send_text("while paused").unwrap(),
        SendStatus::Queued
    );
    client.reconnect_now().unwrap(); // does not leave Paused
    assert!(server.wait_connections(0, ms(1000)).await);
    assert_eq!(client.state(), State::Paused);

    client.resume().unwrap();
    wait_open(&mut events, ms(3000)).await;
    assert!(server.wait_received(1, ms(3000)).await);
    assert_eq!(server.stats().received, ["while paused"]);
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn reconnect_now_skips_the_delay() {
    let server = TestServer::start().await.unwrap();
    let slow = Backoff {
        initial: ms(30_000),
        max: ms(30_000),
        factor: 1.0,
        jitter: 0.0,
        stable_after: ms(100),
    };
    let (client, mut events) = open(builder(&server.url()).backoff(slow)).await;
    server.drop_all().await;
    wait_for(&mut events, ms(3000), |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    assert_eq!(client.state(), State::Waiting);
    let t = Instant::now();
    client.reconnect_now().unwrap();
    wait_open(&mut events, ms(3000)).await;
    assert!(t.elapsed() < ms(2000));
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn close_codes_and_reasons_reach_events_and_stats() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = open(builder(&server.url())).await;
    client.send_text("!close 4001 maintenance window").unwrap();
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    match ev {
        Event::Closed {
            code,
            reason,
            initiator,
            will_reconnect,
        } => {
            assert_eq!((code, reason.as_str()), (4001, "maintenance window"));
            assert_eq!(initiator, Initiator::Remote);
            assert!(will_reconnect);
        }
        _ => unreachable!(),
    }
    let last = client.stats().last_close.unwrap();
    assert_eq!(
        (last.code, last.reason.as_str()),
        (4001, "maintenance window")
    );
    wait_open(&mut events, ms(3000)).await;

    // A local close sends our code and reason, reports them, and ends the stream.
    client.close(4321, "shutting down").await.unwrap();
    let rest = drain(&mut events, ms(3000)).await;
    assert!(
        rest.iter().any(|e| matches!(
            e,
            Event::Closed {
                code: 4321,
                initiator: Initiator::Local,
                will_reconnect: false,
                ..
            }
        )),
        "{rest:#?}"
    );
    assert!(matches!(
        rest.last(),
        Some(Event::StateChanged {
            state: State::Closed
        })
    ));
    // The server also saw our reply to its own 4001 close earlier.
    assert_eq!(server.stats().close_codes.last(), Some(&4321));
}

#[tokio::test]
async fn stats_and_history_tell_the_story() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) =
        open(builder(&server.url()).heartbeat(Some(fast_heartbeat(100, 500)))).await;
    client.send_text("hello").unwrap();
    client.send_binary(vec![1u8, 2, 3]).unwrap();
    wait_for(
        &mut events,
        ms(3000),
        |e| matches!(e, Event::Message(m) if m.len() == 3),
    )
    .await;
    wait_for(&mut events, ms(3000), |e| matches!(e, Event::Pong { .. })).await;
    server.drop_all().await;
    wait_open(&mut events, ms(3000)).await;

    let s = client.stats();
    assert_eq!((s.messages_out, s.bytes_out), (2, 8));
    assert_eq!((s.messages_in, s.bytes_in), (2, 8));
    assert_eq!((s.attempts, s.opens), (2, 2));
    assert!(s.last_rtt.is_some());
    assert_eq!(s.last_close.unwrap().code, 1006);
    assert!(s.time_connected > ms(0) && s.time_disconnected > ms(0));

    let h = client.history();
    let path: Vec<State> = h.iter().map(|t| t.to).collect();
    assert_eq!(
        path,
        [
            State::Connecting,
            State::Open,
            State::Waiting,
            State::Connecting,
            State::Open
        ]
    );
    assert!(h[2].cause.contains("network"), "{:?}", h[2]);
    client.close(1000, "").await.unwrap();
    assert_eq!(client.history().last().unwrap().to, State::Closed);
}

#[tokio::test]
async fn history_keeps_the_last_64_changes() {
    let client = builder("ws://127.0.0.1:9/").build().unwrap();
    for _ in 0..40 {
        client.pause().unwrap();
        client.resume().unwrap();
    }
    client.close(1000, "").await.unwrap();
    let h = client.history();
    assert_eq!(h.len(), 64);
    assert_eq!(h.last().unwrap().to, State::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn closing_clients_whose_events_nobody_reads_returns_at_once() {
    // Each consumer read its events until Open and then went away: the closing handshake must
    // not wait for it to come back to read the server's answer.
    let server = TestServer::start().await.unwrap();
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(open(wstether::Client::builder(server.url()).handshake_budget(None)).await);
    }
    let started = tokio::time::Instant::now();
    for (client, _events) in &clients {
        client.close(1000, "").await.unwrap();
    }
    assert!(started.elapsed() < ms(1000), "took {:?}", started.elapsed());
}
