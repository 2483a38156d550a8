import Foundation
import XCTest
@testable import Wstether

/// The named scenarios of tests/README.md against wstether-testd (mirrors the Kotlin suite).
final class ScenarioTests: XCTestCase {
    private func closedEvents(_ r: Recorder) -> [(code: Int, initiator: Initiator, again: Bool)] {
        r.events.compactMap { if case let .closed(c, _, i, a) = $0 { return (c, i, a) } else { return nil } }
    }

    private func reconnects(_ r: Recorder) -> [(attempt: Int, delay: TimeInterval, cause: Cause)] {
        r.events.compactMap { if case let .reconnecting(a, d, c) = $0 { return (a, d, c) } else { return nil } }
    }

    private func failure(_ r: Recorder) -> (Cause, [Message])? {
        for e in r.events { if case let .failed(c, u) = e { return (c, u) } }
        return nil
    }

    func testEcho() async throws {
        let srv = TestServer(["protocols": "chat"])
        var o = scenarioOptions()
        o.protocols = ["v0", "chat"]
        let (client, rec) = try recorded(srv.url, o)
        try client.connect()
        try client.send(text: "hello")
        try client.send(data: Data([1, 2, 3]))
        rec.awaitCount("message", 2)
        let unsent = try await client.close(code: 1000, reason: "bye")
        XCTAssertEqual(unsent, [])
        assertSequence("connecting open message message closed", rec.tokens)
        guard case let .open(attempt, proto, compression, address) = rec.events[1] else {
            return XCTFail("expected open, got \(rec.events[1])")
        }
        XCTAssertEqual(attempt, 1)
        XCTAssertEqual(proto, "chat")
        XCTAssertNil(compression)
        XCTAssertTrue(address?.hasPrefix("127.0.0.1:") ?? false)
        XCTAssertEqual(rec.events[2], .message(.text("hello")))
        XCTAssertEqual(rec.events[3], .message(.binary(Data([1, 2, 3]))))
        XCTAssertEqual(rec.events[4], .closed(code: 1000, reason: "bye", initiator: .local, willReconnect: false))
        let stats = srv.stats()
        XCTAssertEqual(stats["received"] as? [String], ["hello", "bin:3"])
        XCTAssertEqual(stats["close_codes"] as? [Int], [1000])
        XCTAssertEqual(stats["handshakes"] as? Int, 1)
    }

    func testServerRestart() async throws {
        let srv = TestServer()
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        rec.awaitCount("open")
        srv.stop(code: 1012)
        rec.awaitCount("error:connect")
        srv.restart()
        rec.awaitCount("open", 2)
        assertSequence("connecting open closed reconnecting( connecting error:connect reconnecting)+ connecting open", rec.tokens)
        XCTAssertEqual(closedEvents(rec).first?.code, 1012)
        XCTAssertEqual(closedEvents(rec).first?.initiator, .remote)
        XCTAssertEqual(reconnects(rec).first?.cause.kind, .closed)
        XCTAssertEqual(srv.stats()["handshakes"] as? Int, 2)
        try await client.close()
    }

    func testServerCrash() async throws {
        let srv = TestServer()
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        rec.awaitCount("open")
        srv.dropAll()
        rec.awaitCount("open", 2)
        assertSequence("connecting open closed reconnecting connecting open", rec.tokens)
        XCTAssertEqual(closedEvents(rec).first?.code, 1006)
        XCTAssertEqual(closedEvents(rec).first?.initiator, .network)
        XCTAssertEqual(reconnects(rec).first?.cause.kind, .network)
        try await client.close()
    }

    private func deadLink(url: String, cause: CauseKind, breakLink: () -> Void, heal: () -> Void) async throws {
        var o = scenarioOptions()
        o.heartbeat = Heartbeat(interval: 0.2, timeout: 0.2)
        let (client, rec) = try recorded(url, o)
        try client.connect()
        rec.awaitCount("open")
        let t0 = Date()
        breakLink()
        rec.awaitCount("closed")
        heal()
        rec.awaitCount("open", 2)
        if cause == .heartbeatTimeout, let at = rec.timed.first(where: { Recorder.token($0.0) == "closed" })?.1 {
            let ms = at.timeIntervalSince(t0) * 1000
            XCTAssertTrue((150...600).contains(ms), "dead link found after \(ms) ms")
        }
        XCTAssertEqual(closedEvents(rec).first?.code, 1006)
        XCTAssertEqual(reconnects(rec).first?.cause.kind, cause)
        assertSequence("connecting open closed reconnecting( connecting error:connect reconnecting)* connecting open", rec.tokens)
        try await client.close()
    }

    func testHalfOpen() async throws {
        let srv = TestServer()
        let proxy = TestProxy(srv)
        try await deadLink(url: proxy.url, cause: .heartbeatTimeout, breakLink: { proxy.mode("blackhole") }, heal: { proxy.mode("pass") })
    }

    func testHungServer() async throws {
        let srv = TestServer()
        try await deadLink(url: srv.url, cause: .heartbeatTimeout, breakLink: { srv.answerPings(false) }, heal: { srv.answerPings(true) })
    }

    func testReset() async throws {
        let srv = TestServer()
        let proxy = TestProxy(srv)
        try await deadLink(url: proxy.url, cause: .network, breakLink: { proxy.mode("reset") }, heal: { proxy.mode("pass") })
    }

    final class Tokens: AuthProviding, @unchecked Sendable {
        private let lock = NSLock()
        private(set) var calls = 0
        func headers(for request: AuthRequest) throws -> [String: String] {
            lock.lock(); defer { lock.unlock() }
            calls += 1
            return ["Authorization": "Bearer " + (calls <= 2 ? "t1" : "t2")]
        }
    }

    func testAuthRefresh() async throws {
        let srv = TestServer(["token": "t1"])
        let tokens = Tokens()
        var o = scenarioOptions()
        o.auth = tokens
        let (client, rec) = try recorded(srv.url, o)
        try client.connect()
        rec.awaitCount("open")
        srv.token("t2")
        srv.dropAll()
        rec.awaitCount("open", 2)
        assertSequence("connecting open closed reconnecting connecting error:auth connecting open", rec.tokens)
        XCTAssertEqual(tokens.calls, 3)
        XCTAssertEqual(srv.stats()["auth_headers"] as? [String], ["Bearer t1", "Bearer t1", "Bearer t2"])
        try await client.close()
    }

    func testRetryAfter() async throws {
        let srv = TestServer()
        srv.reject(status: 503, count: 1, retryAfter: 1)
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        rec.awaitCount("open")
        assertSequence("connecting error:connect reconnecting connecting open", rec.tokens)
        let r = reconnects(rec)[0]
        XCTAssertEqual(r.attempt, 2)
        XCTAssertGreaterThanOrEqual(r.delay, 1)
        XCTAssertEqual(r.cause.kind, .handshakeRejected)
        XCTAssertEqual(r.cause.status, 503)
        try await client.close()
    }

    func testClose1013() async throws {
        let srv = TestServer()
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        rec.awaitCount("open")
        srv.closeAll(1013, "later")
        rec.awaitCount("open", 2)
        assertSequence("connecting open closed reconnecting connecting open", rec.tokens)
        XCTAssertEqual(reconnects(rec)[0].delay, 0.2, accuracy: 0.001)
        try await client.close()
    }

    func testTerminal403() async throws {
        let srv = TestServer()
        srv.reject(status: 403)
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        rec.awaitCount("failed")
        assertSequence("connecting error:auth failed", rec.tokens)
        XCTAssertEqual(failure(rec)?.0.status, 403)
        XCTAssertEqual(client.state, .failed)
        XCTAssertThrowsError(try client.send(text: "late"))
    }

    func testMaxRetries() async throws {
        let srv = TestServer()
        let proxy = TestProxy(srv)
        proxy.mode("refuse")
        var o = scenarioOptions()
        o.maxRetries = 3
        let (client, rec) = try recorded(proxy.url, o)
        try client.connect()
        rec.awaitCount("failed")
        assertSequence("connecting error:connect reconnecting connecting error:connect reconnecting connecting error:connect failed", rec.tokens)
        XCTAssertEqual(failure(rec)?.0.kind, .retriesExhausted)
        XCTAssertEqual(failure(rec)?.0.attempts, 3)
        XCTAssertEqual(client.stats().attempts, 3)
    }

    func testOutbox() async throws {
        let srv = TestServer()
        srv.stop()
        var o = scenarioOptions()
        o.greeting = [.text("greet")]
        let (client, rec) = try recorded(srv.url, o)
        try client.connect()
        for m in ["m1", "m2", "m3"] { XCTAssertEqual(try client.send(text: m), .queued) }
        rec.awaitCount("error:connect")
        srv.restart()
        rec.awaitCount("message", 4)
        srv.stop()
        rec.awaitCount("closed")
        XCTAssertEqual(try client.send(text: "u1"), .queued)
        XCTAssertEqual(try client.send(text: "u2"), .queued)
        let unsent = try await client.close(code: 1000, reason: "done")
        XCTAssertEqual(unsent, [.text("u1"), .text("u2")])
        XCTAssertEqual(srv.stats()["received"] as? [String], ["greet", "m1", "m2", "m3"])
    }

    func testClose1008() async throws {
        let srv = TestServer()
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        rec.awaitCount("open")
        srv.closeAll(1008, "policy")
        rec.awaitCount("failed")
        assertSequence("connecting open closed failed", rec.tokens)
        XCTAssertEqual(failure(rec)?.0.closeCode, 1008)
    }

    func testMessageTooLarge() async throws {
        let srv = TestServer()
        var o = scenarioOptions()
        o.maxMessageSize = 1024
        let (client, rec) = try recorded(srv.url, o)
        try client.connect()
        rec.awaitCount("open")
        try client.send(text: "!big 4096")
        rec.awaitCount("open", 2)
        assertSequence("connecting open error:link closed reconnecting connecting open", rec.tokens)
        XCTAssertEqual(closedEvents(rec).first?.code, 1009)
        XCTAssertEqual(reconnects(rec).first?.cause.kind, .messageTooLarge)
        try await client.close()
    }

    func testAcceptThenDrop() async throws {
        let srv = TestServer()
        srv.closeOnOpen(4000, "busy")
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        rec.awaitCount("reconnecting", 4)
        srv.closeOnOpen(nil)
        try client.send(text: "stable")
        rec.awaitCount("message")
        assertSequence("(connecting open closed reconnecting )+connecting open message", rec.tokens)
        XCTAssertEqual(reconnects(rec).prefix(4).map { Int(($0.delay * 1000).rounded()) }, [50, 100, 200, 200])
        try await client.close()
    }

    func testTls() async throws {
        let srv = TestServer(["tls": 1])
        var o = scenarioOptions()
        o.rootCertificatePem = srv.caPem
        let (trusted, rec) = try recorded(srv.url, o)
        try trusted.connect()
        try trusted.send(text: "secure")
        rec.awaitCount("message")
        XCTAssertEqual(rec.events.last, .message(.text("secure")))
        try await trusted.close()
        let (untrusted, rec2) = try recorded(srv.url)
        try untrusted.connect()
        rec2.awaitCount("reconnecting")
        XCTAssertEqual(reconnects(rec2).first?.cause.kind, .tls)
        try await untrusted.close()
    }

    /// tests/README.md `callback-error`: the delegate is both the message and the error handler.
    func testCallbackError() async throws {
        struct Boom: Error {}
        struct ErrorHandlerFails: Error {}
        final class FailingDelegate: ClientDelegate, @unchecked Sendable {
            let rec = Recorder()
            private let lock = NSLock()
            private var _reports: [Event] = []
            var reports: [Event] { lock.lock(); defer { lock.unlock() }; return _reports }
            func client(_ client: Client, didReceive event: Event) throws {
                try rec.client(client, didReceive: event)
                if case .message(.text("boom")) = event { throw Boom() }
                if case .error(.callback, _) = event {
                    lock.lock(); _reports.append(event); lock.unlock()
                    throw ErrorHandlerFails()
                }
            }
        }
        let srv = TestServer()
        let delegate = FailingDelegate()
        let client = try Client(url: srv.url, options: scenarioOptions())
        client.delegate = delegate
        let stream = client.events
        let collected = Task { () -> [Event] in
            var out: [Event] = []
            for await e in stream {
                switch e {
                case .stateChanged, .pong: continue
                default: out.append(e)
                }
            }
            return out
        }
        try client.connect()
        for text in ["one", "boom", "two"] { try client.send(text: text) }
        delegate.rec.awaitCount("message", 3)
        XCTAssertEqual(client.state, .open)
        let unsent = try await client.close(code: 1000, reason: "")
        XCTAssertEqual(unsent, [])
        assertSequence("connecting open message message error:callback message closed", delegate.rec.tokens)
        guard case let .error(_, message) = delegate.rec.events[4] else {
            return XCTFail("expected the callback report, got \(delegate.rec.events[4])")
        }
        XCTAssertTrue(message.contains("delegate raised") && message.contains("Boom"), message)
        XCTAssertEqual(delegate.reports, [delegate.rec.events[4]], "exactly one report, though the handler threw on it")
        XCTAssertEqual(delegate.rec.events[6], .closed(code: 1000, reason: "", initiator: .local, willReconnect: false))
        let streamed = await collected.value
        XCTAssertEqual(streamed, delegate.rec.events, "the stream sees the same, in order")
    }
}
