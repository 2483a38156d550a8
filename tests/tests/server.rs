//! The test server, driven by a plain tokio-tungstenite client.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wstether_testkit::{ServerConfig, TestServer};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const T: Duration = Duration::from_secs(5);

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("connect")
        .0
}

/// Next message other than Ping/Pong, with a deadline.
async fn next(ws: &mut Ws) -> Option<Result<Message, WsError>> {
    loop {
        let m = tokio::time::timeout(T, ws.next())
            .await
            .expect("no message in time");
        match m {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => return other,
        }
    }
}

async fn next_text(ws: &mut Ws) -> String {
    match next(ws).await {
        Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Expects a close frame, then reads on (which sends tungstenite's reply) until the end.
async fn expect_close(ws: &mut Ws) -> (u16, String) {
    let got = match next(ws).await {
        Some(Ok(Message::Close(Some(f)))) => (u16::from(f.code), f.reason.as_str().to_owned()),
        other => panic!("expected close, got {other:?}"),
    };
    while let Some(Ok(_)) = next(ws).await {}
    got
}

fn http_status(err: WsError) -> (u16, Option<String>) {
    match err {
        WsError::Http(resp) => (
            resp.status().as_u16(),
            resp.headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().to_owned()),
        ),
        other => panic!("expected an HTTP rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn echo_text_and_binary() {
    let server = TestServer::start().await.unwrap();
    assert_eq!(server.url(), format!("ws://127.0.0.1:{}/", server.port()));
    let mut ws = connect(&server.url()).await;
    assert!(server.wait_connections(1, T).await);
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "hello");
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    match next(&mut ws).await {
        Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], &[1, 2, 3]),
        other => panic!("expected binary, got {other:?}"),
    }
    assert!(server.wait_received(2, T).await);
    let stats = server.stats();
    assert_eq!(stats.received, vec!["hello", "bin:3"]);
    assert_eq!(stats.handshakes, 1);
    assert_eq!(stats.live, 1);
    server.clear_received();
    assert!(server.stats().received.is_empty());

    ws.close(None).await.unwrap();
    assert!(server.wait_connections(0, T).await);
    assert_eq!(server.stats().close_codes, vec![1005]);
}

/// Blast frames are written by the server itself: every header size is right, and a close
/// ordered in the middle of a large frame still comes after whole frames.
#[tokio::test]
async fn blast_frames_of_every_header_size_and_a_close_mid_frame() {
    let server = Arc::new(TestServer::start().await.unwrap());
    let mut ws = connect(&server.url()).await;
    for size in [3, 125, 126, 65_535, 65_536, 200_000] {
        ws.send(Message::text(format!("!blast 3 {size}")))
            .await
            .unwrap();
        for i in 0..3 {
            let t = next_text(&mut ws).await;
            assert_eq!(t.len(), size.max(2), "message {i} of size {size}");
            assert!(
                t.starts_with(&format!("{i}:")),
                "message {i} of size {size}"
            );
        }
        assert_eq!(next_text(&mut ws).await, "!blast-done");
    }
    // 64 MiB the client does not read yet: the server's write stops inside a frame.
    ws.send(Message::text("!blast 1000 65536")).await.unwrap();
    assert!(next_text(&mut ws).await.starts_with("0:"));
    let closer = server.clone();
    let closing = tokio::spawn(async move { closer.close_all(4000, "bye").await });
    let mut i = 1;
    loop {
        match next(&mut ws).await {
            Some(Ok(Message::Text(t))) => {
                assert_eq!(t.len(), 65_536, "message {i}");
                assert!(t.starts_with(&format!("{i}:")), "message {i}");
                i += 1;
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 4000);
                break;
            }
            other => panic!("after {i} messages: {other:?}"),
        }
    }
    assert!(i < 1000, "the close came after the whole blast");
    let _ = tokio::time::timeout(T, ws.next()).await;
    tokio::time::timeout(T, closing).await.unwrap().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn blast_is_ordered_and_not_recorded() {
    let server = TestServer::start().await.unwrap();
    let mut ws = connect(&server.url()).await;
    ws.send(Message::text("!blast 2000 64")).await.unwrap();
    for i in 0..2000 {
        let t = next_text(&mut ws).await;
        assert_eq!(t.len(), 64);
        assert!(t.starts_with(&format!("{i}:")), "message {i} was {t}");
        assert!(t.ends_with('x'));
    }
    assert_eq!(next_text(&mut ws).await, "!blast-done");
    ws.send(Message::text("!big 100000")).await.unwrap();
    assert_eq!(next_text(&mut ws).await.len(), 100_000);
    ws.send(Message::text("!nonsense")).await.unwrap();
    assert!(next_text(&mut ws).await.starts_with("!error"));
    assert!(server.stats().received.is_empty());
}

#[tokio::test]
async fn token_required() {
    let server = TestServer::start().await.unwrap();
    server.set_token(Some("s3cret"));
    let err = tokio_tungstenite::connect_async(server.url())
        .await
        .unwrap_err();
    assert_eq!(http_status(err).0, 401);

    let mut req = server.url().into_client_request().unwrap();
    req.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer wrong"),
    );
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert_eq!(http_status(err).0, 401);

    let mut req = server.url().into_client_request().unwrap();
    req.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer s3cret"),
    );
    let _ws = tokio_tungstenite::connect_async(req).await.unwrap();
    let stats = server.stats();
    assert_eq!(stats.rejected, 2);
    assert_eq!(stats.handshakes, 1);
    assert_eq!(
        stats.auth_headers,
        vec![
            None,
            Some("Bearer wrong".to_owned()),
            Some("Bearer s3cret".to_owned())
        ]
    );
    assert_eq!(stats.handshake_times_ms.len(), 3);
}

#[tokio::test]
async fn reject_with_retry_after() {
    let server = TestServer::start().await.unwrap();
    server.reject_next(2, 503, Some(2));
    for _ in 0..2 {
        let err = tokio_tungstenite::connect_async(server.url())
            .await
            .unwrap_err();
        assert_eq!(http_status(err), (503, Some("2".to_owned())));
    }
    let _ws = connect(&server.url()).await;

    server.reject_next(u32::MAX, 429, None);
    for _ in 0..3 {
        let err = tokio_tungstenite::connect_async(server.url())
            .await
            .unwrap_err();
        assert_eq!(http_status(err), (429, None));
    }
    server.clear_reject();
    let _ws2 = connect(&server.url()).await;
    let stats = server.stats();
    assert_eq!((stats.rejected, stats.handshakes), (5, 2));
}

#[tokio::test]
async fn subprotocol_selection() {
    let server = TestServer::start_with(ServerConfig {
        protocols: vec!["v2".into(), "v1".into()],
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let mut req = server.url().into_client_request().unwrap();
    req.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static("v0, v1, v2"),
    );
    let (_ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers().get(header::SEC_WEBSOCKET_PROTOCOL).unwrap(),
        "v1"
    );
    let _plain = connect(&server.url()).await;
    assert_eq!(
        server.stats().protocols,
        vec![Some("v0, v1, v2".to_owned()), None]
    );
}

#[tokio::test]
async fn close_codes_both_ways() {
    let server = TestServer::start().await.unwrap();

    let mut ws = connect(&server.url()).await;
    ws.send(Message::text("!close 4001 going away now"))
        .await
        .unwrap();
    assert_eq!(
        expect_close(&mut ws).await,
        (4001, "going away now".to_owned())
    );

    let mut a = connect(&server.url()).await;
    let mut b = connect(&server.url()).await;
    assert!(server.wait_connections(2, T).await);
    server.close_all(1012, "restart").await;
    assert_eq!(expect_close(&mut a).await, (1012, "restart".to_owned()));
    assert_eq!(expect_close(&mut b).await, (1012, "restart".to_owned()));
    assert!(server.wait_connections(0, T).await);

    let mut c = connect(&server.url()).await;
    c.close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    assert!(server.wait_connections(0, T).await);
    // The client echoed the server's codes while closing, then sent its own 1001.
    assert_eq!(server.stats().close_codes, vec![4001, 1012, 1012, 1001]);
}

#[tokio::test]
async fn close_on_open_and_drop_all() {
    let server = TestServer::start().await.unwrap();
    server.set_close_on_open(Some((4000, "not now".into())));
    let mut ws = connect(&server.url()).await;
    assert_eq!(expect_close(&mut ws).await, (4000, "not now".to_owned()));
    server.set_close_on_open(None);

    let mut ws = connect(&server.url()).await;
    assert!(server.wait_connections(1, T).await);
    server.drop_all().await;
    match next(&mut ws).await {
        Some(Err(_)) | None => {}
        other => panic!("expected an abrupt end, got {other:?}"),
    }
    assert_eq!(server.stats().live, 0);
}

#[tokio::test]
async fn hung_server_answers_nothing() {
    let server = TestServer::start().await.unwrap();
    let mut ws = connect(&server.url()).await;
    ws.send(Message::Ping("a".into())).await.unwrap();
    match tokio::time::timeout(T, ws.next()).await.unwrap() {
        Some(Ok(Message::Pong(p))) => assert_eq!(&p[..], b"a"),
        other => panic!("expected pong, got {other:?}"),
    }
    server.set_answer_pings(false);
    ws.send(Message::Ping("b".into())).await.unwrap();
    ws.send(Message::text("echo?")).await.unwrap();
    let silent = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(silent.is_err(), "hung server sent {silent:?}");
    // A connection opened while hung completes its handshake but stays silent too.
    let mut fresh = connect(&server.url()).await;
    fresh.send(Message::Ping("c".into())).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), fresh.next())
            .await
            .is_err()
    );
    assert!(server.wait_connections(2, T).await);

    server.set_answer_pings(true);
    match next(&mut ws).await {
        Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), "echo?"),
        other => panic!("expected the echo after resuming, got {other:?}"),
    }
    assert!(server.stats().pings >= 2);
}

#[tokio::test]
async fn stop_refuses_then_restart_same_port() {
    let server = TestServer::start().await.unwrap();
    let port = server.port();
    let mut ws = connect(&server.url()).await;
    assert!(server.wait_connections(1, T).await);
    server.stop(Some(1012)).await;
    assert_eq!(expect_close(&mut ws).await.0, 1012);
    let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(server.stats().live, 0);

    server.set_token(Some("kept"));
    server.restart().await.unwrap();
    assert_eq!(server.port(), port);
    let err = tokio_tungstenite::connect_async(server.url())
        .await
        .unwrap_err();
    assert_eq!(http_status(err).0, 401, "settings survive a restart");
    server.set_token(None);
    let mut ws = connect(&server.url()).await;
    ws.send(Message::text("again")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "again");

    server.stop(None).await;
    match next(&mut ws).await {
        Some(Err(_)) | None => {}
        other => panic!("expected an abrupt end, got {other:?}"),
    }
}

#[tokio::test]
async fn tls_echo() {
    let (server, ca_pem) = TestServer::start_tls().await.unwrap();
    assert_eq!(server.url(), format!("wss://localhost:{}/", server.port()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async_tls_with_config(
        server.url(),
        tcp,
        None,
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(config))),
    )
    .await
    .unwrap();
    ws.send(Message::text("secure")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "secure");
}

#[tokio::test]
async fn dropping_the_server_ends_its_connections() {
    let server = TestServer::start().await.unwrap();
    let port = server.port();
    let mut ws = connect(&server.url()).await;
    assert!(server.wait_connections(1, T).await);
    drop(server);
    match next(&mut ws).await {
        Some(Err(_)) | None => {}
        other => panic!("expected the connection to end, got {other:?}"),
    }
    // The listener is gone too (the accept task is aborted on drop).
    let deadline = tokio::time::Instant::now() + T;
    while TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "port still open");
        tokio::task::yield_now().await;
    }
}
