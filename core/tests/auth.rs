//! Auth: the provider is asked before every attempt; 401 refreshes once; terminal causes fail.

mod common;

use common::*;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;
use wstether::{AuthRequest, Backoff, Cause, ErrorKind, Event};
use wstether_testkit::TestServer;

#[tokio::test]
async fn provider_runs_per_attempt_and_401_retries_once_with_fresh_credentials() {
    let server = TestServer::start().await.unwrap();
    server.set_token(Some("t1"));
    // The provider hands out its cached token unless told the last one was refused.
    let calls: Arc<Mutex<Vec<AuthRequest>>> = Arc::default();
    let current = Arc::new(Mutex::new("t1".to_string()));
    let (log, tok) = (calls.clone(), current.clone());
    let slow = Backoff {
        initial: ms(3000),
        max: ms(3000),
        factor: 1.0,
        jitter: 0.0,
        stable_after: ms(100),
    };
    let (client, mut events) = open(builder(&server.url()).backoff(slow).auth(
        move |req: AuthRequest| {
            log.lock().unwrap().push(req);
            let token = if req.after_unauthorized {
                "t2".to_string()
            } else {
                tok.lock().unwrap().clone()
            };
            async move {
                Ok(vec![(
                    "Authorization".to_string(),
                    format!("Bearer {token}"),
                )])
            }
        },
    ))
    .await;

    // The token expires server-side; the link drops; the cached token is refused.
    server.set_token(Some("t2"));
    server.close_all(1001, "rotate").await;
    let (ev, _) = wait_for(&mut events, ms(3000), |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    assert!(matches!(ev, Event::Reconnecting { .. }));
    // Skip the (long) backoff; the refused attempt then retries immediately, not after 3 s.
    client.reconnect_now().unwrap();
    let t = Instant::now();
    let seen = wait_open(&mut events, ms(2500)).await;
    assert!(t.elapsed() < ms(2000), "401 retry waited {:?}", t.elapsed());
    assert!(
        seen.iter().any(|e| matches!(
            e,
            Event::Error {
                kind: ErrorKind::Auth,
                ..
            }
        )),
        "{seen:#?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, Event::Reconnecting { .. }))
            .count(),
        0
    );

    let flags: Vec<bool> = calls
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.after_unauthorized)
        .collect();
    assert_eq!(flags, [false, false, true]);
    let headers = server.stats().auth_headers;
    let got: Vec<&str> = headers.iter().map(|h| h.as_deref().unwrap_or("")).collect();
    assert_eq!(got, ["Bearer t1", "Bearer t1", "Bearer t2"]);
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn terminal_handshake_statuses_end_in_failed() {
    for status in [400, 403, 404] {
        let server = TestServer::start().await.unwrap();
        server.reject_next(u32::MAX, status, None);
        let (_client, mut events) = start(builder(&server.url()));
        let all = drain(&mut events, ms(3000)).await;
        assert!(
            matches!(all.last(), Some(Event::Failed { reason: Cause::HandshakeRejected { status: s, .. }, .. }) if *s == status),
            "{status}: {all:#?}"
        );
        assert_eq!(server.stats().rejected, 1, "no retry after {status}");
    }
}

#[tokio::test]
async fn terminal_statuses_are_configurable() {
    let server = TestServer::start().await.unwrap();
    server.reject_next(1, 403, None);
    let (client, _events) = open(builder(&server.url()).terminal(wstether::TerminalPolicy {
        close_codes: vec![],
        statuses: vec![],
    }))
    .await;
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn close_1008_ends_in_failed() {
    let server = TestServer::start().await.unwrap();
    let (client, mut events) = open(builder(&server.url())).await;
    client.send_text("!close 1008 banned").unwrap();
    let all = drain(&mut events, ms(3000)).await;
    let closed = all
        .iter()
        .find(|e| matches!(e, Event::Closed { .. }))
        .unwrap();
    assert!(
        matches!(
            closed,
            Event::Closed {
                code: 1008,
                will_reconnect: false,
                ..
            }
        ),
        "{closed:?}"
    );
    assert!(matches!(
        all.last(),
        Some(Event::Failed {
            reason: Cause::Closed { code: 1008, .. },
            ..
        })
    ));
}

#[tokio::test]
async fn provider_error_is_reported_and_retried() {
    let server = TestServer::start().await.unwrap();
    let n = Arc::new(Mutex::new(0));
    let count = n.clone();
    let (client, mut events) = start(builder(&server.url()).auth(move |_req: AuthRequest| {
        let first = {
            let mut c = count.lock().unwrap();
            *c += 1;
            *c == 1
        };
        async move {
            if first {
                Err("token service down".to_string())
            } else {
                Ok(vec![])
            }
        }
    }));
    let seen = wait_open(&mut events, ms(3000)).await;
    assert!(seen.iter().any(|e| matches!(e, Event::Error { kind: ErrorKind::Auth, message } if message.contains("token service down"))));
    client.close(1000, "").await.unwrap();
}
