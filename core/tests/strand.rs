//! No failure strands a client: a panicking app closure is reported, not fatal, and a task
//! that ends early still leaves the client `Failed` with every unsent message (promise 7).

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::*;
use wstether::{AuthRequest, Cause, ErrorKind, Event, Message, State};
use wstether_testkit::TestServer;

#[tokio::test]
async fn an_auth_provider_that_panics_fails_that_attempt_only() {
    let server = TestServer::start().await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let seen_calls = calls.clone();
    let (client, mut events) = start(builder(&server.url()).auth(move |_: AuthRequest| {
        let n = seen_calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                panic!("token cache corrupted");
            }
            Ok(vec![])
        }
    }));
    let seen = wait_open(&mut events, ms(3000)).await;
    let error = seen.iter().find_map(|e| match e {
        Event::Error { kind, message } => Some((*kind, message.clone())),
        _ => None,
    });
    let (kind, message) = error.expect("the panic is reported as an Error event");
    assert_eq!(kind, ErrorKind::Auth);
    assert!(
        message.contains("panicked: token cache corrupted"),
        "{message}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(client.state(), State::Open);
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_greeting_provider_that_panics_is_reported_and_the_link_carries_on() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = start(
        builder(&server.url()).greeting_with(|| -> Vec<Message> { panic!("no subscriptions") }),
    );
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Error { .. })).await;
    assert!(
        matches!(&ev, Event::Error { message, .. } if message.contains("greeting provider panicked: no subscriptions")),
        "{ev:?}"
    );
    client.send_text("still here").unwrap();
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    assert!(matches!(ev, Event::Message(m) if m.as_text() == Some("still here")));
    assert_eq!(client.stats().opens, 1);
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_task_stopped_by_its_runtime_leaves_the_client_failed_with_its_unsent_messages() {
    // The client runs on a runtime of its own that the app shuts down while messages wait.
    let own = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (client, mut events) = connecting_on(&own);
    for text in ["a", "b", "c"] {
        client.send_text(text).unwrap();
    }
    own.shutdown_background();

    let (failed, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Failed { .. })).await;
    match failed {
        Event::Failed {
            reason: Cause::Internal(why),
            unsent,
        } => {
            assert!(why.contains("runtime"), "{why}");
            let texts: Vec<_> = unsent.iter().filter_map(Message::as_text).collect();
            assert_eq!(texts, ["a", "b", "c"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(client.state(), State::Failed);
    assert!(client.send_text("d").is_err());
    // Handed back once: in the Failed event, not a second time by close().
    assert_eq!(client.close(1000, "").await.unwrap(), vec![]);
    assert!(
        events.next().await.is_none(),
        "the stream ends after Failed"
    );
}

#[tokio::test]
async fn a_task_dropped_before_its_first_poll_leaves_the_client_failed() {
    // A runtime nobody runs: the client's task is queued there and never polled before the
    // runtime goes away, so the task is dropped without having started.
    let own = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, mut events) = connecting_on(&own);
    client.send_text("a").unwrap();
    own.shutdown_background();

    let (failed, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Failed { .. })).await;
    let Event::Failed { unsent, .. } = failed else {
        unreachable!()
    };
    let texts: Vec<_> = unsent.iter().filter_map(Message::as_text).collect();
    assert_eq!(texts, ["a"]);
    assert_eq!(client.state(), State::Failed);
}

/// A client started on `runtime` toward a port nothing listens on, with its event stream.
fn connecting_on(runtime: &tokio::runtime::Runtime) -> (wstether::Client, wstether::Events) {
    let client = builder("ws://127.0.0.1:9/unreachable")
        .runtime(runtime.handle().clone())
        .build()
        .unwrap();
    let events = client.events().unwrap();
    client.connect().unwrap();
    (client, events)
}
