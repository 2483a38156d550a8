//! `dispatch::Dispatcher`: many clients served by a few threads, each client's events in order,
//! a blocked handler of one client never stalls another for good, idle threads go away.

mod common;

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use wstether::batch::Item;
use wstether::dispatch::{Dispatcher, Next, STALL};
use wstether::{Event, Message};
use wstether_testkit::TestServer;

/// Serve `dispatcher` as a binding does: a watcher thread starting workers when asked; each
/// worker hands every event of a batch to `handle` with the client's tag.
fn serve<H>(dispatcher: Arc<Dispatcher<u32>>, handle: H) -> Arc<Mutex<usize>>
where
    H: Fn(u32, &Event) + Send + Sync + 'static,
{
    let started = Arc::new(Mutex::new(0usize));
    let handle = Arc::new(handle);
    let count = started.clone();
    thread::spawn(move || {
        while dispatcher.watch() {
            *count.lock().unwrap() += 1;
            let (d, handle) = (dispatcher.clone(), handle.clone());
            thread::spawn(move || {
                let worker = d.worker();
                while let Next::Work(work) = worker.next() {
                    for item in &work.batch {
                        let event = match item {
                            Item::Text(text) => Event::Message(Message::text(text)),
                            Item::Binary(bytes) => Event::Message(Message::binary(bytes.to_vec())),
                            Item::Event(event) => event.clone(),
                        };
                        handle(*work.tag(), &event);
                    }
                    worker.done(work);
                }
            });
        }
    });
    started
}

/// Messages as the handler saw them: the client's tag and the text.
type Reports = std_mpsc::Receiver<(u32, String)>;

/// Serve `dispatcher` with a handler that reports each message as (tag, text) and blocks on
/// the text "block" until the returned sender lets it go; it reports "block" before blocking
/// when `report_first`, after otherwise.
fn serve_blocking(
    dispatcher: &Arc<Dispatcher<u32>>,
    report_first: bool,
) -> (Reports, std_mpsc::Sender<()>, Arc<Mutex<usize>>) {
    let (tx, rx) = std_mpsc::channel::<(u32, String)>();
    let (release_tx, release_rx) = std_mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let tx = Mutex::new(tx);
    let threads = serve(dispatcher.clone(), move |tag, event| {
        if let Event::Message(m) = event {
            let text = m.as_text().unwrap_or_default().to_string();
            if report_first {
                let _ = tx.lock().unwrap().send((tag, text.clone()));
            }
            if text == "block" {
                // A handler that blocks until the test lets it go.
                let _ = release_rx.lock().unwrap().recv();
            }
            if !report_first {
                let _ = tx.lock().unwrap().send((tag, text));
            }
        }
    });
    (rx, release_tx, threads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_share_one_thread_in_order_and_a_blocked_handler_stalls_no_one_else() {
    let server = TestServer::start().await.unwrap();
    let dispatcher = Arc::new(Dispatcher::new());
    let (rx, release_tx, threads) = serve_blocking(&dispatcher, false);
    let mut clients = Vec::new();
    let mut handles = Vec::new();
    for tag in 0..20u32 {
        let (client, events) = open(builder(&server.url())).await;
        handles.push(dispatcher.add(events, tag));
        clients.push(client);
    }
    // Every client's messages arrive, each client's in order, on one worker.
    for (tag, c) in clients.iter().enumerate() {
        for i in 0..5 {
            c.send_text(format!("{tag}:{i}")).unwrap();
        }
    }
    let mut next = vec![0; clients.len()];
    for _ in 0..clients.len() * 5 {
        let (tag, text) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(text, format!("{tag}:{}", next[tag as usize]));
        next[tag as usize] += 1;
    }
    assert_eq!(
        *threads.lock().unwrap(),
        1,
        "one worker serves 20 quick clients"
    );

    // Client 0's handler blocks; client 1's message still arrives, on a second worker.
    clients[0].send_text("block").unwrap();
    thread::sleep(STALL / 2); // let the worker enter the blocking handler
    let sent = std::time::Instant::now();
    clients[1].send_text("after").unwrap();
    let (tag, text) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!((tag, text.as_str()), (1, "after"));
    assert!(sent.elapsed() < Duration::from_secs(3));
    assert_eq!(*threads.lock().unwrap(), 2);
    // Client 0's later messages wait behind its blocked handler, then come in order.
    clients[0].send_text("later").unwrap();
    assert!(rx.recv_timeout(STALL * 3).is_err());
    release_tx.send(()).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        (0, "block".to_string())
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        (0, "later".to_string())
    );

    // close() then wait_finished(): every event of the stream was handled.
    for (client, handle) in clients.iter().zip(&handles) {
        client.close(1000, "").await.unwrap();
        let h = handle.tag();
        assert!(
            tokio::task::block_in_place(|| handle.wait_finished(Duration::from_secs(5))),
            "client {h} finished"
        );
    }
    dispatcher.shutdown();
}

/// A client queued while the only worker was still starting is served even when that worker
/// takes another client's batch first and blocks in its handler: the watcher looks again
/// instead of waiting for a wake-up that never comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_queued_while_a_worker_starts_is_not_stranded_behind_it() {
    let server = TestServer::start().await.unwrap();
    let dispatcher = Arc::new(Dispatcher::<u32>::new());
    let (go_tx, go_rx) = std_mpsc::channel::<()>();
    let go_rx = Arc::new(Mutex::new(go_rx));
    let (tx, rx) = std_mpsc::channel::<u32>();
    let tx = Arc::new(Mutex::new(tx));
    let (release_tx, release_rx) = std_mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    // Both clients are connecting, so each has a first batch ready when it is added.
    let (a, a_events) = start(builder(&server.url()));
    let (b, b_events) = start(builder(&server.url()));
    let watcher = dispatcher.clone();
    thread::spawn(move || {
        let mut first = true;
        while watcher.watch() {
            let d = watcher.clone();
            let (go, tx, release) = (go_rx.clone(), tx.clone(), release_rx.clone());
            let wait_for_go = std::mem::take(&mut first);
            thread::spawn(move || {
                if wait_for_go {
                    // The first worker registers only when the test says so.
                    let _ = go.lock().unwrap().recv();
                }
                let worker = d.worker();
                while let Next::Work(work) = worker.next() {
                    let tag = *work.tag();
                    if tag == 0 {
                        // Client 0's handler blocks until the end of the test.
                        let _ = release.lock().unwrap().recv();
                    }
                    let _ = tx.lock().unwrap().send(tag);
                    worker.done(work);
                }
            });
        }
    });
    let _a = dispatcher.add(a_events, 0);
    let _b = dispatcher.add(b_events, 1);
    // The watcher asked for the first worker and waits again, with both clients queued and the
    // worker not yet registered; now it registers and takes client 0, whose handler blocks.
    thread::sleep(STALL / 2);
    go_tx.send(()).unwrap();
    let served = rx.recv_timeout(Duration::from_secs(5));
    assert_eq!(
        served,
        Ok(1),
        "client 1 was left waiting behind the blocked handler"
    );
    release_tx.send(()).unwrap();
    a.close(1000, "").await.unwrap();
    b.close(1000, "").await.unwrap();
    dispatcher.shutdown();
}

/// Without a heartbeat no timer reads a client's socket, so while the only worker is blocked
/// in one client's handler, only the dispatcher itself can notice another client's arrival
/// (on Linux its workers watch the sockets; the watcher looks at them when nobody has for
/// `STALL`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_heartbeat_a_blocked_handler_still_stalls_no_one_else() {
    let server = TestServer::start().await.unwrap();
    let dispatcher = Arc::new(Dispatcher::new());
    let (rx, release_tx, threads) = serve_blocking(&dispatcher, true);
    let mut clients = Vec::new();
    let mut handles = Vec::new();
    for tag in 0..2u32 {
        // Added while connecting, so the dispatcher serves (and watches) its first link.
        let (client, events) = start(builder(&server.url()).heartbeat(None));
        handles.push(dispatcher.add(events, tag));
        client.send_text("hello").unwrap();
        clients.push(client);
    }
    for _ in 0..2 {
        let (_, text) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(text, "hello");
    }
    clients[0].send_text("block").unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        (0, "block".to_string())
    );
    // The one worker is inside client 0's handler now.
    let sent = std::time::Instant::now();
    clients[1].send_text("meanwhile").unwrap();
    let got = rx.recv_timeout(Duration::from_secs(5));
    release_tx.send(()).unwrap();
    assert_eq!(got, Ok((1, "meanwhile".to_string())));
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(*threads.lock().unwrap(), 2);
    for (client, handle) in clients.iter().zip(&handles) {
        client.close(1000, "").await.unwrap();
        assert!(tokio::task::block_in_place(
            || handle.wait_finished(Duration::from_secs(5))
        ));
    }
    dispatcher.shutdown();
}
