//! The upgrade as the client writes and reads it: subprotocol answers, bytes behind the `101`,
//! and servers that answer badly or too slowly.

mod common;

use common::*;
use tokio::io::AsyncWriteExt;
use wstether::{Cause, Event, State};
use wstether_testkit::{ServerConfig, TestServer};

#[tokio::test]
async fn a_frame_sent_with_the_101_is_delivered() {
    let url = raw_server(|mut tcp, key| async move {
        let mut out = switching(&key).into_bytes();
        // An unmasked text frame (server to client) in the same write as the response.
        out.extend_from_slice(&[0x81, 7]);
        out.extend_from_slice(b"welcome");
        tcp.write_all(&out).await.unwrap();
        hold(tcp).await;
    })
    .await;
    let (client, mut events) = start(builder(&url).heartbeat(None));
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    match ev {
        Event::Message(m) => assert_eq!(m.as_text(), Some("welcome")),
        _ => unreachable!(),
    }
    drop(client);
}

#[tokio::test]
async fn a_server_that_selects_no_subprotocol_opens_without_one() {
    // The testkit server accepts no subprotocol, like a plain echo server.
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = start(builder(&server.url()).protocols(["chat.v2"]));
    let (open, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Open { .. })).await;
    assert!(
        matches!(open, Event::Open { protocol: None, .. }),
        "{open:?}"
    );
    client.send_text("hi").unwrap();
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    assert!(matches!(ev, Event::Message(m) if m.as_text() == Some("hi")));
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_required_subprotocol_the_server_does_not_select_is_terminal() {
    let server = TestServer::start_with(ServerConfig {
        protocols: vec!["other".into()],
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let (client, mut events) = start(
        builder(&server.url())
            .protocols(["chat.v2", "chat.v1"])
            .require_protocol(true),
    );
    let all = drain(&mut events, ms(3000)).await;
    match all.last() {
        Some(Event::Failed {
            reason: Cause::Incompatible(why),
            ..
        }) => assert!(why.contains("chat.v2, chat.v1"), "{why}"),
        other => panic!("expected Failed(Incompatible), got {other:?}"),
    }
    assert_eq!(client.state(), State::Failed);
    assert_eq!(client.stats().attempts, 1, "retrying cannot help");
}

#[tokio::test]
async fn oversized_response_headers_are_named_as_such() {
    let url = raw_server(|mut tcp, _key| async move {
        let mut head = b"HTTP/1.1 101 Switching Protocols\r\nX-Padding: ".to_vec();
        head.resize(1 << 20, b'a');
        let _ = tcp.write_all(&head).await;
        hold(tcp).await;
    })
    .await;
    let (client, mut events) = start(builder(&url).max_retries(Some(0)));
    let all = drain(&mut events, ms(5000)).await;
    let text = format!("{all:?}");
    assert!(text.contains("response headers over 64 KiB"), "{text}");
    drop(client);
}

#[tokio::test]
async fn a_server_that_trickles_its_answer_is_too_slow() {
    // One byte every 50 ms: a complete head would take seconds; connect_timeout is 400 ms.
    let url = raw_server(|mut tcp, key| async move {
        for byte in switching(&key).into_bytes() {
            if tcp.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(ms(50)).await;
        }
        hold(tcp).await;
    })
    .await;
    let (client, mut events) = start(builder(&url).connect_timeout(ms(400)).max_retries(Some(0)));
    let all = drain(&mut events, ms(5000)).await;
    match all.last() {
        Some(Event::Failed { reason, .. }) => {
            let text = reason.to_string();
            assert!(text.contains("handshake too slow"), "{text}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    drop(client);
}
