//! `wstether connect` reaching servers: a plain `openssl req -x509` certificate (refused as
//! --ca-file with the way out in words, accepted with --pin-cert), --proxy / --no-proxy against
//! a real tinyproxy, --client-cert for mutual TLS, --resolve.

mod common;

use common::*;
use serde_json::Value;
use wstether_testkit::{RealProxy, ServerConfig, TestServer};

/// Open, echo one line, close stdin: the run ends cleanly. Returns the `open` event.
async fn echo_run(mut run: Run) -> (Value, Vec<String>) {
    let open = run.json_event(ms(5000), "open").await;
    run.send_line("hello").await;
    let msg = run.json_event(ms(5000), "message").await;
    assert_eq!(msg["data"], "hello", "{msg}");
    run.close_stdin();
    let (status, _, _) = run.finish(ms(5000)).await;
    assert_eq!(status.code(), Some(0));
    (open, run.seen.clone())
}

fn port_of(open: &Value) -> u16 {
    let a = open["address"].as_str().expect("an address");
    a.rsplit_once(':').unwrap().1.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openssl_self_signed_certificate_is_pinned_not_trusted_as_a_ca() {
    let dir = scratch_dir("openssl");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = std::process::Command::new("openssl")
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
        .expect("openssl")
        .success();
    assert!(ok);
    let (cert_pem, key_pem) = (
        std::fs::read_to_string(&cert).unwrap(),
        std::fs::read_to_string(&key).unwrap(),
    );
    let server = TestServer::start_tls_pem(ServerConfig::default(), &cert_pem, &key_pem, None)
        .await
        .unwrap();
    let url = server.url();
    let cert = cert.to_str().unwrap();
    let (code, _, err) = run_to_end(
        &["connect", &url, "--ca-file", cert, "--max-retries", "1"],
        ms(5000),
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("is a CA certificate") && err.contains("--pin-cert"),
        "{err}"
    );
    assert!(!err.contains("is the scheme right"), "{err}");
    echo_run(Run::start(&["connect", &url, "--pin-cert", cert, "--json"])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_flags_and_the_environment() {
    let server = TestServer::start().await.unwrap();
    let proxy = RealProxy::tinyproxy(Some(("alice", "cli-s3cret")), &[]).expect("tinyproxy");
    let url = server.url();
    let proxy_url = proxy.url();
    let (open, seen) = echo_run(Run::start(&[
        "connect", &url, "--proxy", &proxy_url, "--json",
    ]))
    .await;
    assert_eq!(port_of(&open), proxy.port());
    assert!(seen.iter().all(|l| !l.contains("cli-s3cret")), "{seen:?}");

    // Behind HTTP_PROXY by default; --no-proxy goes direct.
    let env = [("HTTP_PROXY", proxy_url.as_str()), ("NO_PROXY", "")];
    let (open, _) = echo_run(Run::start_with_env(&["connect", &url, "--json"], &env)).await;
    assert_eq!(port_of(&open), proxy.port());
    let (open, _) = echo_run(Run::start_with_env(
        &["connect", &url, "--no-proxy", "--json"],
        &env,
    ))
    .await;
    assert_eq!(port_of(&open), server.port());

    // Wrong credentials: typed, terminal, hinted, secret hidden.
    let wrong = proxy.url_with(Some(("alice", "nope-pw")));
    let (code, out, err) = run_to_end(&["connect", &url, "--proxy", &wrong], ms(5000)).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the proxy wants other credentials"), "{err}");
    assert!(
        !err.contains("nope-pw") && !out.contains("nope-pw"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_and_resolve() {
    let id = wstether_testkit::tls::client_identity().unwrap();
    let setup = wstether_testkit::TlsSetup {
        cert: wstether_testkit::ServerCert::SelfSigned,
        client_ca_pem: Some(id.ca_pem.clone()),
    };
    let (server, cert_pem) = TestServer::start_tls_setup(ServerConfig::default(), &setup)
        .await
        .unwrap();
    let dir = scratch_dir("mtls");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (pin, cert, key) = (
        write("server.pem", &cert_pem),
        write("client.pem", &id.cert_pem),
        write("client.key", &id.key_pem),
    );
    // The certificate names localhost; --resolve points it at 127.0.0.1 only.
    let url = format!("wss://localhost:{}/", server.port());
    let args = [
        "connect",
        &url,
        "--pin-cert",
        &pin,
        "--client-cert",
        &cert,
        "--client-key",
        &key,
        "--resolve",
        "localhost:127.0.0.1",
        "--json",
    ];
    let (open, _) = echo_run(Run::start(&args)).await;
    assert_eq!(open["address"], format!("127.0.0.1:{}", server.port()));
    let (code, _, err) = run_to_end(
        &["connect", &url, "--pin-cert", &pin, "--max-retries", "1"],
        ms(5000),
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("--client-cert"), "{err}");
    let (code, _, err) = run_to_end(&["connect", &url, "--client-cert", &cert], ms(5000)).await;
    assert_eq!(code, 2, "{err}");
}
