//! Proxies from the environment, as curl and python-websockets read it. One test, so no other
//! test in this process sees the variables it sets.

mod common;

use common::*;
use wstether::{Error, Event, Proxy};
use wstether_testkit::{RealProxy, TestServer};

fn clear() {
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        std::env::remove_var(name);
    }
}

async fn address_port(b: wstether::ClientBuilder) -> u16 {
    let (client, mut events) = start(b);
    let (open, _) = wait_for(&mut events, ms(5000), |e| matches!(e, Event::Open { .. })).await;
    client.send_text("ping").unwrap();
    wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    client.close(1000, "").await.unwrap();
    match open {
        Event::Open { address, .. } => address.unwrap().port(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn the_environment_picks_the_proxy_and_no_proxy_or_proxy_none_go_direct() {
    let server = TestServer::start().await.unwrap();
    let proxy = RealProxy::tinyproxy(Some(("alice", "env-s3cret")), &[]).expect("tinyproxy");
    let url = server.url();
    clear();

    // Default options behind HTTP_PROXY: through the proxy.
    std::env::set_var("HTTP_PROXY", proxy.url());
    let via = address_port(wstether::Client::builder(&url).handshake_budget(None)).await;
    assert_eq!(
        via,
        proxy.port(),
        "a client behind HTTP_PROXY goes through it"
    );
    let shown = format!("{:?}", wstether::Client::builder(&url).build().unwrap());
    assert!(!shown.contains("env-s3cret"), "{shown}");

    // HTTPS_PROXY is for wss:// only: a ws:// URL ignores it.
    clear();
    std::env::set_var("HTTPS_PROXY", "http://127.0.0.1:1");
    assert_eq!(address_port(builder(&url)).await, server.port());

    // ALL_PROXY is the fallback.
    clear();
    std::env::set_var("ALL_PROXY", proxy.url());
    assert_eq!(address_port(builder(&url)).await, proxy.port());

    // NO_PROXY by address, by CIDR, with the port, and `*`.
    for no_proxy in [
        "127.0.0.1",
        "127.0.0.0/8",
        &format!("127.0.0.1:{}", server.port()),
        "*",
    ] {
        std::env::set_var("NO_PROXY", no_proxy);
        assert_eq!(
            address_port(builder(&url)).await,
            server.port(),
            "NO_PROXY={no_proxy}"
        );
    }
    std::env::set_var("NO_PROXY", "127.0.0.1:1");
    assert_eq!(
        address_port(builder(&url)).await,
        proxy.port(),
        "another port is proxied"
    );

    // A per-client setting overrides the environment; Proxy::None turns proxies off.
    std::env::remove_var("NO_PROXY");
    assert_eq!(
        address_port(builder(&url).proxy(Proxy::None)).await,
        server.port()
    );

    // A variable that applies and is not a proxy URL fails the build, naming it, secret hidden.
    clear();
    std::env::set_var("https_proxy", "ftp://u:leaky-pw@h");
    let err = wstether::Client::builder("wss://example.com/")
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                option: "proxy",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        text.contains("https_proxy") && !text.contains("leaky-pw"),
        "{text}"
    );
    // ... but not a client it does not apply to.
    builder(&url).build().unwrap();
    clear();
}
