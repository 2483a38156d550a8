//! `wstether connect` against the testkit: exit codes, the --json event shape, Ctrl-C,
//! --auth-cmd refresh after a 401, and tokens never printed.

mod common;

use common::*;
use serde_json::Value;
use wstether_testkit::{ServerConfig, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_with_a_clear_message() {
    for (args, expect) in [
        (vec!["connect", "http://example.com/"], "ws://"),
        (vec!["connect", "not a url"], "invalid URL"),
        (vec!["connect", "ws://127.0.0.1:1/#frag"], "fragment"),
        (
            vec!["connect", "ws://127.0.0.1:1/", "--ping", "fast"],
            "duration",
        ),
        (
            vec!["connect", "ws://127.0.0.1:1/", "--backoff", "5s..1s"],
            "MAX",
        ),
        (
            vec!["connect", "ws://127.0.0.1:1/", "-H", "X-Bad"],
            "NAME:VALUE",
        ),
        (
            vec![
                "connect",
                "ws://127.0.0.1:1/",
                "--ca-file",
                "/nonexistent/ca.pem",
            ],
            "ca-file",
        ),
        (vec!["probe", "ftp://example.com/"], "ws://"),
        (vec!["bogus"], "unrecognized"),
    ] {
        let (code, out, err) = run_to_end(&args, ms(5000)).await;
        assert_eq!(code, 2, "{args:?}: stdout {out} stderr {err}");
        assert!(
            err.contains(expect),
            "{args:?}: stderr lacks {expect:?}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_host_with_max_retries_1_gives_up_with_exit_1() {
    let url = format!("ws://127.0.0.1:{}/", closed_port());
    // Stdin stays open: the exit comes from giving up, not from EOF.
    let mut run = Run::start(&["connect", &url, "--max-retries", "1", "--json"]);
    let (status, out, _) = run.finish(ms(5000)).await;
    assert_eq!(status.code(), Some(1), "{out:?}");
    let events: Vec<Value> = out
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] != "state")
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["connecting", "error", "failed", "stats"], "{out:?}");
    let failed = events.iter().find(|e| e["event"] == "failed").unwrap();
    assert_eq!(failed["reason"]["kind"], "retries_exhausted");
    assert_eq!(failed["reason"]["last"]["kind"], "connect_failed");
    assert_eq!(failed["unsent"], 0);

    // The human log says the same in words.
    let (code, _, err) = run_to_end(&["connect", &url, "--max-retries", "1"], ms(5000)).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("failed: gave up after 1 failed attempts"),
        "{err}"
    );
    assert!(err.contains("stats: 1 attempts, 0 opens"), "{err}");
    assert!(
        err.contains("hint: nothing accepts connections on that port"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_tell_the_whole_reconnect_story() {
    let server = TestServer::start_with(ServerConfig {
        protocols: vec!["chat".into()],
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.url();
    let mut run = Run::start(&[
        "connect",
        &url,
        "--protocol",
        "v0",
        "--protocol",
        "chat",
        "--json",
        "--backoff",
        "50ms..200ms",
        "--ping",
        "200ms",
        "--pong-timeout",
        "500ms",
    ]);
    let t = ms(5000);
    assert_eq!(run.json_event(t, "connecting").await["attempt"], 1);
    let open = run.json_event(t, "open").await;
    assert_eq!(open["protocol"], "chat");
    assert_eq!(open["attempt"], 1);

    run.send_line("hello").await;
    let sent = run.json_event(t, "send").await;
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["bytes"], 5);
    let msg = run.json_event(t, "message").await;
    assert_eq!(
        (msg["type"].as_str(), msg["data"].as_str()),
        (Some("text"), Some("hello"))
    );
    let pong = run.json_event(t, "pong").await;
    assert!(pong["rtt_ms"].as_f64().unwrap() >= 0.0, "{pong}");

    server.close_all(1012, "restart").await;
    let closed = run.json_event(t, "closed").await;
    assert_eq!(closed["code"], 1012);
    assert_eq!(closed["code_name"], "service restart");
    assert_eq!(closed["reason"], "restart");
    assert_eq!(closed["initiator"], "remote");
    assert_eq!(closed["will_reconnect"], true);
    let again = run.json_event(t, "reconnecting").await;
    assert_eq!(again["cause"]["kind"], "closed");
    assert_eq!(again["cause"]["code"], 1012);
    let delay = again["delay_ms"].as_f64().unwrap();
    assert!((0.0..=200.0).contains(&delay), "{again}");
    run.json_event(t, "open").await;

    // EOF on stdin: close with 1000 once everything is written, then a stats line, exit 0.
    run.send_line("last words").await;
    run.close_stdin();
    run.json_event(t, "message").await;
    let closed = run.json_event(t, "closed").await;
    assert_eq!(closed["code"], 1000);
    assert_eq!(closed["initiator"], "local");
    assert_eq!(closed["will_reconnect"], false);
    let stats = run.json_event(t, "stats").await;
    assert_eq!(stats["opens"], 2);
    assert_eq!(stats["messages_out"], 2);
    assert_eq!(stats["unsent"], 0);
    let (status, rest, _) = run.finish(t).await;
    assert!(status.success(), "{rest:?}");
    let s = server.stats();
    assert_eq!(s.received, ["hello", "last words"]);
    assert_eq!(s.close_codes, [1012, 1000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_closes_cleanly_with_1000() {
    let server = TestServer::start().await.unwrap();
    let url = server.url();
    let mut run = Run::start(&["connect", &url]);
    run.stderr_until(ms(5000), |l| l.contains("open: handshake 101"))
        .await;
    run.interrupt();
    let (status, _, err) = run.finish(ms(5000)).await;
    assert_eq!(status.code(), Some(0), "{err:?}");
    let err = err.join("\n");
    assert!(err.contains("closed 1000 (normal closure) by us"), "{err}");
    assert!(err.contains("stats: 1 attempts, 1 opens"), "{err}");
    assert!(server.wait_connections(0, ms(3000)).await);
    assert_eq!(server.stats().close_codes, [1000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_cmd_runs_per_attempt_and_refreshes_after_401_without_printing_tokens() {
    const OLD: &str = "tok-alpha-11111";
    const NEW: &str = "tok-beta-22222";
    const STATIC_SECRET: &str = "hunter2-static-secret";
    let dir = scratch_dir("auth");
    std::fs::write(dir.join("cached"), format!("{OLD}\n")).unwrap();
    std::fs::write(dir.join("fresh"), format!("{NEW}\n")).unwrap();
    // A token cache: the cached token unless the last attempt was refused with 401.
    let cmd = format!(
        "if [ \"$WSTETHER_AFTER_UNAUTHORIZED\" = 1 ]; then cat '{0}/fresh'; else cat '{0}/cached'; fi",
        dir.display()
    );
    let server = TestServer::start().await.unwrap();
    server.set_token(Some(OLD));
    let url = server.url();
    let header = format!("X-Api-Token: {STATIC_SECRET}");
    let mut run = Run::start(&[
        "connect",
        &url,
        "--auth-cmd",
        &cmd,
        "-H",
        &header,
        "--backoff",
        "50ms..200ms",
        "-v",
    ]);
    run.stderr_until(ms(5000), |l| l.contains("open: handshake 101"))
        .await;

    // The token rotates server-side; the link drops; the cached token is refused once.
    server.set_token(Some(NEW));
    server.drop_all().await;
    run.stderr_until(ms(5000), |l| {
        l.contains("auth error: handshake rejected with HTTP 401")
    })
    .await;
    // The next line of the event log (not of --verbose tracing) is an attempt, not a backoff.
    let next = run
        .stderr_until(ms(5000), |l| is_event_log(l) && l.contains("attempt"))
        .await;
    assert!(
        next.ends_with(": connecting"),
        "401 must be followed by an immediate attempt, got {next}"
    );
    run.stderr_until(ms(5000), |l| l.contains("open: handshake 101"))
        .await;

    let auth: Vec<Option<String>> = server.stats().auth_headers;
    assert_eq!(
        auth,
        [
            Some(format!("Bearer {OLD}")),
            Some(format!("Bearer {OLD}")),
            Some(format!("Bearer {NEW}"))
        ]
    );
    run.close_stdin();
    let (status, _, _) = run.finish(ms(5000)).await;
    assert!(status.success());
    for line in &run.seen {
        for secret in [OLD, NEW, STATIC_SECRET] {
            assert!(!line.contains(secret), "secret printed: {line}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Event-log lines start with a time of day (`12:34:56.789 `); tracing lines with a date.
fn is_event_log(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 13 && b[2] == b':' && b[5] == b':' && b[8] == b'.' && b[12] == b' '
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_auth_cmd_is_reported_and_retried() {
    let server = TestServer::start().await.unwrap();
    let url = server.url();
    let mut run = Run::start(&[
        "connect",
        &url,
        "--auth-cmd",
        "echo nope >&2; exit 3",
        "--max-retries",
        "2",
        "--backoff",
        "50ms",
        "--json",
    ]);
    let err = run.json_event(ms(5000), "error").await;
    assert_eq!(err["kind"], "auth");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("auth command failed"),
        "{err}"
    );
    let failed = run.json_event(ms(5000), "failed").await;
    assert_eq!(failed["reason"]["last"]["kind"], "auth");
    let (status, _, _) = run.finish(ms(5000)).await;
    assert_eq!(status.code(), Some(1));
    assert_eq!(server.stats().handshakes, 0);
}
