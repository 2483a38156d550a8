//! fork(): a child gets its own runtime and working new clients; the parent's client is a dead
//! copy there (closed, never writing into the parent's socket); the parent carries on.
#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::ms;
use wstether::{Client, Error, Event, Events, State};
use wstether_testkit::TestServer;

/// Wait (blocking, as a binding's thread does) for an event matching `pred`.
fn wait_blocking(events: &mut Events, within: Duration, pred: impl Fn(&Event) -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let batch = events.try_next_batch(64);
        if batch.iter().any(&pred) {
            return true;
        }
        if batch.is_empty() {
            std::thread::sleep(ms(5));
        }
    }
    false
}

fn echo(text: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Message(m) if m.as_text() == Some(text))
}

fn connected(url: &str) -> (Client, Events) {
    let client = Client::builder(url)
        .runtime(wstether::runtime::handle())
        .handshake_budget(None)
        .build()
        .unwrap();
    let mut events = client.events().unwrap();
    client.connect().unwrap();
    assert!(wait_blocking(&mut events, ms(5000), |e| matches!(
        e,
        Event::Open { .. }
    )));
    (client, events)
}

/// Runs in the child; returns the exit code.
fn in_child(parent: &Client, url: &str) -> i32 {
    if parent.state() != State::Closed {
        return 10;
    }
    if parent.send_text("from the child") != Err(Error::Closed) {
        return 11;
    }
    let closed = wstether::runtime::handle().block_on(parent.close(1000, ""));
    if closed.map_or(true, |unsent| !unsent.is_empty()) {
        return 12;
    }
    let (child, mut events) = connected(url);
    child.send_text("child echo").unwrap();
    if !wait_blocking(&mut events, ms(5000), echo("child echo")) {
        return 13;
    }
    0
}

#[test]
fn a_forked_child_gets_its_own_runtime_and_the_parents_client_acts_closed() {
    // The server runs on this process's own runtime, so it keeps serving while the child runs.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = server_rt.block_on(TestServer::start()).unwrap();
    let url = server.url();
    let (parent, mut events) = connected(&url);

    // SAFETY: the child only runs Rust code that allocates and spawns threads, as any forked
    // child of a threaded program using glibc may; it leaves through `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| in_child(&parent, &url)))
                .unwrap_or(101);
        unsafe { libc::_exit(code) };
    }

    let deadline = Instant::now() + ms(15_000);
    let mut status = 0;
    loop {
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung");
        }
        std::thread::sleep(ms(20));
    }
    assert!(libc::WIFEXITED(status), "child died: status {status}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child check failed (see in_child)"
    );

    // The parent's link was not touched by the child.
    assert_eq!(parent.state(), State::Open);
    parent.send_text("parent echo").unwrap();
    assert!(wait_blocking(&mut events, ms(5000), echo("parent echo")));
    assert!(wstether::runtime::handle()
        .block_on(parent.close(1000, ""))
        .unwrap()
        .is_empty());
    assert!(!server
        .stats()
        .received
        .iter()
        .any(|m| m == "from the child"));
}
