//! `wstether probe` exit codes and report, TLS details, and `wstether demo` as a smoke test.

mod common;

use common::*;
use serde_json::Value;
use wstether_testkit::{ServerConfig, TestServer};

async fn probe_json(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = run_to_end(args, ms(10_000)).await;
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?} {err}"));
    assert_eq!(report["exit_code"], code, "{report}");
    (code, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_endpoint_exits_0() {
    let server = TestServer::start_with(ServerConfig {
        protocols: vec!["chat".into()],
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.url();
    let (code, r) = probe_json(&["probe", &url, "--protocol", "chat", "--json"]).await;
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["healthy"], true);
    assert_eq!(r["status"], 101);
    assert_eq!(r["protocol"], "chat");
    assert_eq!(r["headers"]["upgrade"], "websocket");
    assert_eq!(r["answers_pings"], true);
    let pings = r["pings_ms"].as_array().unwrap();
    assert_eq!(pings.len(), 3);
    assert!(pings.iter().all(Value::is_number), "{r}");
    assert!(server.stats().pings >= 3);
    assert!(server.wait_connections(0, ms(3000)).await);
    assert_eq!(
        server.stats().close_codes,
        [1000],
        "the probe closes politely"
    );

    // The human report says the same.
    let (code, out, _) = run_to_end(&["probe", &url], ms(5000)).await;
    assert_eq!(code, 0);
    assert!(out.contains("HTTP 101 Switching Protocols"), "{out}");
    assert!(out.contains("3/3 answered"), "{out}");
    assert!(out.contains("verdict      healthy"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_endpoints_exit_non_zero() {
    // A hung server: the upgrade works, pings go unanswered.
    let server = TestServer::start().await.unwrap();
    server.set_answer_pings(false);
    let url = server.url();
    let (code, r) = probe_json(&[
        "probe",
        &url,
        "--pings",
        "2",
        "--ping-timeout",
        "200ms",
        "--json",
    ])
    .await;
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["status"], 101);
    assert_eq!(r["answers_pings"], false);
    assert_eq!(r["pings_ms"], serde_json::json!([null, null]));
    assert!(
        r["verdict"]
            .as_str()
            .unwrap()
            .contains("does not answer pings"),
        "{r}"
    );

    // An overloaded server: 503 with Retry-After.
    server.set_answer_pings(true);
    server.reject_next(1, 503, Some(7));
    let (code, r) = probe_json(&["probe", &url, "--json"]).await;
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["status"], 503);
    assert_eq!(r["headers"]["retry-after"], "7");
    assert_eq!(r["failure"]["kind"], "handshake_rejected");
    assert_eq!(r["failure"]["retry_after_ms"], 7000.0);

    // Credentials: a 401 without a token, healthy with one from --auth-cmd (never printed).
    server.set_token(Some("probe-token-9876"));
    let (code, r) = probe_json(&["probe", &url, "--json"]).await;
    assert_eq!((code, r["status"].as_u64()), (1, Some(401)), "{r}");
    let (code, out, err) = run_to_end(
        &["probe", &url, "--auth-cmd", "echo probe-token-9876"],
        ms(5000),
    )
    .await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(!out.contains("probe-token-9876") && !err.contains("probe-token-9876"));

    // Nothing listening: exit 3.
    let dead = format!("ws://127.0.0.1:{}/", closed_port());
    let (code, r) = probe_json(&["probe", &dead, "--json"]).await;
    assert_eq!(code, 3, "{r}");
    assert_eq!(r["failure"]["kind"], "connect_failed");
    assert_eq!(r["address"], Value::Null);
    assert!(
        r["hint"]
            .as_str()
            .unwrap()
            .contains("is the server running"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_probe_reports_version_and_certificate() {
    let (server, ca_pem) = TestServer::start_tls().await.unwrap();
    let dir = scratch_dir("tls");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let url = server.url();
    assert!(url.starts_with("wss://localhost:"), "{url}");
    let ca_arg = ca.display().to_string();

    let (code, r) = probe_json(&["probe", &url, "--ca-file", &ca_arg, "--json"]).await;
    assert_eq!(code, 0, "{r}");
    let tls = &r["tls"];
    assert!(
        tls["version"].as_str().unwrap().starts_with("TLSv1."),
        "{r}"
    );
    assert!(tls["cipher_suite"].is_string(), "{r}");
    assert_eq!(tls["verify_error"], Value::Null);
    let leaf = &tls["certificates"][0];
    assert!(
        leaf["subject"].as_str().unwrap().contains("localhost"),
        "{r}"
    );
    assert!(
        leaf["issuer"]
            .as_str()
            .unwrap()
            .contains("wstether-testkit CA"),
        "{r}"
    );
    assert!(
        leaf["names"]
            .as_array()
            .unwrap()
            .contains(&Value::from("127.0.0.1")),
        "{r}"
    );
    assert!(leaf["days_left"].as_i64().unwrap() > 0, "{r}");

    // Without the CA the certificate is refused, and the report still shows what was presented.
    let (code, r) = probe_json(&["probe", &url, "--json"]).await;
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["failure"]["kind"], "tls");
    assert!(r["tls"]["verify_error"].is_string(), "{r}");
    assert!(
        r["tls"]["certificates"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("localhost"),
        "{r}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_observes_every_recovery_and_exits_0() {
    let started = std::time::Instant::now();
    let (code, out, err) = run_to_end(&["demo"], ms(30_000)).await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(started.elapsed() < ms(30_000));
    for step in [
        "first connection",
        "server restart (1012)",
        "half-open link",
        "overloaded server",
        "expired token",
    ] {
        assert!(out.contains(&format!("✓ {step}")), "missing {step}:\n{out}");
    }
    assert!(
        out.contains("1006 (abnormal closure: no close frame)"),
        "{out}"
    );
    assert!(out.contains("handshake rejected with HTTP 503"), "{out}");
    assert!(out.contains("Every recovery observed"), "{out}");
    assert!(
        !out.contains("demo-token-") && !err.contains("demo-token-"),
        "a token was printed"
    );
}
