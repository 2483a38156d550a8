//! Proxies, against real ones from Debian's packages: tinyproxy (HTTP CONNECT with Basic
//! credentials, also behind a TLS front for an `https://` proxy) and dante (SOCKS5 with
//! username/password, the name resolved by the proxy). `scripts/install-proxies.sh` installs
//! them. The environment's proxy variables are tested in `proxy_env.rs` (their own process).

mod common;

use std::sync::Arc;

use common::*;
use wstether::{Cause, ErrorKind, Event, Proxy, State};
use wstether_testkit::real_proxy::{SOCKS_BLOCKED, SOCKS_PASSWORD, SOCKS_USER};
use wstether_testkit::{RealProxy, TestServer};

fn tinyproxy(credentials: Option<(&str, &str)>) -> RealProxy {
    RealProxy::tinyproxy(credentials, &[]).expect("tinyproxy (scripts/install-proxies.sh)")
}

fn dante(authenticate: bool) -> RealProxy {
    RealProxy::dante(authenticate).expect("danted (scripts/install-proxies.sh)")
}

/// Every event's text, for "no secret anywhere" checks.
fn all_text(client: &wstether::Client, events: &[Event]) -> String {
    format!(
        "{events:?} {client:?} {:?} {:?} {:?}",
        client.config(),
        client.history(),
        client.stats()
    )
}

async fn echo(client: &wstether::Client, events: &mut wstether::Events, text: &str) {
    client.send_text(text).unwrap();
    let (ev, _) = wait_for(events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    assert!(matches!(ev, Event::Message(m) if m.as_text() == Some(text)));
}

#[tokio::test]
async fn http_connect_with_basic_credentials_reaches_the_echo_server() {
    let server = TestServer::start().await.unwrap();
    let proxy = tinyproxy(Some(("alice", "s3cret-pw")));
    let b = builder(&server.url()).proxy(Proxy::url(&proxy.url()).unwrap());
    let (client, mut events) = start(b);
    let (open, _) = wait_for(&mut events, ms(5000), |e| matches!(e, Event::Open { .. })).await;
    let Event::Open { address, .. } = open else {
        unreachable!()
    };
    assert_eq!(
        address.map(|a| a.port()),
        Some(proxy.port()),
        "through the proxy"
    );
    assert_eq!(client.stats().address, address);
    echo(&client, &mut events, "through tinyproxy").await;
    assert!(!all_text(&client, &[]).contains("s3cret-pw"));
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_proxy_auth_refusal_is_typed_terminal_and_keeps_the_credentials_secret() {
    let server = TestServer::start().await.unwrap();
    let proxy = tinyproxy(Some(("alice", "s3cret-pw")));
    for given in [None, Some(("alice", "wrong-pw-123"))] {
        let url = proxy.url_with(given);
        let (client, mut events) = start(builder(&server.url()).proxy(Proxy::url(&url).unwrap()));
        let all = drain(&mut events, ms(5000)).await;
        let failed = all.iter().find_map(|e| match e {
            Event::Failed { reason, .. } => Some(reason.clone()),
            _ => None,
        });
        // tinyproxy answers CONNECT with 401 where squid says 407: both mean credentials.
        assert!(
            matches!(failed, Some(Cause::ProxyRejected { status: 401 | 407 })),
            "{all:#?}"
        );
        assert!(all.iter().any(|e| matches!(
            e,
            Event::Error { kind: ErrorKind::Auth, message } if message.contains("credentials")
        )));
        assert_eq!(client.stats().attempts, 1, "407 is not retried");
        assert_eq!(server.stats().handshakes, 0);
        let text = all_text(&client, &all);
        assert!(
            !text.contains("wrong-pw-123") && !text.contains("s3cret-pw"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_403_from_the_proxy_is_typed_and_retried() {
    let server = TestServer::start().await.unwrap();
    // This proxy tunnels to port 1 only.
    let proxy = RealProxy::tinyproxy(None, &[1]).expect("tinyproxy");
    let b = builder(&server.url())
        .proxy(Proxy::url(&proxy.url()).unwrap())
        .max_retries(Some(2));
    let (_client, mut events) = start(b);
    let all = drain(&mut events, ms(5000)).await;
    assert!(all.iter().any(|e| matches!(
        e,
        Event::Reconnecting {
            cause: Cause::ProxyRejected { status: 403 },
            ..
        }
    )));
    assert!(matches!(
        all.last(),
        Some(Event::Failed {
            reason: Cause::RetriesExhausted { attempts: 2, .. },
            ..
        })
    ));
}

#[tokio::test]
async fn wss_goes_through_the_tunnel_with_its_own_tls() {
    let (server, ca_pem) = TestServer::start_tls().await.unwrap();
    let proxy = tinyproxy(None);
    let b = builder(&server.url())
        .add_root_certificate_pem(ca_pem)
        .proxy(Proxy::url(&proxy.url()).unwrap());
    let (client, mut events) = open(b).await;
    echo(&client, &mut events, "tls in a tunnel").await;
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn an_https_proxy_is_reached_over_tls() {
    let server = TestServer::start().await.unwrap();
    let proxy = tinyproxy(Some(("alice", "s3cret-pw")));
    // A TLS front for the real tinyproxy (tinyproxy itself speaks plain HTTP).
    let (acceptor, ca_pem) = tls_front_acceptor();
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_port = front.local_addr().unwrap().port();
    let behind = proxy.port();
    let handshakes = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = front.accept().await {
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut up = tokio::net::TcpStream::connect(("127.0.0.1", behind))
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    let url = format!("https://alice:s3cret-pw@localhost:{front_port}");
    let b = builder(&server.url())
        .add_root_certificate_pem(ca_pem)
        .proxy(Proxy::url(&url).unwrap());
    let (client, mut events) = open(b).await;
    echo(&client, &mut events, "over an https proxy").await;
    assert_eq!(handshakes.load(std::sync::atomic::Ordering::SeqCst), 1);
    client.close(1000, "").await.unwrap();
}

/// A rustls acceptor for `localhost` and the CA to trust for it.
fn tls_front_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let (cert, key) = wstether_testkit::tls::self_signed(false).unwrap();
    let acceptor = wstether_testkit::tls::acceptor_from_pem(&cert, &key, None).unwrap();
    (acceptor, cert)
}

#[tokio::test]
async fn socks5_with_credentials_lets_the_proxy_resolve_the_name() {
    let server = TestServer::start().await.unwrap();
    let proxy = dante(true);
    // Were the client to resolve `localhost` itself it would dial a black hole: only the
    // proxy resolving the name (socks5h) reaches the server.
    let url = format!("ws://localhost:{}/", server.port());
    let b = builder(&url)
        .resolve("localhost", ["192.0.2.1".parse().unwrap()])
        .connect_timeout(ms(3000))
        .proxy(Proxy::url(&proxy.url()).unwrap());
    let (client, mut events) = open(b).await;
    echo(&client, &mut events, "through dante").await;
    assert_eq!(client.stats().address.map(|a| a.port()), Some(proxy.port()));
    assert!(!all_text(&client, &[]).contains(SOCKS_PASSWORD));
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn socks5_credentials_refused_or_missing_are_terminal() {
    let server = TestServer::start().await.unwrap();
    let proxy = dante(true);
    for given in [Some((SOCKS_USER, "not-the-pw")), None] {
        let url = proxy.url_with(given);
        let (client, mut events) = start(builder(&server.url()).proxy(Proxy::url(&url).unwrap()));
        let all = drain(&mut events, ms(5000)).await;
        assert!(
            matches!(
                all.last(),
                Some(Event::Failed {
                    reason: Cause::ProxyAuth(_),
                    ..
                })
            ),
            "{all:#?}"
        );
        assert_eq!(client.stats().attempts, 1);
        assert_eq!(client.state(), State::Failed);
        assert!(!all_text(&client, &all).contains("not-the-pw"));
    }
}

#[tokio::test]
async fn a_socks5_refusal_carries_the_reply_code() {
    let server = TestServer::start().await.unwrap();
    let proxy = dante(false);
    let url = format!("ws://{SOCKS_BLOCKED}:{}/", server.port());
    let b = builder(&url)
        .proxy(Proxy::url(&proxy.url()).unwrap())
        .max_retries(Some(1));
    let (_client, mut events) = start(b);
    let all = drain(&mut events, ms(5000)).await;
    let last = all.iter().find_map(|e| match e {
        Event::Failed {
            reason: Cause::RetriesExhausted { last, .. },
            ..
        } => Some((**last).clone()),
        _ => None,
    });
    assert_eq!(last, Some(Cause::SocksRejected { reply: 2 }), "{all:#?}");
    let message = Cause::SocksRejected { reply: 2 }.to_string();
    assert!(message.contains("not allowed by ruleset"), "{message}");
}

#[tokio::test]
async fn proxy_none_and_an_unreachable_proxy() {
    let server = TestServer::start().await.unwrap();
    let (client, _events) = open(builder(&server.url()).proxy(Proxy::None)).await;
    assert_eq!(
        client.stats().address.map(|a| a.port()),
        Some(server.port())
    );
    client.close(1000, "").await.unwrap();

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://u:hidden-pw@127.0.0.1:{port}");
    let b = builder(&server.url())
        .proxy(Proxy::url(&url).unwrap())
        .max_retries(Some(1));
    let (client, mut events) = start(b);
    let all = drain(&mut events, ms(5000)).await;
    let text = all_text(&client, &all);
    assert!(
        text.contains(&format!("proxy http://[redacted]@127.0.0.1:{port}")),
        "{text}"
    );
    assert!(!text.contains("hidden-pw"), "{text}");
}
