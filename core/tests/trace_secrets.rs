//! At trace level, with the `log` bridge an app gets from `tracing_subscriber`'s `init()`,
//! no dependency logs a secret: the upgrade request is written by the client itself.
//! (Its own test binary: the subscriber is global here, as in an app.)

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use wstether::Event;
use wstether_testkit::TestServer;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_every_target_hold_no_credentials() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .try_init()
        .expect("first subscriber of this process");

    let server = TestServer::start().await.unwrap();
    server.set_token(Some("SEKRET-TOKEN"));
    let url = format!("{}?access_token=SEKRET-QUERY&token=SEKRET-Q2", server.url());
    let (client, mut events) = open(
        builder(&url)
            .header("Cookie", "id=SEKRET-COOKIE")
            .auth(|_req| async {
                Ok(vec![("Authorization".into(), "Bearer SEKRET-TOKEN".into())])
            }),
    )
    .await;
    // A refused attempt, then an open one: both handshakes are written and answered.
    server.reject_next(1, 401, None);
    server.close_all(1011, "restart").await;
    wait_for(&mut events, ms(5000), |e| matches!(e, Event::Error { .. })).await;
    wait_open(&mut events, ms(5000)).await;
    client.close(1000, "").await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("connecting"),
        "the subscriber saw nothing:\n{logs}"
    );
    assert!(!logs.contains("SEKRET"), "secret in trace logs:\n{logs}");
}
