//! Bad input gets a typed error or a defined no-op, never a panic or hang; dropping leaves nothing.

mod common;

use common::*;
use std::time::Duration;
use wstether::{Backoff, Client, Error, Event, Heartbeat, OutboxLimits, State};
use wstether_testkit::TestServer;

#[test]
fn bad_urls_and_schemes() {
    assert!(matches!(
        Client::builder("not a url").build(),
        Err(Error::InvalidUrl { .. })
    ));
    assert!(matches!(
        Client::builder("ws://").build(),
        Err(Error::InvalidUrl { .. })
    ));
    assert!(matches!(
        Client::builder("ws://host/#frag").build(),
        Err(Error::InvalidUrl { .. })
    ));
    match Client::builder("https://example.com/").build() {
        Err(Error::InvalidScheme { scheme }) => assert_eq!(scheme, "https"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_headers_and_protocols() {
    let err = Client::builder("ws://h/")
        .header("X-Evil", "a\r\nHost: other")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidHeader { ref name, .. } if name == "X-Evil"),
        "{err:?}"
    );
    assert!(matches!(
        Client::builder("ws://h/").header("Bad Name", "v").build(),
        Err(Error::InvalidHeader { .. })
    ));
    assert!(matches!(
        Client::builder("ws://h/").protocols(["a,b"]).build(),
        Err(Error::InvalidHeader { .. })
    ));
}

#[test]
fn zero_and_inconsistent_options() {
    let zero = Duration::ZERO;
    let cases: Vec<(&str, Result<Client, Error>)> = vec![
        (
            "connect_timeout",
            Client::builder("ws://h/").connect_timeout(zero).build(),
        ),
        (
            "backoff.initial",
            Client::builder("ws://h/")
                .backoff(Backoff {
                    initial: zero,
                    ..Backoff::default()
                })
                .build(),
        ),
        (
            "backoff.max",
            Client::builder("ws://h/")
                .backoff(Backoff {
                    max: ms(10),
                    ..Backoff::default()
                })
                .build(),
        ),
        (
            "backoff.factor",
            Client::builder("ws://h/")
                .backoff(Backoff {
                    factor: 0.5,
                    ..Backoff::default()
                })
                .build(),
        ),
        (
            "backoff.jitter",
            Client::builder("ws://h/")
                .backoff(Backoff {
                    jitter: 1.5,
                    ..Backoff::default()
                })
                .build(),
        ),
        (
            "heartbeat.interval",
            Client::builder("ws://h/")
                .heartbeat(Some(Heartbeat {
                    interval: zero,
                    ..Heartbeat::default()
                }))
                .build(),
        ),
        (
            "max_elapsed",
            Client::builder("ws://h/").max_elapsed(Some(zero)).build(),
        ),
        (
            "outbox.max_messages",
            Client::builder("ws://h/")
                .outbox(OutboxLimits {
                    max_messages: 0,
                    max_bytes: 1,
                })
                .build(),
        ),
        (
            "handshake_budget",
            Client::builder("ws://h/").handshake_budget(Some(0)).build(),
        ),
        (
            "max_message_size",
            Client::builder("ws://h/").max_message_size(0).build(),
        ),
    ];
    for (option, result) in cases {
        match result {
            Err(Error::InvalidOption { option: o, .. }) => assert_eq!(o, option),
            other => panic!("{option}: {other:?}"),
        }
    }
    assert!(wstether::config::duration_from_secs("interval", -1.0).is_err());
    assert!(wstether::config::duration_from_millis("interval", f64::INFINITY).is_err());
}

#[tokio::test]
async fn close_arguments_send_after_close_and_close_twice() {
    let server = TestServer::start().await.unwrap();
    let client = builder(&server.url()).build().unwrap();
    let mut events = client.events().unwrap();
    assert_eq!(client.events().unwrap_err(), Error::EventsTaken);
    client.connect().unwrap();
    wait_open(&mut events, ms(3000)).await;
    assert_eq!(
        client.close(1006, "").await,
        Err(Error::InvalidCloseCode(1006))
    );
    assert_eq!(
        client.close(1000, &"x".repeat(124)).await,
        Err(Error::CloseReasonTooLong(124))
    );
    assert_eq!(
        client.state(),
        State::Open,
        "rejected close arguments change nothing"
    );

    assert!(client.close(1000, "bye").await.unwrap().is_empty());
    assert_eq!(client.state(), State::Closed);
    assert!(
        client.close(1000, "again").await.unwrap().is_empty(),
        "second close is a no-op"
    );
    assert_eq!(client.send_text("late"), Err(Error::Closed));
    assert_eq!(client.connect(), Err(Error::Closed));
    assert_eq!(client.pause(), Err(Error::Closed));
    let rest = drain(&mut events, ms(2000)).await;
    assert!(matches!(
        rest.last(),
        Some(Event::StateChanged {
            state: State::Closed
        })
    ));
}

#[tokio::test]
async fn close_before_connect_returns_the_queue() {
    let client = builder("ws://127.0.0.1:9/").build().unwrap();
    client.send_text("a").unwrap();
    let unsent = client.close(1000, "").await.unwrap();
    assert_eq!(unsent.len(), 1);
    assert_eq!(client.state(), State::Closed);
}

#[test]
fn dropping_a_client_leaves_no_task_and_no_socket() {
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let server = server_rt.block_on(TestServer::start()).unwrap();
    // The client gets a runtime of its own so its tasks can be counted.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for connect in [false, true] {
        let client = builder(&server.url())
            .runtime(client_rt.handle().clone())
            .build()
            .unwrap();
        let events = client.events().unwrap();
        if connect {
            client.connect().unwrap();
            client_rt.block_on(async {
                let mut events = events;
                wait_open(&mut events, ms(3000)).await;
            });
            assert!(server_rt.block_on(server.wait_connections(1, ms(2000))));
        }
        assert_eq!(client_rt.metrics().num_alive_tasks(), 1);
        let clone = client.clone();
        drop(client);
        assert_eq!(
            client_rt.metrics().num_alive_tasks(),
            1,
            "a live clone keeps it running"
        );
        drop(clone);
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while client_rt.metrics().num_alive_tasks() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "client's task survived the drop"
            );
            std::thread::sleep(ms(10));
        }
        assert!(
            server_rt.block_on(server.wait_connections(0, ms(2000))),
            "socket survived the drop"
        );
    }
    let codes = server.stats().close_codes;
    assert_eq!(codes, [1001], "drop closes with 1001 going away");
}

#[tokio::test]
async fn oversized_inbound_message_closes_1009_and_reconnects() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = open(builder(&server.url()).max_message_size(1024)).await;
    client.send_text("!big 4096").unwrap();
    let (closed, seen) =
        wait_for(&mut events, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    assert!(
        matches!(
            closed,
            Event::Closed {
                code: 1009,
                will_reconnect: true,
                ..
            }
        ),
        "{closed:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, Event::Error { .. })),
        "{seen:?}"
    );
    wait_open(&mut events, ms(3000)).await;
    client.close(1000, "").await.unwrap();
}
