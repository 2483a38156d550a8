use wstether::{Client, Event};

async fn run(url: &str) -> Result<(), wstether::Error> {
    let client = Client::builder(url).header("X-App", "demo").build()?;
    let mut events = client.events()?;
    client.connect()?;
    client.send_text("hello")?; // queued until open, then sent in order
    while let Some(event) = events.next().await {
        match event {
            Event::Message(m) => {
                println!("got {m:?}");
                break;
            }
            Event::Reconnecting { delay, cause, .. } => println!("retrying in {delay:?}: {cause}"),
            Event::Failed { reason, unsent } => {
                eprintln!("gave up: {reason}; {} unsent", unsent.len());
                break;
            }
            _ => {}
        }
    }
    let unsent = client.close(1000, "bye").await?; // every accepted message never written
    println!("{} unsent", unsent.len());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), wstether::Error> {
    run("ws://localhost:8765").await
}
