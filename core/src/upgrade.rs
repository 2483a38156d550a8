//! The HTTP upgrade (RFC 6455 §4), written and read here rather than by tungstenite.
//!
//! Why our own: tungstenite's client handshake logs the whole request, headers and URL
//! included, at trace level, so any app with a trace-level filter would log bearer tokens,
//! cookies and `?token=` values. Owning the exchange also lets the client say what went wrong
//! in words ("response headers over 64 KiB"), open when a server selects no subprotocol, and
//! negotiate extensions later.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use url::Url;

use crate::deflate::{self, Compression, Params};
use crate::event::Cause;
use crate::policy;

/// Largest response head (status line and headers) accepted.
pub(crate) const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Most response headers accepted.
const MAX_RESPONSE_HEADERS: usize = 128;

/// What the client offers in its upgrade request.
pub(crate) struct Offer<'a> {
    /// The `ws://` or `wss://` URL (path and query go in the request line).
    pub url: &'a Url,
    /// Extra headers, already validated (static ones and the auth provider's).
    pub headers: &'a [(String, String)],
    /// Subprotocols offered, in order of preference.
    pub protocols: &'a [String],
    /// Whether the server must select one of `protocols`.
    pub protocol_required: bool,
    /// The compression to offer (nothing is offered when it is disabled).
    pub compression: &'a Compression,
}

/// The status and headers of the server's answer (values as sent: the caller redacts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// HTTP status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (case-insensitive), trimmed.
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// A successful upgrade.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
    /// permessage-deflate as the server accepted it.
    pub compression: Option<Params>,
    /// Bytes that arrived behind the response head: the start of the first frames.
    pub leftover: Vec<u8>,
}

/// What an upgrade attempt saw: the response head if one arrived, and the outcome.
pub(crate) struct Upgrade {
    pub head: Option<Head>,
    pub outcome: Result<Accepted, Cause>,
}

/// Send the upgrade request on `stream` and read the answer.
pub(crate) async fn perform<S>(stream: &mut S, offer: &Offer<'_>) -> Upgrade
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let key = generate_key();
    let (head, len, buf) = match exchange(stream, &request(offer, &key)).await {
        Ok(read) => read,
        Err(cause) => {
            return Upgrade {
                head: None,
                outcome: Err(cause),
            }
        }
    };
    let outcome = check(&head, &key, offer).map(|(protocol, compression)| Accepted {
        protocol,
        compression,
        leftover: buf[len..].to_vec(),
    });
    Upgrade {
        head: Some(head),
        outcome,
    }
}

/// Write the request, then read until the response head is complete: the head, its length
/// and every byte read.
async fn exchange<S>(stream: &mut S, request: &[u8]) -> Result<(Head, usize, Vec<u8>), Cause>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let send_failed = |e: std::io::Error| {
        Cause::ConnectFailed(format!("sending the upgrade request failed: {e}"))
    };
    stream.write_all(request).await.map_err(send_failed)?;
    stream.flush().await.map_err(send_failed)?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| {
            // Under TLS 1.3 the server judges a client certificate after the handshake: its
            // refusal arrives here, as an alert.
            if e.kind() == std::io::ErrorKind::InvalidData {
                Cause::Tls(crate::tls::failure_text(&e))
            } else {
                Cause::ConnectFailed(format!("reading the upgrade response failed: {e}"))
            }
        })?;
        if n == 0 {
            return Err(Cause::Handshake(
                "the server closed the connection before answering the upgrade".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((head, len)) = parse_head(&buf)? {
            return Ok((head, len, buf));
        }
        if buf.len() > MAX_RESPONSE_HEAD {
            return Err(Cause::Handshake(format!(
                "response headers over {} KiB",
                MAX_RESPONSE_HEAD / 1024
            )));
        }
    }
}

/// The request head: request line, Host, the upgrade headers, subprotocols, extra headers.
pub(crate) fn request(offer: &Offer<'_>, key: &str) -> Vec<u8> {
    let url = offer.url;
    let mut target = url.path().to_string();
    if target.is_empty() {
        target.push('/');
    }
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    // host_str keeps an IPv6 literal's brackets; the port only when it is not the default.
    let host = url.host_str().unwrap_or_default();
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let mut head = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
    );
    if let Some(extensions) = deflate::offer(offer.compression) {
        head.push_str("Sec-WebSocket-Extensions: ");
        head.push_str(&extensions);
        head.push_str("\r\n");
    }
    if !offer.protocols.is_empty() {
        head.push_str("Sec-WebSocket-Protocol: ");
        head.push_str(&offer.protocols.join(", "));
        head.push_str("\r\n");
    }
    for (name, value) in offer.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The response head in `buf` and its length, or `None` while it is incomplete.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, Cause> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Cause::Handshake(format!(
                "response has over {MAX_RESPONSE_HEADERS} headers"
            )))
        }
        Err(e) => {
            return Err(Cause::Handshake(format!(
                "the server's answer is not an HTTP response ({e})"
            )))
        }
    };
    let head = Head {
        status: response.code.unwrap_or(0),
        headers: response
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value).into_owned();
                (h.name.to_string(), value)
            })
            .collect(),
    };
    Ok(Some((head, len)))
}

/// Whether `head` accepts the upgrade offered with `key`: the selected subprotocol and the
/// accepted compression, or why not.
pub(crate) fn check(
    head: &Head,
    key: &str,
    offer: &Offer<'_>,
) -> Result<(Option<String>, Option<Params>), Cause> {
    if head.status != 101 {
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let retry_after = head
            .get("retry-after")
            .and_then(|v| policy::parse_retry_after(v, now_unix));
        return Err(Cause::HandshakeRejected {
            status: head.status,
            retry_after,
        });
    }
    if !head
        .get("upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    {
        return Err(Cause::Handshake(
            "101 response without `Upgrade: websocket`".into(),
        ));
    }
    let connection_upgrade = head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Err(Cause::Handshake(
            "101 response without `Connection: upgrade`".into(),
        ));
    }
    let expected = derive_accept_key(key.as_bytes());
    match head.get("sec-websocket-accept") {
        Some(accept) if accept == expected => {}
        Some(_) => {
            return Err(Cause::Handshake(
                "Sec-WebSocket-Accept does not match the key sent".into(),
            ))
        }
        None => {
            return Err(Cause::Handshake(
                "101 response without Sec-WebSocket-Accept".into(),
            ))
        }
    }
    // Every Sec-WebSocket-Extensions header counts: a server may split its answer.
    let extensions: Vec<&str> = head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-extensions"))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let compression = if extensions.is_empty() {
        None
    } else if offer.compression.enabled {
        let answer = extensions.join(", ");
        Some(deflate::accept(offer.compression, &answer).map_err(Cause::Incompatible)?)
    } else {
        return Err(Cause::Incompatible(format!(
            "the server enabled extension {:?}, which was not offered",
            extensions.join(", ")
        )));
    };
    let protocol = match head.get("sec-websocket-protocol").filter(|v| !v.is_empty()) {
        Some(p) if offer.protocols.iter().any(|o| o == p) => Some(p.to_string()),
        Some(p) => {
            return Err(Cause::Incompatible(format!(
                "the server selected subprotocol {p:?}, which was not offered (offered: {})",
                offered(offer.protocols)
            )))
        }
        None if offer.protocol_required => {
            return Err(Cause::Incompatible(format!(
                "the server selected none of the offered subprotocols ({}) and one is required",
                offered(offer.protocols)
            )))
        }
        None => None,
    };
    Ok((protocol, compression))
}

fn offered(protocols: &[String]) -> String {
    if protocols.is_empty() {
        "none".to_string()
    } else {
        protocols.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    static NO_COMPRESSION: Compression = Compression {
        enabled: false,
        client_max_window_bits: None,
        server_max_window_bits: None,
        client_no_context_takeover: false,
        server_no_context_takeover: false,
        min_size: 0,
    };
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn offer<'a>(url: &'a Url, protocols: &'a [String], required: bool) -> Offer<'a> {
        Offer {
            url,
            headers: &[],
            protocols,
            protocol_required: required,
            compression: &NO_COMPRESSION,
        }
    }

    fn ok_response(extra: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn request_has_target_host_and_offer() {
        let url = Url::parse("ws://[::1]:9001/chat?room=7").unwrap();
        let protocols = vec!["a".to_string(), "b".to_string()];
        let headers = vec![("Authorization".to_string(), "Bearer t".to_string())];
        let o = Offer {
            url: &url,
            headers: &headers,
            protocols: &protocols,
            protocol_required: false,
            compression: &NO_COMPRESSION,
        };
        let text = String::from_utf8(request(&o, KEY)).unwrap();
        assert!(text.starts_with("GET /chat?room=7 HTTP/1.1\r\nHost: [::1]:9001\r\n"));
        assert!(text.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
        assert!(text.contains("Sec-WebSocket-Protocol: a, b\r\n"));
        assert!(text.contains("Authorization: Bearer t\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        let url = Url::parse("wss://example.com").unwrap();
        let text = String::from_utf8(request(&offer(&url, &[], false), KEY)).unwrap();
        assert!(text.starts_with("GET / HTTP/1.1\r\nHost: example.com\r\n"));
    }

    /// Parse a complete head and check it: what `perform` does after the exchange.
    fn parse_response(buf: &[u8], key: &str, o: &Offer<'_>) -> Result<Option<String>, Cause> {
        let (head, _) = parse_head(buf)?.expect("complete head");
        check(&head, key, o).map(|(protocol, _)| protocol)
    }

    #[test]
    fn partial_then_complete_gives_the_head_length() {
        let url = Url::parse("ws://h/").unwrap();
        let o = offer(&url, &[], false);
        let mut bytes = ok_response("");
        let head_len = bytes.len();
        assert_eq!(parse_head(&bytes[..20]), Ok(None));
        bytes.extend_from_slice(b"\x81\x02hi");
        let (head, len) = parse_head(&bytes).unwrap().unwrap();
        assert_eq!(len, head_len);
        assert_eq!(check(&head, KEY, &o), Ok((None, None)));
    }

    #[test]
    fn refusal_carries_status_and_retry_after() {
        let url = Url::parse("ws://h/").unwrap();
        let o = offer(&url, &[], false);
        let r = parse_response(
            b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
            KEY,
            &o,
        );
        assert_eq!(
            r,
            Err(Cause::HandshakeRejected {
                status: 503,
                retry_after: Some(std::time::Duration::from_secs(7))
            })
        );
    }

    #[test]
    fn subprotocol_answers() {
        let url = Url::parse("ws://h/").unwrap();
        let offered = vec!["chat".to_string()];
        // None selected: open without one, unless required (then terminal).
        let none = ok_response("");
        let got = parse_response(&none, KEY, &offer(&url, &offered, false));
        assert_eq!(got, Ok(None));
        let err = parse_response(&none, KEY, &offer(&url, &offered, true)).unwrap_err();
        assert!(
            matches!(&err, Cause::Incompatible(m) if m.contains("chat")),
            "{err}"
        );
        // The offered one.
        let chat = ok_response("Sec-WebSocket-Protocol: chat\r\n");
        let got = parse_response(&chat, KEY, &offer(&url, &offered, true));
        assert_eq!(got, Ok(Some("chat".to_string())));
        // One never offered.
        let other = ok_response("Sec-WebSocket-Protocol: other\r\n");
        let err = parse_response(&other, KEY, &offer(&url, &offered, false)).unwrap_err();
        assert!(matches!(err, Cause::Incompatible(_)));
    }

    #[test]
    fn compression_is_offered_and_its_answer_checked() {
        let url = Url::parse("ws://h/").unwrap();
        let on = Compression::default();
        let o = Offer {
            compression: &on,
            ..offer(&url, &[], false)
        };
        let request = String::from_utf8(request(&o, KEY)).unwrap();
        assert!(
            request.contains("Sec-WebSocket-Extensions: permessage-deflate"),
            "{request}"
        );
        // The answer may come in two headers; both count.
        let split = ok_response(
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n\
             Sec-WebSocket-Extensions: \r\n",
        );
        let (head, _) = parse_head(&split).unwrap().unwrap();
        let (_, params) = check(&head, KEY, &o).unwrap();
        assert_eq!(params.unwrap().server_max_window_bits, 12);
        // An answer outside the offer is terminal.
        let bad = ok_response(
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15\r\n",
        );
        let (head, _) = parse_head(&bad).unwrap().unwrap();
        assert!(matches!(check(&head, KEY, &o), Err(Cause::Incompatible(_))));
        // No extension in the answer: open uncompressed.
        let (head, _) = parse_head(&ok_response("")).unwrap().unwrap();
        assert_eq!(check(&head, KEY, &o), Ok((None, None)));
    }

    #[test]
    fn bad_101_answers_are_refused() {
        let url = Url::parse("ws://h/").unwrap();
        let o = offer(&url, &[], false);
        let wrong_key = b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
            Sec-WebSocket-Accept: nope\r\n\r\n";
        assert!(matches!(
            parse_response(wrong_key, KEY, &o),
            Err(Cause::Handshake(m)) if m.contains("Accept")
        ));
        let no_upgrade = format!("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n");
        assert!(parse_response(no_upgrade.as_bytes(), KEY, &o).is_err());
        // An extension that was never offered (compression off here).
        let ext = ok_response("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        assert!(matches!(
            parse_response(&ext, KEY, &o),
            Err(Cause::Incompatible(_))
        ));
        assert!(matches!(
            parse_head(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(Cause::Handshake(_))
        ));
    }
}
