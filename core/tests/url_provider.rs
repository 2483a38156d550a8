//! A URL per attempt (a provider, as Slack's one-time Socket Mode URLs need) and
//! `reconnect_to` (a server-directed move, as Twitch and Discord send), over real sockets.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::*;
use wstether::{AuthRequest, Cause, ErrorKind, Event, UrlProvider};
use wstether_testkit::TestServer;

#[tokio::test]
async fn a_url_provider_is_called_once_per_attempt() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, log) = (calls.clone(), asked.clone());
    let urls = [a.url(), b.url()];
    let provider = move |req: AuthRequest| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        log.lock().unwrap().push(req.attempt);
        let url = urls[(n % 2) as usize].clone();
        async move { Ok(format!("{url}?ticket=one-time-{n}")) }
    };
    let (client, mut events) = start(builder("ws://placeholder.invalid/").url_provider(provider));
    wait_open(&mut events, ms(3000)).await;
    // The first link is on a; when it drops, the provider names b.
    a.drop_all().await;
    wait_for(&mut events, ms(3000), |e| matches!(e, Event::Open { .. })).await;
    assert!(b.wait_connections(1, ms(3000)).await);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Told which attempt it is for (the second link came soon after the first: not stable).
    assert_eq!(*asked.lock().unwrap(), [1, 2]);
    assert_eq!(client.stats().attempts, 2, "one call per attempt");
    assert_eq!(client.stats().address.map(|x| x.port()), Some(b.port()));
    // The flight recorder shows each URL used, its one-time ticket hidden.
    let opens: Vec<String> = client
        .history()
        .into_iter()
        .filter(|t| t.to == wstether::State::Open)
        .map(|t| t.cause)
        .collect();
    assert_eq!(opens.len(), 2);
    assert!(
        opens[1].contains(&b.url().trim_end_matches('/').to_string()),
        "{opens:?}"
    );
    assert!(opens.iter().all(|c| !c.contains("one-time")), "{opens:?}");
    client.close(1000, "").await.unwrap();
}

/// Fails, panics, names an http:// URL, then answers: attempt 4 opens.
struct Flaky(AtomicU32, String);

impl UrlProvider for Flaky {
    fn url(&self, _req: AuthRequest) -> wstether::UrlFuture {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        let good = self.1.clone();
        Box::pin(async move {
            match n {
                0 => Err("token endpoint down".to_string()),
                1 => panic!("provider bug"),
                2 => Ok("http://not-a-websocket/".to_string()),
                _ => Ok(good),
            }
        })
    }
}

#[tokio::test]
async fn a_failing_or_panicking_url_provider_fails_only_that_attempt() {
    let server = TestServer::start().await.unwrap();
    let provider = Arc::new(Flaky(AtomicU32::new(0), server.url()));
    let b = wstether::Client::builder_with_url_provider(provider)
        .backoff(fast_backoff())
        .handshake_budget(None);
    let (client, mut events) = start(b);
    let (_, seen) = wait_for(&mut events, ms(5000), |e| {
        matches!(e, Event::Open { attempt: 4, .. })
    })
    .await;
    let causes: Vec<&Cause> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Reconnecting { cause, .. } => Some(cause),
            _ => None,
        })
        .collect();
    assert_eq!(causes.len(), 3, "{seen:#?}");
    assert!(
        causes.iter().all(|c| matches!(c, Cause::UrlProvider(_))),
        "{causes:?}"
    );
    let text: Vec<String> = causes.iter().map(|c| c.to_string()).collect();
    assert!(text[0].contains("token endpoint down"), "{text:?}");
    assert!(text[1].contains("panicked: provider bug"), "{text:?}");
    assert!(text[2].contains("unsupported URL scheme"), "{text:?}");
    assert!(seen.iter().any(|e| matches!(
        e,
        Event::Error {
            kind: ErrorKind::Connect,
            ..
        }
    )));
    assert_eq!(client.stats().attempts, 4);
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn reconnect_to_moves_a_live_client_to_the_new_url_at_once() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let (client, mut events) = open(builder(&a.url())).await;
    client.reconnect_to(&b.url()).unwrap();
    let (_, seen) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Open { .. })).await;
    assert!(
        seen.iter().any(|e| matches!(
            e,
            Event::Closed {
                code: 1000,
                will_reconnect: true,
                ..
            }
        )),
        "{seen:#?}"
    );
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Reconnecting { .. })),
        "no backoff delay"
    );
    assert!(b.wait_connections(1, ms(3000)).await);
    client.send_text("on b").unwrap();
    assert!(b.wait_received(1, ms(3000)).await);
    assert_eq!(client.stats().address.map(|x| x.port()), Some(b.port()));
    assert!(matches!(
        client.reconnect_to("http://nope/"),
        Err(wstether::Error::InvalidScheme { .. })
    ));
    client.close(1000, "").await.unwrap();
    assert!(matches!(
        client.reconnect_to(&a.url()),
        Err(wstether::Error::Closed)
    ));
}
