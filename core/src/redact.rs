//! Keeps secrets out of `Debug`, logs and error text.

use url::Url;

/// Replacement text for a hidden value.
pub const REDACTED: &str = "[redacted]";

/// Header names whose values are credentials.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || n.contains("token")
        || n.contains("secret")
        || n.contains("api-key")
        || n.contains("apikey")
        || n.contains("password")
}

/// Query parameter names whose values look like credentials.
fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "key",
        "secret",
        "password",
        "passwd",
        "pwd",
        "auth",
        "sig",
        "signature",
        "session",
        "jwt",
        "credential",
        "code",
        "ticket",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// A header value safe to print.
pub fn header_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret_header(name) {
        REDACTED
    } else {
        value
    }
}

/// The URL with its password and token-like query values hidden.
pub fn url(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some(REDACTED));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// A URL string we could not parse: keep only what comes before any query or userinfo.
pub fn raw_url(raw: &str) -> String {
    let cut = raw.find(['?', '#']).unwrap_or(raw.len());
    let head = &raw[..cut];
    // Userinfo is whatever precedes the last '@', after the scheme if there is one.
    let start = head.find("://").map_or(0, |s| s + 3);
    let head = match head.rfind('@') {
        Some(at) if at >= start => format!("{}{REDACTED}@{}", &head[..start], &head[at + 1..]),
        _ => head.to_string(),
    };
    if cut < raw.len() {
        format!("{head}?{REDACTED}")
    } else {
        head
    }
}

/// A URL given as text, safe to print: [`url()`] if it parses, else [`raw_url()`].
pub fn url_text(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(u) => url(&u),
        Err(_) => raw_url(raw),
    }
}

/// Hide any secret that appears verbatim in `text` (e.g. a token echoed in an error).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), REDACTED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_token_query_and_password() {
        let u = Url::parse("wss://bob:hunter2@example.com/ws?access_token=abc123&room=7").unwrap();
        let s = url(&u);
        assert!(!s.contains("abc123"), "{s}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("room=7"), "{s}");
    }

    #[test]
    fn hides_secret_headers() {
        assert_eq!(header_value("Authorization", "Bearer x"), REDACTED);
        assert_eq!(header_value("cookie", "a=b"), REDACTED);
        assert_eq!(header_value("X-Request-Id", "42"), "42");
    }

    #[test]
    fn raw_url_drops_query_and_userinfo() {
        let s = raw_url("wss://u:p@host/x?token=zzz");
        assert!(!s.contains("zzz") && !s.contains(":p@"), "{s}");
    }

    #[test]
    fn url_text_hides_secrets_parsed_or_not() {
        for raw in [
            "wss://u:hunter2@h/x?token=zzz",
            "not a url u:hunter2@h?token=zzz",
        ] {
            let s = url_text(raw);
            assert!(!s.contains("hunter2") && !s.contains("zzz"), "{s}");
        }
        assert_eq!(url_text("ws://h/?room=7"), "ws://h/?room=7");
    }

    #[test]
    fn scrub_removes_verbatim_secrets() {
        let s = scrub("bad token sekrit-1 here", &["sekrit-1".into()]);
        assert_eq!(s, "bad token [redacted] here");
    }
}
