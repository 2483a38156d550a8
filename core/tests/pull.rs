//! `Events::blocking_pull_batch`: the consumer's thread reads data frames itself. Order, counts
//! and every duty of the client's task (heartbeat, close, reconnect, app pongs) must survive the read turn
//! moving between the two threads.

mod common;

use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use tokio::sync::mpsc;
use tokio::time::Instant;
use wstether::{Event, Events, Heartbeat, PongMatch, State};
use wstether_testkit::{FaultProxy, ProxyMode, TestServer};

/// A dedicated thread pulling batches of up to `max` events, as a binding's event thread does.
/// `handler` runs on that thread for each event (it may block, like a slow app handler). The
/// channel closes when the stream ends.
fn pull(
    mut events: Events,
    max: usize,
    mut handler: impl FnMut(&Event) + Send + 'static,
) -> (mpsc::UnboundedReceiver<Event>, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let thread = thread::spawn(move || loop {
        let batch = events.blocking_pull_batch(max);
        if batch.is_empty() {
            return;
        }
        for ev in batch {
            handler(&ev);
            let _ = tx.send(ev);
        }
    });
    (rx, thread)
}

fn is_text(e: &Event, want: &str) -> bool {
    matches!(e, Event::Message(m) if m.as_text() == Some(want))
}

/// The index of a `!blast` message ("17:xxxx" → 17).
fn blast_index(e: &Event) -> Option<usize> {
    match e {
        Event::Message(m) => m.as_text()?.split(':').next()?.parse().ok(),
        _ => None,
    }
}

/// A 50,000-message blast pulled in batches of up to `max`: every message once, in order,
/// and counted.
async fn pull_a_blast(max: usize, heartbeat: Option<Heartbeat>) {
    let server = TestServer::start().await.unwrap();
    let (client, events) = open(builder(&server.url()).heartbeat(heartbeat)).await;
    let before = client.stats().messages_in;
    let (mut rx, _thread) = pull(events, max, |_| {});
    let n = 50_000;
    client.send_text(format!("!blast {n} 64")).unwrap();
    let (_, seen) = wait_for(&mut rx, ms(30_000), |e| is_text(e, "!blast-done")).await;
    let indices: Vec<usize> = seen.iter().filter_map(blast_index).collect();
    assert_eq!(indices.len(), n, "every message arrives once");
    assert!(
        indices.iter().enumerate().all(|(i, &x)| i == x),
        "messages arrive in order"
    );
    // Messages the puller read itself are counted like any others.
    assert!(client.stats().messages_in > before + n as u64);
    client.close(1000, "").await.unwrap();
    let (end, _) = wait_for(&mut rx, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    assert!(matches!(end, Event::Closed { code: 1000, .. }));
}

#[tokio::test]
async fn pulled_messages_keep_their_order_and_are_counted() {
    // Small batches: many returns to the caller, many chances to get it wrong.
    pull_a_blast(7, Some(fast_heartbeat(500, 500))).await;
}

#[tokio::test]
async fn without_a_heartbeat_pulled_and_drained_batches_interleave_in_order() {
    // The turn goes back after every batch, so the client's task reads while the consumer is away.
    pull_a_blast(64, None).await;
}

#[tokio::test]
async fn long_pulls_let_the_clients_task_in_and_keep_the_order() {
    // Batches of up to 4,096 span several holds of the lock, and a tick every 5 ms takes the
    // turn back in the middle of them.
    pull_a_blast(4096, Some(fast_heartbeat(5, 2000))).await;
}

#[tokio::test]
async fn order_holds_while_the_read_turn_moves_back_and_forth_mid_stream() {
    let server = TestServer::start().await.unwrap();
    // Every blast message whose index ends in "00" looks like this app pong, so the puller
    // hands it to the client's task, which reads on until the puller takes the turn again: the
    // turn changes hands hundreds of times while data keeps coming.
    let hb = app_heartbeat(60_000, 60_000, "unused", PongMatch::Contains("00:".into()));
    let (client, events) = open(builder(&server.url()).heartbeat(Some(hb))).await;
    let (mut rx, _thread) = pull(events, 16, |_| {});
    let n = 50_000;
    client.send_text(format!("!blast {n} 64")).unwrap();
    let (_, seen) = wait_for(&mut rx, ms(30_000), |e| is_text(e, "!blast-done")).await;
    let got: Vec<usize> = seen.iter().filter_map(blast_index).collect();
    let want: Vec<usize> = (0..n).filter(|i| *i < 100 || i % 100 != 0).collect();
    assert_eq!(got.len(), want.len(), "every message once");
    assert!(got == want, "messages arrive in order");
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_server_close_met_by_the_puller_is_handled_and_pulling_goes_on() {
    let server = TestServer::start().await.unwrap();
    let (client, events) = open(builder(&server.url())).await;
    let (mut rx, _thread) = pull(events, 64, |_| {});
    client.send_text("first").unwrap();
    wait_for(&mut rx, ms(3000), |e| is_text(e, "first")).await;

    server.close_all(4000, "restart").await;
    let (closed, _) = wait_for(&mut rx, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    assert!(
        matches!(
            closed,
            Event::Closed {
                code: 4000,
                will_reconnect: true,
                ..
            }
        ),
        "{closed:?}"
    );
    wait_for(&mut rx, ms(5000), |e| matches!(e, Event::Open { .. })).await;
    client.send_text("second").unwrap();
    wait_for(&mut rx, ms(3000), |e| is_text(e, "second")).await;
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_half_open_link_is_detected_while_pulling() {
    let server = TestServer::start().await.unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .unwrap();
    let (interval, timeout) = (200, 300);
    let (client, events) =
        open(builder(&proxy.url()).heartbeat(Some(fast_heartbeat(interval, timeout)))).await;
    let (mut rx, _thread) = pull(events, 64, |_| {});
    wait_for(&mut rx, ms(2000), |e| matches!(e, Event::Pong { .. })).await;

    proxy.set_mode(ProxyMode::Blackhole).await;
    let cut = Instant::now();
    let (closed, _) = wait_for(&mut rx, ms(5000), |e| matches!(e, Event::Closed { .. })).await;
    assert!(
        matches!(closed, Event::Closed { code: 1006, .. }),
        "{closed:?}"
    );
    assert!(
        cut.elapsed() <= ms(interval + timeout + 300),
        "detected after {:?}",
        cut.elapsed()
    );
    proxy.set_mode(ProxyMode::Pass).await;
    wait_for(&mut rx, ms(5000), |e| matches!(e, Event::Open { .. })).await;
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn close_wakes_a_waiting_puller_and_ends_its_stream() {
    let server = TestServer::start().await.unwrap();
    let (client, events) = open(builder(&server.url())).await;
    let (mut rx, thread) = pull(events, 64, |_| {});
    client.send_text("hello").unwrap();
    wait_for(&mut rx, ms(3000), |e| is_text(e, "hello")).await;
    // The puller now waits on the socket, holding the read turn; the close handshake needs it.
    let t = Instant::now();
    client.close(1000, "bye").await.unwrap();
    assert!(t.elapsed() < ms(400), "close took {:?}", t.elapsed());
    let (closed, _) = wait_for(&mut rx, ms(2000), |e| matches!(e, Event::Closed { .. })).await;
    assert!(matches!(closed, Event::Closed { code: 1000, .. }));
    let deadline = Instant::now() + ms(2000);
    while tokio::time::timeout_at(deadline, rx.recv())
        .await
        .expect("the pull stream ends after Closed")
        .is_some()
    {}
    thread.join().unwrap();
}

#[tokio::test]
async fn app_level_pongs_read_by_the_puller_go_to_the_heartbeat() {
    let server = TestServer::start().await.unwrap();
    let pong = PongMatch::Contains(r#""ping""#.into());
    let hb = app_heartbeat(100, 300, r#"{"type":"ping"}"#, pong);
    let (client, events) = open(builder(&server.url()).heartbeat(Some(hb))).await;
    let (mut rx, _thread) = pull(events, 64, |_| {});
    client.send_text("data").unwrap();
    wait_for(&mut rx, ms(2000), |e| is_text(e, "data")).await;
    let (_, seen) = wait_for(&mut rx, ms(2000), |e| matches!(e, Event::Pong { .. })).await;
    let (_, more) = wait_for(&mut rx, ms(2000), |e| matches!(e, Event::Pong { .. })).await;
    assert!(
        !seen
            .iter()
            .chain(&more)
            .any(|e| matches!(e, Event::Message(_))),
        "the app pong is not delivered: {seen:?} {more:?}"
    );
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn switching_from_pulling_to_the_stream_gives_the_read_turn_back() {
    let server = TestServer::start().await.unwrap();
    let (client, events) = open(builder(&server.url()).heartbeat(None)).await;
    // Pull once on a thread (taking the read turn), then hand the stream back.
    client.send_text("pulled").unwrap();
    // (spawn_blocking, not a joined thread: the test server runs on this test's runtime.)
    let mut events = tokio::task::spawn_blocking(move || {
        let mut events = events;
        loop {
            let batch = events.blocking_pull_batch(64);
            if batch.iter().any(|e| is_text(e, "pulled")) {
                return events;
            }
        }
    })
    .await
    .unwrap();
    client.send_text("streamed").unwrap();
    wait_for(&mut events, ms(2000), |e| is_text(e, "streamed")).await;
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_consumer_busy_in_a_handler_is_not_taken_for_a_dead_link() {
    let server = TestServer::start().await.unwrap();
    let (interval, timeout) = (100, 200);
    let (client, events) =
        open(builder(&server.url()).heartbeat(Some(fast_heartbeat(interval, timeout)))).await;
    // The handler blocks on "stall" until released: the puller holds the read turn but is away.
    let (release_tx, release_rx) = std_mpsc::channel::<()>();
    let (mut rx, _thread) = pull(events, 64, move |e| {
        if is_text(e, "stall") {
            let _ = release_rx.recv_timeout(Duration::from_secs(10));
        }
    });
    client.send_text("stall").unwrap();
    // Away for four times what the heartbeat tolerates. The supervisor takes the turn back,
    // reads the pongs itself, and the link stays.
    tokio::time::sleep(ms(4 * (interval + timeout))).await;
    assert_eq!(client.state(), State::Open);
    assert_eq!(client.stats().opens, 1);
    release_tx.send(()).unwrap();
    client.send_text("after").unwrap();
    let (_, seen) = wait_for(&mut rx, ms(3000), |e| is_text(e, "after")).await;
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Closed { .. })),
        "{:?}",
        lifecycle(&seen)
    );
    client.close(1000, "").await.unwrap();
}

/// The server closes while the consumer is away in a handler: the client must see the close
/// and reconnect anyway, and the consumer gets the `Closed` event when it comes back.
async fn close_seen_while_the_puller_is_away(heartbeat: Option<Heartbeat>) {
    let server = TestServer::start().await.unwrap();
    let (client, events) = open(builder(&server.url()).heartbeat(heartbeat)).await;
    let (release_tx, release_rx) = std_mpsc::channel::<()>();
    let (mut rx, _thread) = pull(events, 64, move |e| {
        if is_text(e, "stall") {
            let _ = release_rx.recv_timeout(Duration::from_secs(10));
        }
    });
    client.send_text("stall").unwrap();
    server.wait_received(1, ms(2000)).await;
    server.close_all(4001, "bye").await;
    let deadline = Instant::now() + ms(3000);
    while client.stats().opens < 2 {
        assert!(Instant::now() < deadline, "state {:?}", client.state());
        tokio::time::sleep(ms(10)).await;
    }
    release_tx.send(()).unwrap();
    let (closed, _) = wait_for(&mut rx, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    assert!(
        matches!(closed, Event::Closed { code: 4001, .. }),
        "{closed:?}"
    );
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_server_close_is_seen_while_the_puller_is_away() {
    // The supervisor takes the turn back at a heartbeat tick and reads the close itself.
    close_seen_while_the_puller_is_away(Some(fast_heartbeat(100, 200))).await;
}

#[tokio::test]
async fn without_a_heartbeat_a_server_close_is_seen_while_the_puller_is_away() {
    // No tick would take the turn back, so the consumer must not have kept it.
    close_seen_while_the_puller_is_away(None).await;
}
