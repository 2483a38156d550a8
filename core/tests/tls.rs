//! TLS: verified against webpki roots plus an optional extra root; no silent way to skip it.

mod common;

use common::*;
use wstether::{Error, ErrorKind, Event};
use wstether_testkit::TestServer;

#[tokio::test]
async fn self_signed_server_fails_without_its_ca_and_passes_with_it() {
    let (server, ca_pem) = TestServer::start_tls().await.unwrap();
    let url = server.url();
    assert!(url.starts_with("wss://"), "{url}");

    let untrusting = builder(&url).max_retries(Some(1)).build().unwrap();
    let mut events = untrusting.events().unwrap();
    untrusting.connect().unwrap();
    let all = drain(&mut events, ms(5000)).await;
    assert!(
        !all.iter().any(|e| matches!(e, Event::Open { .. })),
        "connected without trusting the CA"
    );
    let err = all.iter().find_map(|e| match e {
        Event::Error {
            kind: ErrorKind::Connect,
            message,
        } => Some(message.clone()),
        _ => None,
    });
    let err = err.expect("an error event for the failed handshake");
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
    assert_eq!(server.stats().handshakes, 0);

    let trusting = builder(&url)
        .add_root_certificate_pem(ca_pem)
        .build()
        .unwrap();
    let mut events = trusting.events().unwrap();
    trusting.connect().unwrap();
    wait_open(&mut events, ms(5000)).await;
    trusting.send_text("over tls").unwrap();
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    assert!(matches!(ev, Event::Message(m) if m.as_text() == Some("over tls")));
    // From a thread outside the runtime (as a binding's caller is): `send()` may write through
    // TLS on that thread itself.
    let sender = trusting.clone();
    std::thread::spawn(move || {
        for i in 0..20 {
            sender.send_text(format!("thread {i}")).unwrap();
        }
    })
    .join()
    .unwrap();
    for i in 0..20 {
        let want = format!("thread {i}");
        let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
        assert!(matches!(ev, Event::Message(m) if m.as_text() == Some(want.as_str())));
    }
    assert_eq!(trusting.stats().messages_out, 21);
    trusting.close(1000, "").await.unwrap();
}

#[test]
fn bad_root_certificate_is_a_build_error() {
    let err = wstether::Client::builder("wss://example.com/")
        .add_root_certificate_pem("not a certificate")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCertificate(_)), "{err:?}");
}
