use std::time::Duration;
use wstether::{AuthRequest, Backoff, Client, Event, Heartbeat};

async fn run(url: &str) -> Result<(), wstether::Error> {
    let client = Client::builder(url)
        .auth(|req: AuthRequest| async move {
            // Called before every attempt; `req.after_unauthorized` after a 401.
            Ok(vec![(
                "Authorization".to_string(),
                format!("Bearer {}", fetch_token(req).await),
            )])
        })
        .backoff(Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            ..Backoff::default()
        })
        .heartbeat(Some(Heartbeat {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            app_ping: None,
        }))
        .build()?;
    let mut events = client.events()?;
    client.connect()?;
    client.send_text("subscribe")?; // Sent, or Queued until the next open
    while let Some(event) = events.next().await {
        if let Event::Message(m) = event {
            println!("got {m:?}");
            break;
        }
    }
    let unsent = client.close(1000, "bye").await?; // every accepted message never written
    println!("{} unsent", unsent.len());
    Ok(())
}

async fn fetch_token(_req: AuthRequest) -> String {
    "my-token".to_string() // your token service
}

#[tokio::main]
async fn main() -> Result<(), wstether::Error> {
    run("ws://localhost:8765").await
}
