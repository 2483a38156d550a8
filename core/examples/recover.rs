//! A runnable tour, no outside server needed: start the testkit server, connect, restart the
//! server, and watch the client recover and deliver what was queued meanwhile.
//!
//! `cargo run -p wstether --example recover`

use std::time::Duration;

use wstether::{Backoff, Client, Event, Heartbeat};
use wstether_testkit::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;
    let client = Client::builder(server.url())
        .backoff(Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(2),
            ..Backoff::default()
        })
        .heartbeat(Some(Heartbeat {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            app_ping: None,
        }))
        .build()?;
    let mut events = client.events()?;
    client.connect()?;
    client.send_text("hello")?;

    let mut restarted = false;
    while let Some(event) = events.next().await {
        match &event {
            Event::StateChanged { .. } | Event::Pong { .. } => continue,
            Event::Message(m) if m.as_text() == Some("hello") && !restarted => {
                println!("echo: hello — now restarting the server");
                server.stop(Some(1012)).await;
                client.send_text("sent while the server was down")?;
                server.restart().await?;
                restarted = true;
            }
            Event::Message(m) => {
                println!("echo: {}", m.as_text().unwrap_or("<binary>"));
                break;
            }
            other => println!("{other:?}"),
        }
    }
    let unsent = client.close(1000, "done").await?;
    println!(
        "closed; {} unsent; stats: {:?}",
        unsent.len(),
        client.stats()
    );
    Ok(())
}
