//! `dispatch::Dispatcher`: many clients served by a few threads, each client's events in order,
//! a blocked handler of one client never stalls another for good, idle threads go away.

mod common;

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use wstether::dispatch::{Dispatcher, Next, STALL};
use wstether::Event;
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
                    for event in &work.batch {
                        handle(*work.tag(), event);
                    }
                    worker.done(work);
                }
            });
        }
    });
    started
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_share_one_thread_in_order_and_a_blocked_handler_stalls_no_one_else() {
    let server = TestServer::start().await.unwrap();
    let dispatcher = Arc::new(Dispatcher::new());
    let (tx, rx) = std_mpsc::channel::<(u32, String)>();
    let (release_tx, release_rx) = std_mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let tx = Mutex::new(tx);
    let threads = serve(dispatcher.clone(), move |tag, event| {
        if let Event::Message(m) = event {
            let text = m.as_text().unwrap_or_default().to_string();
            if text == "block" {
                // A handler that blocks until the test lets it go.
                let _ = release_rx.lock().unwrap().recv();
            }
            let _ = tx.lock().unwrap().send((tag, text));
        }
    });
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
