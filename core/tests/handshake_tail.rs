//! Bytes a server sends right behind its `101` response, in the same write, are the first
//! frame: the upgrade must not swallow them.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use wstether::Event;

/// A minimal server on 127.0.0.1: answers one upgrade with the 101 and a text frame in a
/// single write, then keeps the connection open.
async fn greeting_server(greeting: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "client hung up during the upgrade");
            request.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&request);
        let key = text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_string())
            })
            .expect("upgrade request without a key");
        let mut out = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        )
        .into_bytes();
        // An unmasked text frame (server to client), payload under 126 bytes.
        out.push(0x81);
        out.push(greeting.len() as u8);
        out.extend_from_slice(greeting.as_bytes());
        tcp.write_all(&out).await.unwrap();
        // Hold the link until the client goes away.
        let _ = tcp.read(&mut buf).await;
    });
    (url, task)
}

#[tokio::test]
async fn a_frame_sent_with_the_101_is_delivered() {
    let (url, _server) = greeting_server("welcome").await;
    let (client, mut events) = start(builder(&url).heartbeat(None));
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    match ev {
        Event::Message(m) => assert_eq!(m.as_text(), Some("welcome")),
        _ => unreachable!(),
    }
    drop(client);
}
