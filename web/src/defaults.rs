//! The option defaults, as the core's native builder has them (`wstether::config::DEFAULT_*`,
//! which needs the `native` feature): a test on the host checks they agree.

use std::time::Duration;

/// `connect_timeout`: opening the WebSocket (and asking the URL provider).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes per second per host, shared by every client of the page.
pub const HANDSHAKE_BUDGET: u32 = 50;
/// Largest message either way.
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;
/// How long `close()` waits for the server's close frame.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes handed to the browser's socket and not yet sent (`bufferedAmount`) beyond which the
/// rest waits in the outbox, as the native engine's write-ahead.
pub const WRITE_AHEAD: u64 = 256 * 1024;
/// How often a link with bytes still buffered looks at `bufferedAmount` again (the browser
/// has no event for "drained").
pub const DRAIN_POLL: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;
    use wstether::config;

    #[test]
    fn the_browser_defaults_are_the_cores() {
        assert_eq!(CONNECT_TIMEOUT, config::DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(HANDSHAKE_BUDGET, config::DEFAULT_HANDSHAKE_BUDGET);
        assert_eq!(MAX_MESSAGE_SIZE, config::DEFAULT_MAX_MESSAGE_SIZE);
        assert_eq!(CLOSE_TIMEOUT, config::DEFAULT_CLOSE_TIMEOUT);
    }
}
