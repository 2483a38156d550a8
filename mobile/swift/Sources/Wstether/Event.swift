import Foundation

/// A data message, inbound or outbound.
public enum Message: Sendable, Equatable, Hashable {
    /// A UTF-8 text message.
    case text(String)
    /// A binary message.
    case binary(Data)
}

/// The client's lifecycle state (docs/contract.md, "States").
public enum State: String, Sendable {
    case idle, connecting, open, waiting, paused, closing, closed, failed
}

/// Which side ended a link.
public enum Initiator: String, Sendable {
    /// This client closed it.
    case local
    /// The server sent a close frame.
    case remote
    /// The socket failed, or the heartbeat found the link dead.
    case network
}

/// What kind of trouble an `.error` event reports.
public enum ErrorKind: String, Sendable {
    case connect, auth, link, callback
}

/// Stable kinds of `Cause`; the raw value is the name every language shares.
public enum CauseKind: String, Sendable {
    case connectFailed = "connect_failed"
    case connectTimeout = "connect_timeout"
    case tls
    case handshakeRejected = "handshake_rejected"
    case handshake
    case auth
    /// The URL provider threw or named no `ws://`/`wss://` URL.
    case urlProvider = "url_provider"
    /// The HTTP proxy refused `CONNECT`; `status` is its status (401/407: terminal).
    case proxyRejected = "proxy_rejected"
    /// The SOCKS5 proxy refused; `socksReply` is its reply code.
    case socksRejected = "socks_rejected"
    /// The SOCKS5 proxy refused the credentials (terminal).
    case proxyAuth = "proxy_auth"
    case incompatible
    case closed
    case heartbeatTimeout = "heartbeat_timeout"
    case writeStalled = "write_stalled"
    case network
    case `protocol`
    case messageTooLarge = "message_too_large"
    case networkChanged = "network_changed"
    case retriesExhausted = "retries_exhausted"
    case elapsedExhausted = "elapsed_exhausted"
    case `internal`
}

/// Why a link ended or an attempt failed; fields that do not apply to `kind` are nil.
public struct Cause: Sendable, Equatable, CustomStringConvertible {
    public let kind: CauseKind
    public let description: String
    /// HTTP status of a rejected handshake.
    public let status: Int?
    /// `Retry-After` of a rejected handshake.
    public let retryAfter: TimeInterval?
    public let closeCode: Int?
    public let closeReason: String?
    /// Attempts made, for `.retriesExhausted`.
    public let attempts: Int?
    /// Time without a link, for `.elapsedExhausted`.
    public let elapsed: TimeInterval?
    /// The last failure behind the two "exhausted" kinds.
    public let lastKind: CauseKind?
    public let lastDescription: String?
    /// The SOCKS5 reply code, for `.socksRejected`.
    public let socksReply: Int?
}

/// Something the client tells its user, in order, one at a time (docs/contract.md, "Events").
public enum Event: Sendable, Equatable {
    case stateChanged(State)
    case connecting(attempt: Int)
    /// `compression`: the negotiated extension, nil when uncompressed; `address`: `ip:port`.
    case open(attempt: Int, protocol: String?, compression: String?, address: String?)
    case message(Message)
    case pong(rtt: TimeInterval)
    case closed(code: Int, reason: String, initiator: Initiator, willReconnect: Bool)
    case reconnecting(attempt: Int, delay: TimeInterval, cause: Cause)
    /// Something failed and the client is still trying.
    case error(kind: ErrorKind, message: String)
    /// Terminal: the client gave up; `unsent` holds every accepted message never written.
    case failed(reason: Cause, unsent: [Message])
}

/// What `send` did with a message.
public enum SendStatus: Sendable {
    /// The link is open: the message goes out now.
    case sent
    /// The link is not open: the message waits in the outbox for the next open.
    case queued
}

/// The code and reason of a link's end.
public struct CloseInfo: Sendable, Equatable {
    public let code: Int
    public let reason: String
}

/// A snapshot of one client's counters.
public struct Stats: Sendable, Equatable {
    public let attempts: Int
    public let opens: Int
    public let messagesIn: Int
    public let messagesOut: Int
    public let bytesIn: Int
    public let bytesOut: Int
    public let queuedMessages: Int
    public let queuedBytes: Int
    public let lastRtt: TimeInterval?
    public let lastClose: CloseInfo?
    public let timeConnected: TimeInterval
    public let timeDisconnected: TimeInterval
    /// `ip:port` the last link's TCP connection reached (the proxy's through a proxy).
    public let address: String?
}

/// One state change of the flight recorder.
public struct Transition: Sendable, Equatable {
    public let at: Date
    public let from: State
    public let to: State
    public let cause: String
}
