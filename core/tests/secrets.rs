//! Secrets never reach a log, a Debug string or an error; every lifecycle step is traced.

mod common;

use common::*;
use wstether::{Client, Event};
use wstether_testkit::TestServer;

#[test]
fn debug_strings_hide_credentials() {
    let client = Client::builder("wss://bob:hunter2@example.com/ws?access_token=SEKRET1&room=5")
        .header("Authorization", "Bearer SEKRET2")
        .header("Cookie", "session=SEKRET3")
        .header("X-Trace", "visible")
        .runtime(wstether::runtime::handle())
        .build()
        .unwrap();
    let text = format!("{client:?} {:?}", client.config());
    for secret in ["hunter2", "SEKRET1", "SEKRET2", "SEKRET3"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(
        text.contains("room=5") && text.contains("visible"),
        "{text}"
    );

    let err = Client::builder("wss://h/?token=SEKRET4 bad url%")
        .header("x", "y")
        .build();
    if let Err(e) = err {
        assert!(!e.to_string().contains("SEKRET4"), "{e}");
    }
    let err = Client::builder("ftp://user:SEKRET5@h/?key=SEKRET6")
        .build()
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SEKRET"), "{err}");
}

#[test]
fn logs_hide_credentials_and_trace_every_step() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    // A current-thread runtime keeps the client's task on this thread, under this subscriber.
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let server = TestServer::start().await.unwrap();
            server.set_token(Some("SEKRET-TOKEN"));
            let url = format!("{}?api_key=SEKRET-QUERY", server.url());
            let (_client, mut events) = open(
                builder(&url)
                    .header("Cookie", "id=SEKRET-COOKIE")
                    .auth(|_req| async {
                        Ok(vec![("Authorization".into(), "Bearer SEKRET-TOKEN".into())])
                    })
                    .max_retries(Some(2)),
            )
            .await;
            server.set_token(Some("other"));
            server.stop(Some(1012)).await;
            server.restart().await.unwrap();
            let all = drain(&mut events, ms(5000)).await;
            assert!(matches!(all.last(), Some(Event::Failed { .. })), "{all:#?}");
            for ev in &all {
                assert!(!format!("{ev:?}").contains("SEKRET"), "{ev:?}");
            }
        });
    });
    let logs = captured.text();
    assert!(!logs.contains("SEKRET"), "secret in logs:\n{logs}");
    for step in [
        "connecting",
        "open",
        "link closed",
        "code=1012",
        "reconnecting after delay",
        "attempt failed",
        "failed: giving up",
    ] {
        assert!(logs.contains(step), "no `{step}` in logs:\n{logs}");
    }
}
