//! Happy Eyeballs (RFC 8305) on loopback: a name resolving to ::1 and 127.0.0.1 (fixed with
//! `resolve`, as curl's `--resolve`), the IPv6 address answering, refusing, or dropping every
//! SYN (a black hole), so IPv4 wins after the 250 ms stagger.

mod common;

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use common::*;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use wstether::Event;
use wstether_testkit::TestServer;

fn dual(server: &TestServer) -> wstether::ClientBuilder {
    builder(&format!("ws://dual.test:{}/", server.port())).resolve(
        "dual.test",
        ["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
    )
}

async fn opened_at(b: wstether::ClientBuilder) -> (SocketAddr, Duration, wstether::Client) {
    let started = Instant::now();
    let (client, mut events) = start(b);
    let (open, _) = wait_for(&mut events, ms(5000), |e| matches!(e, Event::Open { .. })).await;
    let took = started.elapsed();
    let Event::Open { address, .. } = open else {
        unreachable!()
    };
    let address = address.expect("an address");
    assert_eq!(
        client.stats().address,
        Some(address),
        "stats() reports it too"
    );
    client.send_text("hi").unwrap();
    wait_for(&mut events, ms(3000), |e| matches!(e, Event::Message(_))).await;
    (address, took, client)
}

/// A listener on [::1]:`port` whose accept queue is full, so further SYNs get no answer.
async fn black_hole(port: u16) -> (tokio::net::TcpListener, Vec<TcpStream>) {
    let socket = TcpSocket::new_v6().unwrap();
    socket
        .bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
        .unwrap();
    let listener = socket.listen(1).unwrap();
    let mut held = Vec::new();
    for _ in 0..16 {
        let attempt = tokio::time::timeout(
            ms(200),
            TcpStream::connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port))),
        )
        .await;
        match attempt {
            Ok(Ok(tcp)) => held.push(tcp),
            // Full: the listener, never accepting, now drops every SYN.
            _ => return (listener, held),
        }
    }
    panic!("the accept queue never filled");
}

#[tokio::test]
async fn ipv6_is_tried_first_and_wins_when_it_answers() {
    let server = TestServer::start().await.unwrap();
    // [::1]:port relays to the server on 127.0.0.1:port.
    let relay = tokio::net::TcpListener::bind((Ipv6Addr::LOCALHOST, server.port()))
        .await
        .unwrap();
    let target = server.port();
    tokio::spawn(async move {
        while let Ok((mut down, _)) = relay.accept().await {
            tokio::spawn(async move {
                let mut up = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
            });
        }
    });
    let (address, _, client) = opened_at(dual(&server)).await;
    assert_eq!(
        address,
        SocketAddr::from((Ipv6Addr::LOCALHOST, server.port()))
    );
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn a_refused_ipv6_address_falls_to_ipv4_without_waiting() {
    let server = TestServer::start().await.unwrap();
    let (address, took, client) = opened_at(dual(&server)).await;
    assert_eq!(address, SocketAddr::from(([127, 0, 0, 1], server.port())));
    assert!(took < ms(2000), "{took:?}");
    client.close(1000, "").await.unwrap();
}

#[tokio::test]
async fn ipv4_wins_after_the_stagger_when_ipv6_is_a_black_hole() {
    let server = TestServer::start().await.unwrap();
    let _hole = black_hole(server.port()).await;
    let (address, took, client) = opened_at(dual(&server).connect_timeout(ms(5000))).await;
    assert_eq!(address, SocketAddr::from(([127, 0, 0, 1], server.port())));
    assert!(took >= ms(240), "IPv4 must wait for the stagger: {took:?}");
    assert!(took < ms(3000), "not a TCP timeout: {took:?}");
    client.close(1000, "").await.unwrap();
}
