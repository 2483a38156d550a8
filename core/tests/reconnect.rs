//! Reconnect with backoff: server restarts, accept-then-drop servers, retry and time limits.

mod common;

use common::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use wstether::{Backoff, Cause, Event, Initiator, State};
use wstether_testkit::{FaultProxy, ProxyMode, TestServer};

#[tokio::test]
async fn reconnects_after_server_restart() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = open(builder(&server.url())).await;

    server.stop(Some(1012)).await;
    let (closed, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    match closed {
        Event::Closed {
            code,
            initiator,
            will_reconnect,
            ..
        } => {
            assert_eq!(code, 1012);
            assert_eq!(initiator, Initiator::Remote);
            assert!(will_reconnect);
        }
        _ => unreachable!(),
    }
    let (ev, _) = wait_for(&mut events, ms(3000), |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    assert!(matches!(
        ev,
        Event::Reconnecting {
            cause: Cause::Closed { code: 1012, .. },
            ..
        }
    ));
    // While the port is closed, attempts fail and the client keeps backing off.
    wait_for(&mut events, ms(3000), |e| matches!(e, Event::Error { .. })).await;
    server.restart().await.unwrap();
    wait_open(&mut events, ms(5000)).await;
    assert_eq!(client.state(), State::Open);
    assert_eq!(
        client.send_text("after restart").unwrap(),
        wstether::SendStatus::Sent
    );
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    assert!(matches!(ev, Event::Message(m) if m.as_text() == Some("after restart")));
    let stats = client.stats();
    assert!(stats.opens >= 2 && stats.attempts >= 3, "{stats:?}");
    assert_eq!(stats.last_close.as_ref().map(|c| c.code), Some(1012));
    client.close(1000, "done").await.unwrap();
}

#[tokio::test]
async fn accept_then_drop_server_cannot_cause_a_tight_loop() {
    let server = TestServer::start().await.unwrap();
    server.set_close_on_open(Some((1011, "go away".into())));
    let backoff = Backoff {
        initial: ms(40),
        max: ms(2000),
        factor: 2.0,
        jitter: 0.0,
        stable_after: ms(5000),
    };
    let (client, mut events) = start(builder(&server.url()).backoff(backoff));
    let mut delays = Vec::new();
    while delays.len() < 4 {
        if let (Event::Reconnecting { delay, .. }, _) = wait_for(&mut events, ms(5000), |e| {
            matches!(e, Event::Reconnecting { .. })
        })
        .await
        {
            delays.push(delay.as_millis() as u64);
        }
    }
    // Each open was short-lived, so the curve keeps climbing instead of restarting at 40 ms.
    assert_eq!(delays, [40, 80, 160, 320]);
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn stable_link_resets_the_curve() {
    let server = TestServer::start().await.unwrap();
    let backoff = Backoff {
        initial: ms(40),
        max: ms(2000),
        factor: 2.0,
        jitter: 0.0,
        stable_after: ms(200),
    };
    let (client, mut events) = start(builder(&server.url()).backoff(backoff));
    for _ in 0..2 {
        wait_open(&mut events, ms(3000)).await;
        // Stay open past stable_after, then drop.
        let (_, _) = wait_for(&mut events, ms(1000), |e| matches!(e, Event::Pong { .. })).await;
        server.drop_all().await;
        let (ev, _) = wait_for(&mut events, ms(3000), |e| {
            matches!(e, Event::Reconnecting { .. })
        })
        .await;
        assert!(
            matches!(ev, Event::Reconnecting { attempt: 1, delay, .. } if delay == ms(40)),
            "{ev:?}"
        );
    }
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn max_retries_ends_in_failed_with_the_reason() {
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    proxy.set_mode(ProxyMode::Refuse).await;
    let client = builder(&proxy.url()).max_retries(Some(3)).build().unwrap();
    let mut events = client.events().unwrap();
    client.send_text("never sent").unwrap();
    client.connect().unwrap();
    let all = drain(&mut events, ms(5000)).await;
    let connecting = all
        .iter()
        .filter(|e| matches!(e, Event::Connecting { .. }))
        .count();
    assert_eq!(connecting, 3, "{all:#?}");
    match all.last().unwrap() {
        Event::Failed {
            reason: Cause::RetriesExhausted { attempts: 3, last },
            unsent,
        } => {
            assert!(matches!(**last, Cause::ConnectFailed(_)), "{last:?}");
            assert_eq!(unsent.len(), 1);
            assert_eq!(unsent[0].as_text(), Some("never sent"));
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(client.state(), State::Failed);
    assert_eq!(client.send_text("x"), Err(wstether::Error::Failed));
    assert_eq!(client.connect(), Err(wstether::Error::Failed));
}

#[tokio::test]
async fn max_elapsed_ends_in_failed() {
    let server = TestServer::start().await.unwrap();
    let url = server.url();
    server.stop(None).await;
    let (_client, mut events) = start(builder(&url).max_elapsed(Some(ms(300))));
    let all = drain(&mut events, ms(5000)).await;
    assert!(
        matches!(
            all.last(),
            Some(Event::Failed {
                reason: Cause::ElapsedExhausted { .. },
                ..
            })
        ),
        "{all:#?}"
    );
}

#[tokio::test]
async fn at_most_one_attempt_in_flight() {
    let server = TestServer::start().await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    // A slow auth provider keeps the attempt in flight while connect() is hammered.
    let client = builder(&server.url())
        .auth(move |_req| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(ms(200)).await;
                Ok(vec![])
            }
        })
        .build()
        .unwrap();
    let mut events = client.events().unwrap();
    for _ in 0..20 {
        client.connect().unwrap();
        client.reconnect_now().unwrap();
    }
    wait_open(&mut events, ms(3000)).await;
    client.connect().unwrap(); // open: does nothing
    assert!(server.wait_connections(1, ms(1000)).await);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(server.stats().handshakes, 1);
    client.close(1000, "").await.unwrap();
}
