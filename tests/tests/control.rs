//! `wstether-testd` end to end: spawn the binary, read its port line, drive it
//! over hand-written HTTP like the other languages' suites do.

use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const T: Duration = Duration::from_secs(5);

struct Daemon {
    child: Child,
    port: u16,
}

async fn spawn_daemon() -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wstether-testd"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn wstether-testd");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(T, BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("port line in time")
        .unwrap();
    let v: Value = serde_json::from_str(&line).expect("port line is JSON");
    let port = v["control"].as_u64().expect("control port") as u16;
    Daemon { child, port }
}

/// A minimal HTTP request: returns the status and the JSON body.
async fn call(port: u16, method: &str, path: &str) -> (u16, Value) {
    let exchange = async {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let req =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await.unwrap();
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("control answer in time");
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("response head");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).expect("JSON body"))
}

async fn get(port: u16, path: &str) -> Value {
    let (status, v) = call(port, "GET", path).await;
    assert_eq!(status, 200, "{path} → {v}");
    v
}

#[tokio::test]
async fn control_api_end_to_end() {
    let mut d = spawn_daemon().await;
    let p = d.port;

    let s = get(p, "/server/start?protocols=chat,v2&token=tok").await;
    let sid = s["id"].as_u64().unwrap();
    let sport = s["port"].as_u64().unwrap();
    assert_eq!(s["url"], format!("ws://127.0.0.1:{sport}/"));

    // Token required: 401 without it.
    let url = s["url"].as_str().unwrap().to_owned();
    let err = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    assert!(
        matches!(err, WsError::Http(ref r) if r.status() == 401),
        "{err:?}"
    );
    let (status, _) = call(p, "POST", &format!("/server/{sid}/token")).await;
    assert_eq!(status, 200);

    // Scripted rejection with Retry-After.
    get(
        p,
        &format!("/server/{sid}/reject?count=1&status=503&retry_after=2"),
    )
    .await;
    match tokio_tungstenite::connect_async(&url).await.unwrap_err() {
        WsError::Http(r) => {
            assert_eq!(r.status(), 503);
            assert_eq!(r.headers()["retry-after"], "2");
        }
        other => panic!("expected 503, got {other:?}"),
    }

    // Echo and stats.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(
        get(
            p,
            &format!("/server/{sid}/wait_connections?n=1&timeout_ms=5000")
        )
        .await,
        serde_json::json!({ "ok": true })
    );
    ws.send(Message::text("hi")).await.unwrap();
    assert!(get(
        p,
        &format!("/server/{sid}/wait_received?n=1&timeout_ms=5000")
    )
    .await["ok"]
        .as_bool()
        .unwrap());
    let stats = get(p, &format!("/server/{sid}/stats")).await;
    assert_eq!(stats["received"], serde_json::json!(["hi"]));
    assert_eq!(stats["handshakes"], 1);
    assert_eq!(stats["rejected"], 2);
    assert_eq!(stats["live"], 1);
    assert_eq!(stats["handshake_times_ms"].as_array().unwrap().len(), 3);

    // Close all with a code (reason percent-encoded).
    get(
        p,
        &format!("/server/{sid}/close_all?code=1012&reason=service%20restart"),
    )
    .await;
    let close = loop {
        match tokio::time::timeout(T, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(f)))) => break f,
            Some(Ok(_)) => continue,
            other => panic!("expected close, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1012);
    assert_eq!(close.reason.as_str(), "service restart");
    drop(ws);

    // A proxy in front of it.
    let px = get(p, &format!("/proxy/start?target_port={sport}")).await;
    let pid = px["id"].as_u64().unwrap();
    let (_ws, _) = tokio_tungstenite::connect_async(px["url"].as_str().unwrap())
        .await
        .unwrap();
    assert!(
        get(p, &format!("/proxy/{pid}/wait_live?n=1&timeout_ms=5000")).await["ok"]
            .as_bool()
            .unwrap()
    );
    get(p, &format!("/proxy/{pid}/mode?mode=delay&delay_ms=20")).await;
    get(p, &format!("/proxy/{pid}/mode?mode=blackhole")).await;
    let ps = get(p, &format!("/proxy/{pid}/stats")).await;
    assert_eq!(
        (ps["accepted"].as_u64(), ps["live"].as_u64()),
        (Some(1), Some(1))
    );

    // TLS server hands out its CA.
    let t = get(p, "/server/start?tls=1").await;
    assert!(t["url"].as_str().unwrap().starts_with("wss://localhost:"));
    assert!(t["ca_pem"].as_str().unwrap().contains("BEGIN CERTIFICATE"));

    // Errors.
    let (status, v) = call(p, "GET", "/nowhere").await;
    assert_eq!(status, 404);
    assert!(v["error"].is_string());
    assert_eq!(call(p, "GET", "/server/99/stats").await.0, 404);
    assert_eq!(
        call(p, "GET", &format!("/server/{sid}/reject?status=abc"))
            .await
            .0,
        400
    );
    assert_eq!(
        call(p, "GET", &format!("/proxy/{pid}/mode?mode=sideways"))
            .await
            .0,
        400
    );
    assert_eq!(
        call(p, "GET", &format!("/server/{sid}/wait_connections"))
            .await
            .0,
        400
    );

    // Shutdown ends the process.
    get(p, "/shutdown").await;
    let status = tokio::time::timeout(T, d.child.wait())
        .await
        .expect("exit after /shutdown")
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn exits_when_stdin_closes() {
    let mut d = spawn_daemon().await;
    get(d.port, "/server/start").await;
    let mut stdin = d.child.stdin.take().unwrap();
    stdin.shutdown().await.unwrap();
    drop(stdin);
    let status = tokio::time::timeout(T, d.child.wait())
        .await
        .expect("exit after stdin EOF")
        .unwrap();
    assert!(status.success());
}
