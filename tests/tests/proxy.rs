//! The fault proxy in front of the test server, driven by a plain tokio-tungstenite client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wstether_testkit::{FaultProxy, ProxyMode, TestServer};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const T: Duration = Duration::from_secs(5);

async fn setup() -> (TestServer, FaultProxy) {
    let server = TestServer::start().await.unwrap();
    let target = SocketAddr::from(([127, 0, 0, 1], server.port()));
    let proxy = FaultProxy::start(target).await.unwrap();
    (server, proxy)
}

async fn connect(url: &str) -> Ws {
    tokio::time::timeout(T, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect in time")
        .expect("connect")
        .0
}

async fn echo(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
    loop {
        match tokio::time::timeout(T, ws.next())
            .await
            .expect("echo in time")
        {
            Some(Ok(Message::Text(t))) => return assert_eq!(t.as_str(), text),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected the echo, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn pass_forwards_both_ways() {
    let (server, proxy) = setup().await;
    assert_eq!(proxy.url(), format!("ws://127.0.0.1:{}/", proxy.port()));
    let mut ws = connect(&proxy.url()).await;
    echo(&mut ws, "through the proxy").await;
    ws.send(Message::text("!blast 5000 64")).await.unwrap();
    let mut n = 0;
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Text(t) = m {
            if t.as_str() == "!blast-done" {
                break;
            }
            assert!(t.as_str().starts_with(&format!("{n}:")));
            n += 1;
        }
    }
    assert_eq!(n, 5000);
    assert!(proxy.wait_live(1, T).await);
    assert_eq!(proxy.stats().accepted, 1);

    // A client close travels through and both sides end.
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    drop(ws);
    assert!(proxy.wait_live(0, T).await);
    assert!(server.wait_connections(0, T).await);
}

#[tokio::test]
async fn blackhole_swallows_everything_but_keeps_tcp() {
    let (server, proxy) = setup().await;
    let mut ws = connect(&proxy.url()).await;
    echo(&mut ws, "before").await;

    proxy.set_mode(ProxyMode::Blackhole).await;
    ws.send(Message::Ping("anyone?".into())).await.unwrap();
    ws.send(Message::text("lost")).await.unwrap();
    let silent = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(silent.is_err(), "blackhole let through {silent:?}");
    assert_eq!(proxy.stats().live, 1, "TCP stays up");
    assert_eq!(server.stats().live, 1);
    assert_eq!(server.stats().received, vec!["before"]);

    // New connections are accepted but their handshake goes nowhere.
    let mut tcp = TcpStream::connect(("127.0.0.1", proxy.port()))
        .await
        .unwrap();
    assert!(proxy.wait_live(2, T).await);
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"GET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();

    // Back to pass: the old link stays dead, a new one works.
    proxy.set_mode(ProxyMode::Pass).await;
    let mut fresh = connect(&proxy.url()).await;
    echo(&mut fresh, "after").await;
    let silent = tokio::time::timeout(Duration::from_millis(100), ws.next()).await;
    assert!(silent.is_err(), "old link came back: {silent:?}");

    // When a client abandons a blackholed link, its server side ends too.
    drop(ws);
    drop(tcp);
    assert!(proxy.wait_live(1, T).await);
    assert!(server.wait_connections(1, T).await);
}

#[tokio::test]
async fn reset_kills_live_and_new_connections() {
    let (_server, proxy) = setup().await;
    let mut ws = connect(&proxy.url()).await;
    echo(&mut ws, "hi").await;
    proxy.set_mode(ProxyMode::Reset).await;
    match tokio::time::timeout(T, ws.next()).await.unwrap() {
        Some(Err(WsError::Io(e))) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}")
        }
        other => panic!("expected a reset, got {other:?}"),
    }
    assert!(proxy.wait_live(0, T).await);
    let err = tokio_tungstenite::connect_async(proxy.url())
        .await
        .unwrap_err();
    assert!(matches!(err, WsError::Io(_)), "{err:?}");
    proxy.set_mode(ProxyMode::Pass).await;
    let mut ws = connect(&proxy.url()).await;
    echo(&mut ws, "recovered").await;
}

#[tokio::test(flavor = "current_thread")]
async fn refuse_closes_the_port_and_rebinds_it() {
    let (_server, proxy) = setup().await;
    let mut ws = connect(&proxy.url()).await;
    echo(&mut ws, "hi").await;
    proxy.set_mode(ProxyMode::Refuse).await;
    match tokio::time::timeout(T, ws.next()).await.unwrap() {
        Some(Err(_)) | None => {}
        other => panic!("expected the link to drop, got {other:?}"),
    }
    let err = TcpStream::connect(("127.0.0.1", proxy.port()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    proxy.set_mode(ProxyMode::Pass).await;
    let mut ws = connect(&proxy.url()).await;
    echo(&mut ws, "back").await;
    assert!(proxy.wait_live(1, T).await);
    assert_eq!(proxy.stats().accepted, 2);
}

#[tokio::test]
async fn delay_holds_each_chunk() {
    let (_server, proxy) = setup().await;
    let mut ws = connect(&proxy.url()).await;
    proxy
        .set_mode(ProxyMode::Delay(Duration::from_millis(100)))
        .await;
    let started = Instant::now();
    echo(&mut ws, "slow").await;
    // One chunk each way.
    assert!(started.elapsed() >= Duration::from_millis(200));
}
