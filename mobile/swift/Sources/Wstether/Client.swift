import Foundation
import WstetherFFI

/// Receives a client's events, in order, on the client's event thread (never concurrently).
/// A thrown error is caught and logged (`NSLog`), then reported once as `.error(kind: .callback)`
/// to the delegate and the `events` stream right after the event; one thrown while handling an
/// `.error` event is only logged (no loop). The client goes on.
/// Hop to the main actor yourself for UI work (`Task { @MainActor in … }`).
public protocol ClientDelegate: AnyObject, Sendable {
    func client(_ client: Client, didReceive event: Event) throws
}

/// A WebSocket client that stays connected (see docs/contract.md): reconnects with backoff, detects dead
/// links, queues messages while disconnected and hands back what was never sent.
///
/// ```swift
/// let client = try Client(url: "wss://example.com/ws")
/// let events = client.events          // take the stream before connect()
/// try client.connect()
/// try client.send(text: "hello")
/// for await event in events {
///     if case let .message(.text(t)) = event { print(t) }
/// }
/// ```
///
/// Events are pulled from the core in batches by one thread per client and handed to the
/// delegate and to `events`. The client runs until `close()` (or `.failed`).
public final class Client: @unchecked Sendable {
    private let native: FfiClient
    private let lock = NSLock()
    private weak var _delegate: ClientDelegate?
    private var continuation: AsyncStream<Event>.Continuation?
    private var stream: AsyncStream<Event>?
    private var ended = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    /// Receives every event on the event thread. Held weakly.
    public var delegate: ClientDelegate? {
        get { locked { _delegate } }
        set { locked { _delegate = newValue } }
    }

    /// Validates every option and builds the client (idle; call `connect()`).
    /// - Throws: `WstetherError` for a bad URL, header or option.
    public convenience init(url: String, options: ClientOptions = ClientOptions()) throws {
        let ffiOptions = try Convert.options(options)
        try self.init(options: options, native: try Convert.native {
            try FfiClient(
                url: url,
                options: ffiOptions,
                auth: options.auth.map { NativeAuth($0) },
                greeting: options.greetingProvider.map { NativeGreeting($0) }
            )
        })
    }

    /// A client whose URL `urlProvider` names before every attempt (e.g. a one-time URL fetched
    /// over HTTPS, as Slack's Socket Mode hands out).
    public convenience init(urlProvider: UrlProviding, options: ClientOptions = ClientOptions()) throws {
        let ffiOptions = try Convert.options(options)
        try self.init(options: options, native: try Convert.native {
            try FfiClient.withUrlProvider(
                urlProvider: NativeUrl(urlProvider),
                options: ffiOptions,
                auth: options.auth.map { NativeAuth($0) },
                greeting: options.greetingProvider.map { NativeGreeting($0) }
            )
        })
    }

    private init(options: ClientOptions, native: FfiClient) throws {
        self.native = native
        let batch = UInt32(Swift.max(1, Swift.min(options.eventBatchSize, 4096)))
        let t = Thread { [native, weak self] in
            // Blocks in Rust without holding any Swift lock; empty means the stream ended.
            while true {
                let events = native.nextBatch(max: batch)
                if events.isEmpty { break }
                guard let self else { continue }
                for e in events { self.dispatch(Convert.event(e)) }
            }
            self?.streamEnded()
        }
        t.name = "wstether-events"
        thread = t
        t.start()
    }

    /// The events as an `AsyncStream`, for one consumer; take it before `connect()` to see every
    /// event. It finishes after the terminal event. It buffers without bound: a consumer that
    /// stops reading grows memory (the delegate, which runs on the event thread, slows the
    /// socket instead).
    public var events: AsyncStream<Event> {
        locked {
            if let stream { return stream }
            let (s, c) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
            stream = s
            continuation = c
            if ended { c.finish() }
            return s
        }
    }

    /// Start connecting. Does nothing while connecting or open.
    public func connect() throws { try Convert.native { try native.connect() } }

    /// Queue a text message; never blocks. `.queued` while not open.
    @discardableResult
    public func send(text: String) throws -> SendStatus {
        try Convert.native { Convert.sendStatus(try native.sendText(text: text)) }
    }

    /// Queue a binary message; never blocks.
    @discardableResult
    public func send(data: Data) throws -> SendStatus {
        try Convert.native { Convert.sendStatus(try native.sendBinary(data: data)) }
    }

    /// Close with `code` (1000 or 3000–4999) and `reason`; returns every accepted message never
    /// written, in order. Idempotent. Returns after the last event was delivered.
    @discardableResult
    public func close(code: Int = 1000, reason: String = "") async throws -> [Message] {
        let c = try Convert.closeCode(code)
        let unsent: [FfiMessage]
        do {
            unsent = try await native.shutdown(code: c, reason: reason)
        } catch let e as FfiError {
            throw Convert.error(e)
        }
        if Thread.current !== thread {
            // The stream ends right after close completes; wait off the cooperative pool.
            await withCheckedContinuation { (k: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async { [finished] in
                    _ = finished.wait(timeout: .now() + 10)
                    finished.signal() // let later close() calls pass too
                    k.resume()
                }
            }
        }
        return unsent.map(Convert.messageIn)
    }

    /// Close the link and stay disconnected until `resume()` (app in background).
    public func pause() throws { try Convert.native { try native.pause() } }

    /// Leave the paused state and connect at once (app in foreground).
    public func resume() throws { try Convert.native { try native.resume() } }

    /// Skip the current backoff delay.
    public func reconnectNow() throws { try Convert.native { try native.reconnectNow() } }

    /// Move to `url` at once (a server-directed reconnect, as Twitch and Discord send): the link
    /// closes with 1000 and the client connects to `url` without a backoff delay; `url` is the
    /// client's URL from then on (with a `UrlProviding`: the next attempt only).
    public func reconnectTo(_ url: String) throws { try Convert.native { try native.reconnectTo(url: url) } }

    /// The network changed (NWPathMonitor): verify the link now with a short ping.
    public func networkChanged() throws { try Convert.native { try native.networkChanged() } }

    /// The current state.
    public var state: State { Convert.state(native.state()) }

    /// The URL with its password and token-like query values hidden (the core's redaction).
    public var url: String { native.redactedUrl() }

    /// A snapshot of the counters.
    public func stats() -> Stats { Convert.stats(native.stats()) }

    /// The last 64 state changes, oldest first.
    public func history() -> [Transition] { native.history().map(Convert.transition) }

    // MARK: event thread

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private func dispatch(_ event: Event) {
        let (delegate, continuation) = locked { (_delegate, self.continuation) }
        var report: Event?
        if let delegate {
            report = deliver(event, to: delegate)
        }
        continuation?.yield(event)
        // The report follows the event whose callback threw (tests/README.md, `callback-error`).
        if let report {
            if let delegate { _ = deliver(report, to: delegate) }
            continuation?.yield(report)
        }
    }

    // The core's rule: log, and return the report to deliver unless the delegate was handling
    // an `.error` event (reporting that as another error could loop).
    private func deliver(_ event: Event, to delegate: ClientDelegate) -> Event? {
        do {
            try delegate.client(self, didReceive: event)
            return nil
        } catch {
            var handlingError = false
            if case .error = event { handlingError = true }
            let failure = callbackFailure(callback: "delegate", exception: "\(error)", handlingError: handlingError)
            NSLog("wstether: %@", failure.message)
            return failure.report.map(Convert.event)
        }
    }

    private func streamEnded() {
        locked {
            ended = true
            continuation?.finish()
        }
        finished.signal()
    }
}

/// `print(client)`: the redacted URL and the state, safe to log.
extension Client: CustomStringConvertible {
    public var description: String { "Client(url: \(url), state: \(state))" }
}
