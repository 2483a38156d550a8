//! At trace level, with the `log` bridge an app gets from `tracing_subscriber`'s `init()`,
//! no dependency logs a secret: the upgrade request is written by the client itself, and
//! no frame or message payload is logged.
//! (Its own test binary: the subscriber is global here, as in an app.)

mod common;

use common::*;
use wstether::Event;
use wstether_testkit::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_every_target_hold_no_credentials() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .try_init()
        .expect("first subscriber of this process");

    // The test server uses tungstenite too, which logs what it receives: it runs on threads of
    // its own whose logs go nowhere, so what is captured is the client's alone.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(|| {
            let quiet =
                tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            std::mem::forget(quiet);
        })
        .build()
        .unwrap();
    let server = server_rt
        .spawn(async { TestServer::start().await.unwrap() })
        .await
        .unwrap();
    server.set_token(Some("SEKRET-TOKEN"));
    let url = format!("{}?access_token=SEKRET-QUERY&token=SEKRET-Q2", server.url());
    let (client, mut events) = open(
        builder(&url)
            .header("Cookie", "id=SEKRET-COOKIE")
            // Sent on every open and echoed back: no dependency may log frame payloads.
            .greeting(vec![wstether::Message::text("auth SEKRET-GREETING")])
            .auth(|_req| async {
                Ok(vec![("Authorization".into(), "Bearer SEKRET-TOKEN".into())])
            }),
    )
    .await;
    wait_for(&mut events, ms(5000), |e| matches!(e, Event::Message(_))).await;
    // A refused attempt, then an open one: both handshakes are written and answered.
    server.reject_next(1, 401, None);
    server.close_all(1011, "restart").await;
    wait_for(&mut events, ms(5000), |e| matches!(e, Event::Error { .. })).await;
    wait_open(&mut events, ms(5000)).await;
    client.close(1000, "").await.unwrap();
    drop(server);
    server_rt.shutdown_background();

    let logs = captured.text();
    assert!(
        logs.contains("connecting"),
        "the subscriber saw nothing:\n{logs}"
    );
    assert!(!logs.contains("SEKRET"), "secret in trace logs:\n{logs}");
}
