import Foundation

/// Everything a wstether call can refuse; each bad input gets its own case.
/// `message` is the core's text (secrets redacted).
public enum WstetherError: Error, Sendable, CustomStringConvertible {
    case invalidUrl(url: String, reason: String, message: String)
    case invalidScheme(scheme: String, message: String)
    case invalidHeader(name: String, reason: String, message: String)
    case invalidOption(option: String, reason: String, message: String)
    case invalidCertificate(reason: String, message: String)
    case messageTooLarge(size: Int, max: Int, message: String)
    case queueFull(messages: Int, bytes: Int, message: String)
    case invalidCloseCode(code: Int, message: String)
    case closeReasonTooLong(bytes: Int, message: String)
    /// The client was closed: it accepts no more messages or commands.
    case closed(message: String)
    /// The client gave up: it accepts no more messages.
    case failed(message: String)
    case timeout(after: TimeInterval, message: String)
    /// A provider callback threw, or the native library reported an internal error.
    case `internal`(message: String)

    public var description: String {
        switch self {
        case let .invalidUrl(_, _, m), let .invalidScheme(_, m), let .invalidHeader(_, _, m),
             let .invalidOption(_, _, m), let .invalidCertificate(_, m), let .messageTooLarge(_, _, m),
             let .queueFull(_, _, m), let .invalidCloseCode(_, m), let .closeReasonTooLong(_, m),
             let .closed(m), let .failed(m), let .timeout(_, m), let .internal(m):
            return m
        }
    }
}
