//! Dead-link detection: the half-open link no socket error reports, app-level pings, network changes.

mod common;

use common::*;
use tokio::time::Instant;
use wstether::{Cause, Event, Initiator, PongMatch};
use wstether_testkit::{FaultProxy, ProxyMode, TestServer};

#[tokio::test]
async fn half_open_link_is_detected_within_interval_plus_timeout() {
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    let (interval, timeout) = (300, 300);
    let (client, mut events) =
        open(builder(&proxy.url()).heartbeat(Some(fast_heartbeat(interval, timeout)))).await;
    // A first pong proves the heartbeat works before the link goes silent.
    wait_for(&mut events, ms(2000), |e| matches!(e, Event::Pong { .. })).await;

    proxy.set_mode(ProxyMode::Blackhole).await;
    let cut = Instant::now();
    let (closed, _) = wait_for(&mut events, ms(5000), |e| matches!(e, Event::Closed { .. })).await;
    let took = cut.elapsed();
    match closed {
        Event::Closed {
            code,
            initiator,
            will_reconnect,
            ..
        } => {
            assert_eq!(code, 1006);
            assert_eq!(initiator, Initiator::Network);
            assert!(will_reconnect);
        }
        _ => unreachable!(),
    }
    // No closing-handshake wait on a dead link: interval + timeout plus scheduling slack.
    assert!(
        took <= ms(interval + timeout + 250),
        "detected after {took:?}"
    );
    let (ev, _) = wait_for(&mut events, ms(1000), |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    assert!(matches!(
        ev,
        Event::Reconnecting {
            cause: Cause::HeartbeatTimeout,
            ..
        }
    ));

    proxy.set_mode(ProxyMode::Pass).await;
    wait_open(&mut events, ms(5000)).await;
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn server_that_stops_answering_is_replaced() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) =
        open(builder(&server.url()).heartbeat(Some(fast_heartbeat(200, 200)))).await;
    server.set_answer_pings(false);
    wait_for(&mut events, ms(3000), |e| {
        matches!(e, Event::Closed { code: 1006, .. })
    })
    .await;
    server.set_answer_pings(true);
    wait_open(&mut events, ms(3000)).await;
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn app_level_ping_uses_the_pong_matcher() {
    // The echo server answers {"type":"ping"} with the same text: that is our pong.
    let server = TestServer::start().await.unwrap();
    let pong = PongMatch::Contains(r#""ping""#.into());
    let hb = app_heartbeat(100, 300, r#"{"type":"ping"}"#, pong);
    let (client, mut events) = open(builder(&server.url()).heartbeat(Some(hb))).await;
    let (pong, seen) = wait_for(&mut events, ms(2000), |e| matches!(e, Event::Pong { .. })).await;
    assert!(matches!(pong, Event::Pong { .. }));
    // The pong was consumed by the heartbeat, not delivered as a message.
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Message(_))),
        "{seen:?}"
    );
    assert!(client.stats().last_rtt.is_some());
    assert!(
        server.stats().pings == 0,
        "no protocol pings when an app ping is set"
    );
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn network_changed_finds_a_dead_link_fast() {
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    // A slow heartbeat would need 40 s; the probe needs its short timeout.
    let (client, mut events) =
        open(builder(&proxy.url()).heartbeat(Some(fast_heartbeat(30_000, 300)))).await;
    proxy.set_mode(ProxyMode::Blackhole).await;
    let t = Instant::now();
    client.network_changed().unwrap();
    let (ev, _) = wait_for(&mut events, ms(3000), |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    assert!(
        matches!(
            ev,
            Event::Reconnecting {
                cause: Cause::NetworkChanged,
                ..
            }
        ),
        "{ev:?}"
    );
    assert!(t.elapsed() < ms(1000), "took {:?}", t.elapsed());
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn network_changed_on_a_healthy_link_keeps_it() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) =
        open(builder(&server.url()).heartbeat(Some(fast_heartbeat(30_000, 300)))).await;
    client.network_changed().unwrap();
    let (_, seen) = wait_for(&mut events, ms(2000), |e| matches!(e, Event::Pong { .. })).await;
    assert!(!seen.iter().any(|e| matches!(e, Event::Closed { .. })));
    assert_eq!(client.state(), wstether::State::Open);
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_slow_link_carrying_a_large_message_is_not_declared_dead() {
    // 40 kB at 16 kB/s takes 2.5 s: eight times the heartbeat's 300 ms + 300 ms of silence
    // allowed between complete frames. Bytes keep arriving the whole time, so the link lives.
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    let (client, mut events) =
        open(builder(&proxy.url()).heartbeat(Some(fast_heartbeat(300, 300)))).await;
    proxy.set_mode(ProxyMode::Throttle(16_000)).await;
    client.send_text("!big 40000").unwrap();
    let (message, seen) = wait_for(&mut events, ms(10_000), |e| {
        matches!(e, Event::Message(_) | Event::Closed { .. })
    })
    .await;
    match message {
        Event::Message(m) => assert_eq!(m.len(), 40_000),
        other => panic!("link ended before the message arrived: {other:?}; seen {seen:#?}"),
    }
    assert_eq!(client.stats().opens, 1);
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_write_that_stalls_is_reported_as_a_stalled_write() {
    // The server stops reading: the client's writes fill the socket buffers and stop moving.
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = open(
        builder(&server.url())
            .heartbeat(Some(fast_heartbeat(300, 300)))
            .outbox(wstether::OutboxLimits {
                max_messages: 10_000,
                max_bytes: 256 << 20,
            }),
    )
    .await;
    server.set_answer_pings(false);
    let chunk = vec![0u8; 256 * 1024];
    for _ in 0..256 {
        client.send_binary(chunk.clone()).unwrap();
    }
    let (ev, seen) = wait_for(&mut events, ms(5000), |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    assert!(
        matches!(
            ev,
            Event::Reconnecting {
                cause: Cause::WriteStalled,
                ..
            }
        ),
        "{ev:?}; seen {seen:#?}"
    );
    client.close(1000, "").await.unwrap();
}
