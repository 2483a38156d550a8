import Foundation
import XCTest
@testable import Wstether

/// The Swift layer's own promises: delegate errors, typed errors, AsyncStream, controls.
final class ClientBehaviourTests: XCTestCase {
    struct Boom: Error {}

    final class Throwing: ClientDelegate, @unchecked Sendable {
        func client(_ client: Client, didReceive event: Event) throws {
            if case .message = event { throw Boom() }
        }
    }

    func testDelegateErrorIsReportedAndTheClientGoesOn() async throws {
        let srv = TestServer()
        let client = try Client(url: srv.url, options: scenarioOptions())
        let delegate = Throwing()
        client.delegate = delegate
        let events = client.events
        try client.connect()
        try client.send(text: "one")
        try client.send(text: "two")
        var messages = 0, callbackErrors = 0
        for await e in events {
            if case .message = e { messages += 1 }
            if case .error(.callback, _) = e { callbackErrors += 1 }
            if callbackErrors == 2 { break } // each report follows its message
        }
        XCTAssertEqual(messages, 2)
        XCTAssertEqual(client.state, .open)
        try await client.close()
    }

    private func assertRefused(_ o: ClientOptions, _ option: String, _ reason: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Client(url: "ws://127.0.0.1:1/", options: o), file: file, line: line) {
            guard case let .invalidOption(got, why, _) = $0 as? WstetherError else {
                return XCTFail("\($0)", file: file, line: line)
            }
            XCTAssertEqual(got, option, file: file, line: line)
            XCTAssertEqual(why, reason, file: file, line: line)
        }
    }

    func testEveryDurationAndSizeOverItsLimitIsRefusedNamingIt() throws {
        let days = "must be at most 365 days"
        for d in [Limits.maxDuration + 0.001, 1e19, .infinity] {
            var o = ClientOptions(); o.connectTimeout = d; assertRefused(o, "connect_timeout", days)
            o = ClientOptions(); o.closeTimeout = d; assertRefused(o, "close_timeout", days)
            o = ClientOptions(); o.maxElapsed = d; assertRefused(o, "max_elapsed", days)
            o = ClientOptions(); o.heartbeat = Heartbeat(interval: d, timeout: d); assertRefused(o, "heartbeat.interval", days)
            o = ClientOptions(); o.backoff.stableAfter = d; assertRefused(o, "backoff.stable_after", days)
        }
        var o = ClientOptions(); o.eventBuffer = Int.max
        assertRefused(o, "event_buffer", "must be at most \(Limits.maxEventBuffer)")
        o = ClientOptions(); o.maxMessageSize = Int.max
        assertRefused(o, "max_message_size", "must be at most \(Limits.maxMessageSize)")
        o = ClientOptions(); o.outboxMaxBytes = Int.max
        assertRefused(o, "outbox.max_bytes", "must be at most \(Limits.maxOutboxBytes)")
        o = ClientOptions(); o.maxRetries = Int(UInt32.max)
        assertRefused(o, "max_retries", "must be at most \(Limits.maxRetries)")
        o = ClientOptions(); o.handshakeBudget = Int(UInt32.max)
        assertRefused(o, "handshake_budget", "must be at most \(Limits.maxHandshakeBudget)")
    }

    func testDescriptionsNeverShowASecret() async throws {
        var o = ClientOptions()
        o.headers = ["Authorization": "Bearer sekrit-value", "X-Id": "42"]
        let client = try Client(url: "wss://bob:hunter2@example.com/ws?access_token=abc123&room=7", options: o)
        var dumped = ""
        dump(o, to: &dumped)
        for text in [String(describing: o), String(reflecting: o), dumped, String(describing: client), client.url] {
            for secret in ["sekrit-value", "hunter2", "abc123"] {
                XCTAssertFalse(text.contains(secret), text)
            }
        }
        XCTAssertTrue(String(describing: o).contains("42"))
        XCTAssertTrue(client.url.contains("room=7"))
        try await client.close()
    }

    func testBadArgumentsThrowTypedErrors() async throws {
        XCTAssertThrowsError(try Client(url: "http://example.com")) {
            guard case .invalidScheme = $0 as? WstetherError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try Client(url: "not a url")) {
            guard case .invalidUrl = $0 as? WstetherError else { return XCTFail("\($0)") }
        }
        var o = ClientOptions()
        o.headers = ["X-Bad": "a\r\nInjected: 1"]
        XCTAssertThrowsError(try Client(url: "ws://127.0.0.1:1/", options: o)) {
            guard case .invalidHeader = $0 as? WstetherError else { return XCTFail("\($0)") }
        }
        o = ClientOptions()
        o.connectTimeout = -1
        XCTAssertThrowsError(try Client(url: "ws://127.0.0.1:1/", options: o)) {
            guard case let .invalidOption(option, _, _) = $0 as? WstetherError else { return XCTFail("\($0)") }
            XCTAssertEqual(option, "connect_timeout")
        }
        o = ClientOptions()
        o.maxRetries = -1
        XCTAssertThrowsError(try Client(url: "ws://127.0.0.1:1/", options: o)) {
            guard case .invalidOption = $0 as? WstetherError else { return XCTFail("\($0)") }
        }
        o = ClientOptions()
        o.rootCertificatePem = "not a certificate"
        XCTAssertThrowsError(try Client(url: "wss://127.0.0.1:1/", options: o)) {
            guard case .invalidCertificate = $0 as? WstetherError else { return XCTFail("\($0)") }
        }
        o = ClientOptions()
        o.maxMessageSize = 8
        o.outboxMaxMessages = 2
        let client = try Client(url: "ws://127.0.0.1:1/", options: o)
        XCTAssertThrowsError(try client.send(text: "123456789")) {
            guard case .messageTooLarge(9, 8, _) = $0 as? WstetherError else { return XCTFail("\($0)") }
        }
        try client.send(text: "a")
        try client.send(text: "b")
        XCTAssertThrowsError(try client.send(text: "c")) {
            guard case .queueFull = $0 as? WstetherError else { return XCTFail("\($0)") }
        }
        do { _ = try await client.close(code: 999); XCTFail("999 accepted") } catch WstetherError.invalidCloseCode {}
        do { _ = try await client.close(code: 70000); XCTFail("70000 accepted") } catch WstetherError.invalidCloseCode {}
        do {
            _ = try await client.close(code: 1000, reason: String(repeating: "x", count: 124)); XCTFail("long reason accepted")
        } catch WstetherError.closeReasonTooLong {}
        let unsent = try await client.close()
        XCTAssertEqual(unsent, [.text("a"), .text("b")])
        let again = try await client.close()
        XCTAssertEqual(again, [], "close is idempotent")
        XCTAssertThrowsError(try client.send(text: "late")) {
            guard case .closed = $0 as? WstetherError else { return XCTFail("\($0)") }
        }
    }

    func testAsyncStreamDeliversInOrderAndFinishes() async throws {
        let srv = TestServer()
        let client = try Client(url: srv.url, options: scenarioOptions())
        let events = client.events
        try client.connect()
        for i in 0..<100 { try client.send(text: "m\(i)") }
        var texts: [String] = []
        for await e in events {
            if case let .message(.text(t)) = e { texts.append(t) }
            if texts.count == 100 { break }
        }
        XCTAssertEqual(texts, (0..<100).map { "m\($0)" })
        try await client.close()
    }

    func testPauseAndResume() async throws {
        let srv = TestServer()
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        rec.awaitCount("open")
        try client.pause()
        rec.awaitCount("closed")
        XCTAssertEqual(client.state, .paused)
        XCTAssertEqual(try client.send(text: "while paused"), .queued)
        try client.resume()
        rec.awaitCount("message")
        XCTAssertEqual(rec.count("open"), 2)
        try await client.close()
    }

    func testNetworkChangedFindsADeadLinkQuickly() async throws {
        let srv = TestServer()
        let proxy = TestProxy(srv)
        var o = scenarioOptions()
        o.heartbeat = Heartbeat(interval: 60, timeout: 0.5)
        let (client, rec) = try recorded(proxy.url, o)
        try client.connect()
        rec.awaitCount("open")
        proxy.mode("blackhole")
        try client.networkChanged()
        rec.awaitCount("reconnecting", timeout: 2)
        guard case let .reconnecting(_, _, cause)? = rec.events.first(where: { Recorder.token($0) == "reconnecting" }) else {
            return XCTFail("no reconnecting")
        }
        XCTAssertEqual(cause.kind, .networkChanged)
        try await client.close()
    }

    func testStatsAndHistory() async throws {
        let srv = TestServer()
        let (client, rec) = try recorded(srv.url)
        try client.connect()
        try client.send(text: "abc")
        rec.awaitCount("message")
        let s = client.stats()
        XCTAssertEqual(s.opens, 1)
        XCTAssertEqual(s.messagesIn, 1)
        XCTAssertEqual(s.bytesIn, 3)
        XCTAssertEqual(client.history().last?.to, .open)
        try await client.close()
    }

    func testRequireProtocol() async throws {
        let srv = TestServer()
        var lax = scenarioOptions()
        lax.protocols = ["chat"]
        let (open, openRec) = try recorded(srv.url, lax)
        try open.connect()
        openRec.awaitCount("open")
        guard case let .open(_, proto, _, _) = openRec.events[1] else { return XCTFail("expected open") }
        XCTAssertNil(proto, "a server that selects no protocol opens without one")
        try await open.close()
        var strict = lax
        strict.protocols = ["chat", "v2"]
        strict.requireProtocol = true
        let (client, rec) = try recorded(srv.url, strict)
        try client.connect()
        rec.awaitCount("failed")
        guard case let .failed(reason, _) = rec.events.last! else { return XCTFail("expected failed") }
        XCTAssertEqual(reason.kind, .incompatible)
        XCTAssertFalse(rec.tokens.contains("open"))
    }

    func testCompressionOptionsAreCheckedByTheCore() throws {
        XCTAssertTrue(Compression().enabled)
        XCTAssertFalse(Compression.off.enabled)
        for (client, server) in [(8, 12), (12, 16), (1000, 12)] {
            var o = ClientOptions()
            o.compression.clientMaxWindowBits = client
            o.compression.serverMaxWindowBits = server
            XCTAssertThrowsError(try Client(url: "ws://127.0.0.1:9/", options: o)) { e in
                guard case let .invalidOption(option, reason, _) = e as? WstetherError else { return XCTFail("\(e)") }
                XCTAssertTrue(option.hasPrefix("compression."), option)
                XCTAssertTrue(reason.contains("\(Limits.maxWindowBits)"), reason)
            }
        }
    }
}
