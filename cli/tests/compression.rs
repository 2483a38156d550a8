//! `--no-compression`, `--window-bits` and `--require-protocol` for `connect` and `probe`,
//! against python-websockets (which negotiates permessage-deflate by default) and the testkit
//! (which selects no subprotocol unless configured to).

mod common;

use common::*;
use serde_json::Value;
use wstether_testkit::python_echo::PythonEcho;
use wstether_testkit::TestServer;

async fn probe_json(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = run_to_end(args, ms(10_000)).await;
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?} {err}"));
    (code, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_shows_the_negotiated_extension_and_echoes_large_messages() {
    let echo = PythonEcho::start();
    let url = format!("{}/", echo.url);
    let mut run = Run::start(&["connect", &url]);
    let open = run
        .stderr_until(ms(5000), |l| l.contains("open: handshake 101"))
        .await;
    assert!(open.contains("compression permessage-deflate"), "{open}");
    let big = format!(
        "[{}]",
        (0..1500)
            .map(|i| format!(r#"{{"id":{i},"symbol":"ABC","side":"buy"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    run.send_line(&big).await;
    let got = run.stdout_until(ms(5000), |l| l.starts_with('[')).await;
    assert_eq!(got, big);
    run.close_stdin();
    let (status, _, err) = run.finish(ms(5000)).await;
    assert!(status.success(), "{err:?}");

    // --no-compression offers nothing: the link opens uncompressed.
    let mut run = Run::start(&["connect", &url, "--no-compression", "--json"]);
    let open = run.json_event(ms(5000), "open").await;
    assert_eq!(open["compression"], Value::Null, "{open}");
    run.close_stdin();
    run.finish(ms(5000)).await;

    // --window-bits sets both windows (within the core's limits).
    let mut run = Run::start(&["connect", &url, "--window-bits", "10", "--json"]);
    let open = run.json_event(ms(5000), "open").await;
    let agreed = open["compression"].as_str().unwrap_or_default().to_string();
    assert!(agreed.starts_with("permessage-deflate"), "{open}");
    assert!(agreed.contains("=10"), "{agreed}");
    run.close_stdin();
    run.finish(ms(5000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_compression() {
    let echo = PythonEcho::start();
    let url = format!("{}/", echo.url);
    let (code, r) = probe_json(&["probe", &url, "--json"]).await;
    assert_eq!(code, 0, "{r}");
    assert!(
        r["compression"]
            .as_str()
            .is_some_and(|c| c.starts_with("permessage-deflate")),
        "{r}"
    );
    let (code, r) = probe_json(&["probe", &url, "--no-compression", "--json"]).await;
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["compression"], Value::Null);
    let (code, out, _) = run_to_end(&["probe", &url], ms(10_000)).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("compression  permessage-deflate"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_window_bits_are_usage_errors() {
    for bits in ["8", "16"] {
        let (code, _, err) = run_to_end(
            &["connect", "ws://127.0.0.1:9/", "--window-bits", bits],
            ms(5000),
        )
        .await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("window_bits"), "{err}");
        assert!(err.contains("15"), "names the limit: {err}");
    }
    let (code, _, err) = run_to_end(
        &["probe", "ws://127.0.0.1:9/", "--window-bits", "300"],
        ms(5000),
    )
    .await;
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_to_end(
        &[
            "connect",
            "ws://127.0.0.1:9/",
            "--no-compression",
            "--window-bits",
            "12",
        ],
        ms(5000),
    )
    .await;
    assert_eq!(code, 2, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_protocol_fails_when_the_server_selects_none() {
    let server = TestServer::start().await.unwrap();
    let url = server.url();
    // Without it, the link opens with no subprotocol.
    let mut run = Run::start(&["connect", &url, "-p", "chat"]);
    let open = run
        .stderr_until(ms(5000), |l| l.contains("open: handshake 101"))
        .await;
    assert!(open.contains("subprotocol (none)"), "{open}");
    run.close_stdin();
    run.finish(ms(5000)).await;

    // With it, connect gives up (exit 1) without retrying, and says which were offered.
    let (code, _, err) = run_to_end(
        &["connect", &url, "-p", "chat", "--require-protocol"],
        ms(10_000),
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("chat"), "{err}");
    assert!(!err.contains("open: handshake 101"), "{err}");

    let (code, r) =
        probe_json(&["probe", &url, "-p", "chat", "--require-protocol", "--json"]).await;
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["healthy"], false);

    // It needs a --protocol to require.
    let (code, _, err) = run_to_end(&["connect", &url, "--require-protocol"], ms(5000)).await;
    assert_eq!(code, 2, "{err}");
}
