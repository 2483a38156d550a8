//! The message layer against servers that break the protocol, over real sockets.

mod common;

use common::*;
use tokio::io::AsyncWriteExt;
use wstether::{Cause, Event, Initiator};

/// A server that answers the upgrade, then writes `frames` and holds the connection.
async fn scripted(frames: &'static [u8]) -> String {
    raw_server(move |mut tcp, key| async move {
        let mut out = switching(&key).into_bytes();
        out.extend_from_slice(frames);
        let _ = tcp.write_all(&out).await;
        hold(tcp).await;
    })
    .await
}

/// The `Closed` event and the `Reconnecting` cause the first link ends with.
async fn first_loss(url: &str) -> (Event, Cause) {
    let (client, mut events) = start(builder(url).heartbeat(None));
    let (closed, _) = wait_for(&mut events, ms(3000), |e| matches!(e, Event::Closed { .. })).await;
    let (next, _) = wait_for(&mut events, ms(3000), |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    drop(client);
    match next {
        Event::Reconnecting { cause, .. } => (closed, cause),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn close_1005_from_the_server_is_a_protocol_error_the_client_answers_with_1002() {
    // 1005 ("no status received") may never be sent in a close frame.
    let url = scripted(&[0x88, 0x02, 0x03, 0xED]).await;
    let (closed, cause) = first_loss(&url).await;
    assert!(
        matches!(
            closed,
            Event::Closed {
                code: 1002,
                initiator: Initiator::Local,
                ..
            }
        ),
        "{closed:?}"
    );
    assert!(
        matches!(&cause, Cause::Protocol(m) if m.contains("1005")),
        "{cause}"
    );
}

#[tokio::test]
async fn a_close_frame_without_a_status_is_reported_as_1005_from_the_server() {
    let url = scripted(&[0x88, 0x00]).await;
    let (closed, _) = first_loss(&url).await;
    assert!(
        matches!(
            closed,
            Event::Closed {
                code: 1005,
                initiator: Initiator::Remote,
                ..
            }
        ),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_masked_frame_and_invalid_utf8_are_refused_with_their_codes() {
    let masked = scripted(&[0x81, 0x81, 1, 2, 3, 4, b'a' ^ 1]).await;
    let (closed, _) = first_loss(&masked).await;
    assert!(
        matches!(closed, Event::Closed { code: 1002, .. }),
        "{closed:?}"
    );
    let bad_text = scripted(&[0x81, 0x02, 0xC3, 0x28]).await;
    let (closed, cause) = first_loss(&bad_text).await;
    assert!(
        matches!(closed, Event::Closed { code: 1007, .. }),
        "{closed:?}"
    );
    assert!(matches!(cause, Cause::Protocol(_)), "{cause}");
}

#[tokio::test]
async fn a_frame_too_large_is_refused_from_its_header_with_1009() {
    // A header announcing 1 GiB: refused before any of it is read or buffered.
    let url = scripted(&[0x82, 0x7F, 0, 0, 0, 0, 0x40, 0, 0, 0]).await;
    let (closed, cause) = first_loss(&url).await;
    assert!(
        matches!(closed, Event::Closed { code: 1009, .. }),
        "{closed:?}"
    );
    assert_eq!(cause, Cause::MessageTooLarge);
}
