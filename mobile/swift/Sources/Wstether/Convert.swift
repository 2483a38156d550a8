import Foundation
import WstetherFFI

/// Every conversion between this layer's types and the generated ones, in one place.
enum Convert {
    // MARK: errors

    /// Run a native call, turning its errors into `WstetherError`s.
    static func native<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as FfiError {
            throw error(e)
        }
    }

    static func error(_ e: FfiError) -> WstetherError {
        switch e {
        case let .InvalidUrl(url, reason, d): return .invalidUrl(url: url, reason: reason, message: d)
        case let .InvalidScheme(scheme, d): return .invalidScheme(scheme: scheme, message: d)
        case let .InvalidHeader(name, reason, d): return .invalidHeader(name: name, reason: reason, message: d)
        case let .InvalidOption(option, reason, d): return .invalidOption(option: option, reason: reason, message: d)
        case let .InvalidCertificate(reason, d): return .invalidCertificate(reason: reason, message: d)
        case let .MessageTooLarge(size, max, d): return .messageTooLarge(size: Int(size), max: Int(max), message: d)
        case let .QueueFull(messages, bytes, d): return .queueFull(messages: Int(messages), bytes: Int(bytes), message: d)
        case let .InvalidCloseCode(code, d): return .invalidCloseCode(code: Int(code), message: d)
        case let .CloseReasonTooLong(bytes, d): return .closeReasonTooLong(bytes: Int(bytes), message: d)
        case let .Closed(d): return .closed(message: d)
        case let .Failed(d): return .failed(message: d)
        case let .EventsTaken(d): return .internal(message: d)
        case let .Timeout(seconds, d): return .timeout(after: seconds, message: d)
        case let .Callback(d): return .internal(message: d)
        }
    }

    private static func invalid(_ option: String, _ reason: String) -> WstetherError {
        .invalidOption(option: option, reason: reason, message: "invalid option \(option): \(reason)")
    }

    // Integers the generated code carries unsigned: refuse negatives instead of trapping.
    private static func u32(_ option: String, _ v: Int) throws -> UInt32 {
        guard let u = UInt32(exactly: v) else { throw invalid(option, "must be between 0 and \(UInt32.max)") }
        return u
    }

    private static func u64(_ option: String, _ v: Int) throws -> UInt64 {
        guard let u = UInt64(exactly: v) else { throw invalid(option, "must not be negative") }
        return u
    }

    private static func u16(_ option: String, _ v: Int) throws -> UInt16 {
        guard let u = UInt16(exactly: v) else { throw invalid(option, "must be between 0 and 65535") }
        return u
    }

    /// A close code for the native call; out-of-range codes get the core's error.
    static func closeCode(_ code: Int) throws -> UInt16 {
        guard let u = UInt16(exactly: code) else {
            throw WstetherError.invalidCloseCode(code: code, message: "invalid close code \(code): use 1000 or 3000-4999")
        }
        return u
    }

    // MARK: options (durations cross as seconds; the core refuses negative, NaN and infinite)

    static func options(_ o: ClientOptions) throws -> FfiOptions {
        try FfiOptions(
            protocols: o.protocols,
            headers: o.headers.map { FfiHeader(name: $0.key, value: $0.value) },
            connectTimeoutSecs: o.connectTimeout,
            backoff: FfiBackoff(
                initialSecs: o.backoff.initial,
                maxSecs: o.backoff.max,
                factor: o.backoff.factor,
                jitter: o.backoff.jitter,
                stableAfterSecs: o.backoff.stableAfter
            ),
            maxRetries: o.maxRetries.map { try u32("maxRetries", $0) },
            maxElapsedSecs: o.maxElapsed,
            heartbeat: o.heartbeat.map { hb in
                FfiHeartbeat(
                    intervalSecs: hb.interval,
                    timeoutSecs: hb.timeout,
                    appPing: hb.appPing.map { FfiAppPing(payload: messageOut($0.payload), pong: pongMatch($0.pong)) }
                )
            },
            outboxMaxMessages: u64("outboxMaxMessages", o.outboxMaxMessages),
            outboxMaxBytes: u64("outboxMaxBytes", o.outboxMaxBytes),
            handshakeBudget: o.handshakeBudget.map { try u32("handshakeBudget", $0) },
            greeting: o.greeting.map(messageOut),
            terminalCloseCodes: o.terminalCloseCodes.map { try u16("terminalCloseCodes", $0) },
            terminalStatuses: o.terminalStatuses.map { try u16("terminalStatuses", $0) },
            maxMessageSize: u64("maxMessageSize", o.maxMessageSize),
            rootCertificatePem: o.rootCertificatePem,
            eventBuffer: u64("eventBuffer", o.eventBuffer),
            closeTimeoutSecs: o.closeTimeout,
            requireProtocol: o.requireProtocol,
            compression: FfiCompression(
                enabled: o.compression.enabled,
                clientMaxWindowBits: try o.compression.clientMaxWindowBits.map {
                    try windowBits("compression.client_max_window_bits", Limits.minClientWindowBits, $0)
                },
                serverMaxWindowBits: try o.compression.serverMaxWindowBits.map {
                    try windowBits("compression.server_max_window_bits", Limits.minServerWindowBits, $0)
                },
                clientNoContextTakeover: o.compression.clientNoContextTakeover,
                serverNoContextTakeover: o.compression.serverNoContextTakeover
            ),
            transport: transport(o)
        )
    }

    // What a byte cannot hold gets the core's message (the core checks the rest, by its names).
    private static func windowBits(_ option: String, _ min: Int, _ v: Int) throws -> UInt8 {
        guard let u = UInt8(exactly: v) else { throw invalid(option, "must be \(min) to \(Limits.maxWindowBits) (got \(v))") }
        return u
    }

    private static func pongMatch(_ p: PongMatch) -> FfiPongMatch {
        switch p {
        case let .exact(t): return .exact(text: t)
        case let .contains(t): return .contains(text: t)
        }
    }

    // MARK: messages and events

    static func messageOut(_ m: Message) -> FfiMessage {
        switch m {
        case let .text(t): return .text(text: t)
        case let .binary(d): return .binary(data: d)
        }
    }

    static func messageIn(_ m: FfiMessage) -> Message {
        switch m {
        case let .text(t): return .text(t)
        case let .binary(d): return .binary(d)
        }
    }

    static func sendStatus(_ s: FfiSendStatus) -> SendStatus {
        switch s {
        case .sent: return .sent
        case .queued: return .queued
        }
    }

    static func state(_ s: FfiState) -> State {
        switch s {
        case .idle: return .idle
        case .connecting: return .connecting
        case .open: return .open
        case .waiting: return .waiting
        case .paused: return .paused
        case .closing: return .closing
        case .closed: return .closed
        case .failed: return .failed
        }
    }

    private static func initiator(_ i: FfiInitiator) -> Initiator {
        switch i {
        case .local: return .local
        case .remote: return .remote
        case .network: return .network
        }
    }

    private static func errorKind(_ k: FfiErrorKind) -> ErrorKind {
        switch k {
        case .connect: return .connect
        case .auth: return .auth
        case .link: return .link
        case .callback: return .callback
        }
    }

    /// The proxy, pinned and client certificates and fixed addresses.
    private static func transport(_ o: ClientOptions) -> FfiTransport {
        let proxy: FfiProxy
        switch o.proxy {
        case .fromEnvironment: proxy = .fromEnv
        case .off: proxy = .off
        case let .url(url): proxy = .url(url: url)
        }
        return FfiTransport(
            proxy: proxy,
            pinnedCertificatePem: o.pinnedCertificatePem,
            clientCertificatePem: o.clientCertificatePem,
            clientKeyPem: o.clientKeyPem,
            resolve: o.resolve.map { FfiResolve(host: $0.key, addresses: $0.value) }
        )
    }

    private static func causeKind(_ k: FfiCauseKind) -> CauseKind {
        switch k {
        case .connectFailed: return .connectFailed
        case .connectTimeout: return .connectTimeout
        case .tls: return .tls
        case .handshakeRejected: return .handshakeRejected
        case .handshake: return .handshake
        case .auth: return .auth
        case .urlProvider: return .urlProvider
        case .proxyRejected: return .proxyRejected
        case .socksRejected: return .socksRejected
        case .proxyAuth: return .proxyAuth
        case .incompatible: return .incompatible
        case .closed: return .closed
        case .heartbeatTimeout: return .heartbeatTimeout
        case .writeStalled: return .writeStalled
        case .network: return .network
        case .protocol: return .protocol
        case .messageTooLarge: return .messageTooLarge
        case .networkChanged: return .networkChanged
        case .retriesExhausted: return .retriesExhausted
        case .elapsedExhausted: return .elapsedExhausted
        case .internal: return .internal
        }
    }

    private static func cause(_ c: FfiCause) -> Cause {
        Cause(
            kind: causeKind(c.kind),
            description: c.description,
            status: c.status.map { Int($0) },
            retryAfter: c.retryAfterSecs,
            closeCode: c.closeCode.map { Int($0) },
            closeReason: c.closeReason,
            attempts: c.attempts.map { Int($0) },
            elapsed: c.elapsedSecs,
            lastKind: c.lastKind.map(causeKind),
            lastDescription: c.lastDescription,
            socksReply: c.socksReply.map { Int($0) }
        )
    }

    static func event(_ e: FfiEvent) -> Event {
        switch e {
        case let .message(m): return .message(messageIn(m))
        case let .stateChanged(s): return .stateChanged(state(s))
        case let .connecting(attempt): return .connecting(attempt: Int(attempt))
        case let .open(attempt, proto, compression, address):
            return .open(attempt: Int(attempt), protocol: proto, compression: compression, address: address)
        case let .pong(rtt): return .pong(rtt: rtt)
        case let .closed(code, reason, who, again):
            return .closed(code: Int(code), reason: reason, initiator: initiator(who), willReconnect: again)
        case let .reconnecting(attempt, delay, c):
            return .reconnecting(attempt: Int(attempt), delay: delay, cause: cause(c))
        case let .error(kind, message): return .error(kind: errorKind(kind), message: message)
        case let .failed(reason, unsent): return .failed(reason: cause(reason), unsent: unsent.map(messageIn))
        }
    }

    // MARK: stats

    static func stats(_ s: FfiStats) -> Stats {
        Stats(
            attempts: Int(s.attempts), opens: Int(s.opens),
            messagesIn: Int(s.messagesIn), messagesOut: Int(s.messagesOut),
            bytesIn: Int(s.bytesIn), bytesOut: Int(s.bytesOut),
            queuedMessages: Int(s.queuedMessages), queuedBytes: Int(s.queuedBytes),
            lastRtt: s.lastRttSecs,
            lastClose: s.lastClose.map { CloseInfo(code: Int($0.code), reason: $0.reason) },
            timeConnected: s.timeConnectedSecs, timeDisconnected: s.timeDisconnectedSecs,
            address: s.address
        )
    }

    static func transition(_ t: FfiTransition) -> Transition {
        Transition(
            at: Date(timeIntervalSince1970: Double(t.atUnixMs) / 1000),
            from: state(t.from), to: state(t.to), cause: t.cause
        )
    }
}
