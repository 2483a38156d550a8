import Foundation
import WstetherFFI

/// The core's defaults, read once from the native library so no number is restated here.
enum CoreDefaults {
    static let options: FfiOptions = defaultOptions()
}

/// The largest value each option accepts: the core's limits, read from the native library. A
/// larger value makes `Client(url:options:)` throw `.invalidOption` naming the limit.
public enum Limits {
    static let core: FfiLimits = optionLimits()
    /// Every duration option, in seconds (365 days).
    public static var maxDuration: TimeInterval { core.maxDurationSecs }
    /// `ClientOptions.maxMessageSize`, in bytes.
    public static var maxMessageSize: Int { Int(core.maxMessageSize) }
    /// `ClientOptions.outboxMaxMessages`.
    public static var maxOutboxMessages: Int { Int(core.maxOutboxMessages) }
    /// `ClientOptions.outboxMaxBytes`.
    public static var maxOutboxBytes: Int { Int(core.maxOutboxBytes) }
    /// `ClientOptions.eventBuffer`, in messages.
    public static var maxEventBuffer: Int { Int(core.maxEventBuffer) }
    /// `ClientOptions.handshakeBudget`, handshakes per second per host.
    public static var maxHandshakeBudget: Int { Int(core.maxHandshakeBudget) }
    /// `ClientOptions.maxRetries`.
    public static var maxRetries: Int { Int(core.maxRetries) }
    /// Largest `Compression` window in either direction, in bits.
    public static var maxWindowBits: Int { Int(core.maxWindowBits) }
    /// Smallest `Compression.clientMaxWindowBits`.
    public static var minClientWindowBits: Int { Int(core.minClientWindowBits) }
    /// Smallest `Compression.serverMaxWindowBits`.
    public static var minServerWindowBits: Int { Int(core.minServerWindowBits) }
}

/// permessage-deflate (RFC 7692), offered by default with the core's parameters; `.off` offers
/// nothing. Windows are 2^bits bytes (`Limits` gives the ranges, checked when the client is
/// built). `Event.open`'s `compression` says what the server agreed to.
public struct Compression: Sendable, Equatable {
    /// Offer it at all.
    public var enabled: Bool = CoreDefaults.options.compression.enabled
    /// Our compressor's window in bits, offered as a hint; nil offers no limit.
    public var clientMaxWindowBits: Int? = CoreDefaults.options.compression.clientMaxWindowBits.map { Int($0) }
    /// Ask the server to compress with at most this window; nil lets it choose.
    public var serverMaxWindowBits: Int? = CoreDefaults.options.compression.serverMaxWindowBits.map { Int($0) }
    /// Compress each outgoing message on its own (nothing kept between messages).
    public var clientNoContextTakeover: Bool = CoreDefaults.options.compression.clientNoContextTakeover
    /// Ask the server to compress each message on its own.
    public var serverNoContextTakeover: Bool = CoreDefaults.options.compression.serverNoContextTakeover
    public init() {}
    /// No compression: nothing is offered.
    public static var off: Compression {
        var c = Compression()
        c.enabled = false
        return c
    }
}

/// The reconnect delay curve: exponential from `initial`, capped at `max`, jittered.
public struct Backoff: Sendable {
    public var initial: TimeInterval = CoreDefaults.options.backoff.initialSecs
    public var max: TimeInterval = CoreDefaults.options.backoff.maxSecs
    /// Growth per failed attempt (≥ 1).
    public var factor: Double = CoreDefaults.options.backoff.factor
    /// 0.0–1.0: the fraction of each delay randomised away.
    public var jitter: Double = CoreDefaults.options.backoff.jitter
    /// A link must stay open this long before the curve starts again from `initial`.
    public var stableAfter: TimeInterval = CoreDefaults.options.backoff.stableAfterSecs
    public init() {}
}

/// How an application-level pong is recognised.
public enum PongMatch: Sendable {
    case exact(String)
    case contains(String)
}

/// An application-level ping and how to recognise its answer.
public struct AppPing: Sendable {
    public var payload: Message
    public var pong: PongMatch
    public init(payload: Message, pong: PongMatch) { self.payload = payload; self.pong = pong }
}

/// Keep-alive: the link is dead when nothing arrived for `interval` + `timeout`.
public struct Heartbeat: Sendable {
    public var interval: TimeInterval = CoreDefaults.options.heartbeat?.intervalSecs ?? 30
    public var timeout: TimeInterval = CoreDefaults.options.heartbeat?.timeoutSecs ?? 10
    public var appPing: AppPing?
    public init(interval: TimeInterval? = nil, timeout: TimeInterval? = nil, appPing: AppPing? = nil) {
        if let interval { self.interval = interval }
        if let timeout { self.timeout = timeout }
        self.appPing = appPing
    }
}

/// What an `AuthProviding` is told about the attempt it is called for.
public struct AuthRequest: Sendable {
    /// Attempt number since the last stable link, from 1.
    public let attempt: Int
    /// The previous attempt was rejected with 401: return fresh credentials.
    public let afterUnauthorized: Bool
}

/// Supplies handshake headers before every attempt. Called on a native background thread
/// (never the main thread), so it may block to refresh a token; a thrown error fails that
/// attempt with `.error(kind: .auth)` and the client retries.
public protocol AuthProviding: Sendable {
    func headers(for request: AuthRequest) throws -> [String: String]
}

/// Computes the greeting (sent first on every open, before the outbox). Keep it quick.
public protocol GreetingProviding: Sendable {
    func greeting() throws -> [Message]
}

/// Names the URL of every attempt (e.g. a one-time URL fetched over HTTPS). Called on a native
/// background thread, so it may block; a thrown error fails that attempt (`.urlProvider`).
public protocol UrlProviding: Sendable {
    func url(for request: AuthRequest) throws -> String
}

/// Which proxy attempts go through.
public enum ProxySetting: Sendable, Equatable, CustomStringConvertible {
    /// From the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), as curl reads it.
    case fromEnvironment
    /// Always direct.
    case off
    /// Always through this proxy: `http://user:pass@host:port`, `https://…` or `socks5h://…`.
    case url(String)

    /// The proxy URL with its password hidden (the core's redaction).
    public var description: String {
        switch self {
        case .fromEnvironment: return "fromEnvironment"
        case .off: return "off"
        case let .url(u): return "url(\(redactedUrl(url: u)))"
        }
    }
}

/// Every option of docs/contract.md "Options and defaults"; defaults come from the core.
public struct ClientOptions: Sendable {
    /// Subprotocols offered; a server that selects none opens with `protocol == nil`.
    public var protocols: [String] = []
    /// A server that selects none of `protocols` fails the client (`.failed`, cause `.incompatible`).
    public var requireProtocol: Bool = CoreDefaults.options.requireProtocol
    /// permessage-deflate; `.off` turns it off.
    public var compression = Compression()
    /// Static handshake headers; CR/LF in a value is an error.
    public var headers: [String: String] = [:]
    public var auth: AuthProviding?
    public var connectTimeout: TimeInterval = CoreDefaults.options.connectTimeoutSecs
    public var backoff = Backoff()
    /// nil: never give up on attempts.
    public var maxRetries: Int?
    /// nil: never give up on time.
    public var maxElapsed: TimeInterval?
    /// nil turns the heartbeat off (not advised).
    public var heartbeat: Heartbeat? = Heartbeat()
    public var outboxMaxMessages: Int = Int(CoreDefaults.options.outboxMaxMessages)
    public var outboxMaxBytes: Int = Int(CoreDefaults.options.outboxMaxBytes)
    /// Handshakes per second per host for the whole process; nil turns the guard off.
    public var handshakeBudget: Int? = CoreDefaults.options.handshakeBudget.map { Int($0) }
    public var greeting: [Message] = []
    public var greetingProvider: GreetingProviding?
    public var terminalCloseCodes: [Int] = CoreDefaults.options.terminalCloseCodes.map { Int($0) }
    public var terminalStatuses: [Int] = CoreDefaults.options.terminalStatuses.map { Int($0) }
    public var maxMessageSize: Int = Int(CoreDefaults.options.maxMessageSize)
    /// An extra trusted root CA (PEM). There is no way to skip verification.
    public var rootCertificatePem: String?
    public var eventBuffer: Int = Int(CoreDefaults.options.eventBuffer)
    public var closeTimeout: TimeInterval = CoreDefaults.options.closeTimeoutSecs
    /// Most events carried per native call.
    public var eventBatchSize: Int = 512
    /// The proxy (default: from the environment); refusals are `.proxyRejected` and kin.
    public var proxy: ProxySetting = .fromEnvironment
    /// Trust exactly these server certificates (PEM), self-signed or CA-flagged; their validity
    /// and names are still checked. With any pin, the roots are not consulted.
    public var pinnedCertificatePem: [String] = []
    /// A client certificate chain (PEM) for mutual TLS; needs `clientKeyPem`.
    public var clientCertificatePem: String?
    /// Its private key (PEM). Never shown.
    public var clientKeyPem: String?
    /// Addresses used instead of DNS, e.g. `["example.test": ["::1", "127.0.0.1"]]`.
    public var resolve: [String: [String]] = [:]
    public init() {}
}

/// `print(options)`, `dump(options)`, `String(reflecting:)`: every option, with secret header
/// values redacted by the core and providers shown only as present, never their contents.
extension ClientOptions: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var customMirror: Mirror {
        let shownHeaders = Dictionary(uniqueKeysWithValues: headers.map {
            ($0.key, redactedHeaderValue(name: $0.key, value: $0.value))
        })
        return Mirror(self, children: [
            "protocols": protocols,
            "requireProtocol": requireProtocol,
            "compression": compression,
            "headers": shownHeaders,
            "auth": auth == nil ? "nil" : "<provider>",
            "connectTimeout": connectTimeout,
            "backoff": backoff,
            "maxRetries": maxRetries as Any,
            "maxElapsed": maxElapsed as Any,
            "heartbeat": heartbeat as Any,
            "outboxMaxMessages": outboxMaxMessages,
            "outboxMaxBytes": outboxMaxBytes,
            "handshakeBudget": handshakeBudget as Any,
            "greeting": "<\(greeting.count) messages>",
            "greetingProvider": greetingProvider == nil ? "nil" : "<provider>",
            "terminalCloseCodes": terminalCloseCodes,
            "terminalStatuses": terminalStatuses,
            "maxMessageSize": maxMessageSize,
            "rootCertificatePem": rootCertificatePem.map { "<\($0.count) chars>" } ?? "nil",
            "eventBuffer": eventBuffer,
            "closeTimeout": closeTimeout,
            "eventBatchSize": eventBatchSize,
            "proxy": proxy.description,
            "pinnedCertificatePem": "<\(pinnedCertificatePem.count) certificates>",
            "clientCertificatePem": clientCertificatePem == nil ? "nil" : "<set>",
            "clientKeyPem": clientKeyPem == nil ? "nil" : "<redacted>",
            "resolve": resolve,
        ], displayStyle: .struct)
    }

    public var description: String {
        let fields = customMirror.children.map { "\($0.label ?? ""): \($0.value)" }
        return "ClientOptions(\(fields.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }
}
