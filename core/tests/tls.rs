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

// ----- pinned certificates, client certificates, errors that say what to do ---------------

use wstether_testkit::{ServerCert, ServerConfig, TlsSetup};

/// The text of the first connect error, for a client that must not open.
async fn connect_error(b: wstether::ClientBuilder) -> String {
    let client = b.max_retries(Some(1)).build().unwrap();
    let mut events = client.events().unwrap();
    client.connect().unwrap();
    let all = drain(&mut events, ms(5000)).await;
    assert!(
        !all.iter().any(|e| matches!(e, Event::Open { .. })),
        "opened: {all:#?}"
    );
    all.iter()
        .find_map(|e| match e {
            Event::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .expect("an error event")
}

async fn echoes(b: wstether::ClientBuilder) {
    let (client, mut events) = open(b).await;
    client.send_text("pinned").unwrap();
    let (ev, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    assert!(matches!(ev, Event::Message(m) if m.as_text() == Some("pinned")));
    client.close(1000, "").await.unwrap();
}

fn setup(cert: ServerCert) -> TlsSetup {
    TlsSetup {
        cert,
        client_ca_pem: None,
    }
}

#[tokio::test]
async fn a_pinned_self_signed_certificate_connects_and_an_unpinned_one_says_how_to_fix_it() {
    let (server, cert_pem) =
        TestServer::start_tls_setup(ServerConfig::default(), &setup(ServerCert::SelfSigned))
            .await
            .unwrap();
    let err = connect_error(builder(&server.url())).await;
    assert!(
        err.contains("UnknownIssuer") && err.contains("pin it"),
        "{err}"
    );
    assert!(err.contains("add its CA"), "{err}");
    echoes(builder(&server.url()).pin_certificate_pem(cert_pem)).await;
}

#[tokio::test]
async fn a_ca_flagged_certificate_is_refused_as_a_root_and_accepted_as_a_pin() {
    let (server, cert_pem) =
        TestServer::start_tls_setup(ServerConfig::default(), &setup(ServerCert::SelfSignedCa))
            .await
            .unwrap();
    let err =
        connect_error(builder(&server.url()).add_root_certificate_pem(cert_pem.clone())).await;
    assert!(
        err.contains("is a CA certificate") && err.contains("pin it"),
        "{err}"
    );
    assert!(err.contains("--pin-cert"), "{err}");
    echoes(builder(&server.url()).pin_certificate_pem(cert_pem)).await;
}

#[tokio::test]
async fn a_pin_accepts_exactly_its_certificate() {
    let (server, _) =
        TestServer::start_tls_setup(ServerConfig::default(), &setup(ServerCert::SelfSigned))
            .await
            .unwrap();
    let (other, _) = wstether_testkit::tls::self_signed(false).unwrap();
    let err = connect_error(builder(&server.url()).pin_certificate_pem(other)).await;
    assert!(err.contains("not the pinned certificate"), "{err}");
    // A CA that signed the server's certificate is not a pin of it either.
    let (server, ca_pem) = TestServer::start_tls().await.unwrap();
    let err = connect_error(builder(&server.url()).pin_certificate_pem(ca_pem)).await;
    assert!(err.contains("not the pinned certificate"), "{err}");
}

#[tokio::test]
async fn a_pin_still_checks_the_name() {
    let (server, cert_pem) =
        TestServer::start_tls_setup(ServerConfig::default(), &setup(ServerCert::SelfSigned))
            .await
            .unwrap();
    // The certificate names localhost and 127.0.0.1; this name resolves to 127.0.0.1 too.
    let url = format!("wss://elsewhere.test:{}/", server.port());
    let b = builder(&url)
        .resolve("elsewhere.test", ["127.0.0.1".parse().unwrap()])
        .pin_certificate_pem(cert_pem);
    let err = connect_error(b).await;
    assert!(err.contains("NotValidForName"), "{err}");
}

/// `openssl req -x509` as the issue describes: CA-flagged, a CN and no subject alternative name.
#[tokio::test]
async fn a_plain_openssl_self_signed_certificate_connects_when_pinned() {
    let dir = std::env::temp_dir().join(format!("wstether-openssl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (Debian's openssl package)");
    assert!(status.success());
    let cert_pem = std::fs::read_to_string(&cert).unwrap();
    let key_pem = std::fs::read_to_string(&key).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let server = TestServer::start_tls_pem(ServerConfig::default(), &cert_pem, &key_pem, None)
        .await
        .unwrap();
    // As --ca-file (a root) it is refused, with the way out in words.
    let err =
        connect_error(builder(&server.url()).add_root_certificate_pem(cert_pem.clone())).await;
    assert!(
        err.contains("is a CA certificate") && err.contains("pin it"),
        "{err}"
    );
    echoes(builder(&server.url()).pin_certificate_pem(cert_pem)).await;
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let id = wstether_testkit::tls::client_identity().unwrap();
    let (server, ca_pem) = TestServer::start_tls_setup(
        ServerConfig::default(),
        &TlsSetup {
            cert: ServerCert::CaSigned,
            client_ca_pem: Some(id.ca_pem.clone()),
        },
    )
    .await
    .unwrap();
    let err = connect_error(builder(&server.url()).add_root_certificate_pem(ca_pem.clone())).await;
    assert!(err.contains("client certificate"), "{err}");
    let b = builder(&server.url())
        .add_root_certificate_pem(ca_pem)
        .client_certificate_pem(id.cert_pem.clone(), id.key_pem.clone());
    let shown = format!("{b:?}");
    assert!(!shown.contains(&id.key_pem[40..80]), "{shown}");
    echoes(b).await;
}

#[test]
fn bad_pins_and_client_keys_are_build_errors_that_never_show_the_key() {
    let err = wstether::Client::builder("wss://example.com/")
        .pin_certificate_pem("nope")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidCertificate(ref m) if m.contains("pinned")),
        "{err:?}"
    );
    let id = wstether_testkit::tls::client_identity().unwrap();
    let other = wstether_testkit::tls::client_identity().unwrap();
    for (cert, key) in [
        (
            id.cert_pem.as_str(),
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n-----END PRIVATE KEY-----\n",
        ),
        (id.cert_pem.as_str(), "not a key"),
        ("not a cert", id.key_pem.as_str()),
        (id.cert_pem.as_str(), other.key_pem.as_str()),
    ] {
        let err = wstether::Client::builder("ws://example.com/")
            .client_certificate_pem(cert, key)
            .build()
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::InvalidCertificate(_)), "{err:?}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
        if key.len() > 80 {
            assert!(!text.contains(&key[40..80]), "{text}");
        }
    }
}
