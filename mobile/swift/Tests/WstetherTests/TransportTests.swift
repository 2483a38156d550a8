import Foundation
import XCTest
@testable import Wstether

/// Reaching servers (mirrors the Kotlin TransportTest): real proxies, a URL provider,
/// reconnectTo, pinned and client certificates, resolve.
final class TransportTests: XCTestCase {
    private func port(_ address: String?) -> Int? {
        address.flatMap { $0.split(separator: ":").last.flatMap { Int($0) } }
    }

    private func openAddress(_ r: Recorder) -> String? {
        for e in r.events { if case let .open(_, _, _, address) = e { return address } }
        return nil
    }

    private func failure(_ r: Recorder) -> Cause? {
        for e in r.events { if case let .failed(c, _) = e { return c } }
        return nil
    }

    private func echoOnce(_ client: Client, _ rec: Recorder) throws {
        try client.connect()
        rec.awaitCount("open")
        try client.send(text: "through")
        rec.awaitCount("message")
    }

    func testHttpProxyWithCredentialsAndATerminalRefusal() async throws {
        let srv = TestServer()
        let proxy = RealProxy("tinyproxy")
        var o = scenarioOptions()
        o.proxy = .url(proxy.url)
        XCTAssertFalse(o.description.contains("s3cret"))
        let (client, rec) = try recorded(srv.url, o)
        try echoOnce(client, rec)
        XCTAssertEqual(port(openAddress(rec)), proxy.port)
        XCTAssertEqual(port(client.stats().address), proxy.port)
        _ = try await client.close(code: 1000, reason: "")

        o.proxy = .url(proxy.urlWithWrongPassword)
        let (refused, bad) = try recorded(srv.url, o)
        try refused.connect()
        bad.awaitCount("failed")
        XCTAssertEqual(failure(bad)?.kind, .proxyRejected)
        XCTAssertTrue([401, 407].contains(failure(bad)?.status ?? 0))
    }

    func testSocks5AndItsReplyCode() async throws {
        let srv = TestServer()
        let dante = RealProxy("dante")
        var o = scenarioOptions()
        o.proxy = .url(dante.url)
        let (client, rec) = try recorded("ws://localhost:\(srv.port)/", o)
        try echoOnce(client, rec)
        XCTAssertEqual(port(openAddress(rec)), dante.port)
        _ = try await client.close(code: 1000, reason: "")
        o.maxRetries = 1
        let (blocked, brec) = try recorded("ws://127.0.0.2:\(srv.port)/", o)
        try blocked.connect()
        brec.awaitCount("failed")
        XCTAssertEqual(failure(brec)?.lastKind, .socksRejected)
    }

    private struct Urls: UrlProviding, @unchecked Sendable {
        let pick: (AuthRequest) throws -> String
        func url(for request: AuthRequest) throws -> String { try pick(request) }
    }

    func testAUrlProviderIsCalledOncePerAttempt() async throws {
        let a = TestServer(), b = TestServer()
        let lock = NSLock()
        var asked: [Int] = []
        let provider = Urls { request in
            lock.lock(); defer { lock.unlock() }
            asked.append(request.attempt)
            return asked.count == 1 ? a.url : b.url
        }
        let client = try Client(urlProvider: provider, options: scenarioOptions())
        let rec = Recorder()
        client.delegate = rec
        try client.connect()
        rec.awaitCount("open")
        a.dropAll()
        rec.awaitCount("open", 2)
        lock.lock(); XCTAssertEqual(asked.count, 2); lock.unlock()
        XCTAssertEqual(client.stats().attempts, 2)
        XCTAssertEqual(port(client.stats().address), b.port)
        _ = try await client.close(code: 1000, reason: "")
    }

    func testReconnectToMovesTheClient() async throws {
        let a = TestServer(), b = TestServer()
        let (client, rec) = try recorded(a.url)
        try client.connect()
        rec.awaitCount("open")
        try client.reconnectTo(b.url)
        rec.awaitCount("open", 2)
        XCTAssertEqual(port(client.stats().address), b.port)
        XCTAssertThrowsError(try client.reconnectTo("http://x/"))
        _ = try await client.close(code: 1000, reason: "")
    }

    func testAPinnedSelfSignedCertificate() async throws {
        let srv = TestServer(["tls": "ca_flagged"])
        var o = scenarioOptions()
        o.rootCertificatePem = srv.certPem
        o.maxRetries = 1
        let (unpinned, urec) = try recorded(srv.url, o)
        try unpinned.connect()
        urec.awaitCount("error:connect")
        let message = urec.events.compactMap { if case let .error(_, m) = $0 { return m } else { return nil } }.first ?? ""
        XCTAssertTrue(message.contains("CA certificate") && message.contains("pinnedCertificatePem"), message)
        var p = scenarioOptions()
        p.pinnedCertificatePem = [srv.certPem!]
        let (pinned, prec) = try recorded(srv.url, p)
        try echoOnce(pinned, prec)
        _ = try await pinned.close(code: 1000, reason: "")
    }

    func testMutualTls() async throws {
        let srv = TestServer(["tls": 1, "client_ca": 1])
        var o = scenarioOptions()
        o.rootCertificatePem = srv.caPem
        o.clientCertificatePem = srv.clientCertPem
        o.clientKeyPem = srv.clientKeyPem
        XCTAssertFalse(o.description.contains("PRIVATE KEY"))
        let (client, rec) = try recorded(srv.url, o)
        try echoOnce(client, rec)
        _ = try await client.close(code: 1000, reason: "")
    }

    func testResolveReportsTheAddressUsed() async throws {
        let srv = TestServer()
        var o = scenarioOptions()
        o.resolve = ["dual.test": ["::1", "127.0.0.1"]]
        o.proxy = .off
        let (client, rec) = try recorded("ws://dual.test:\(srv.port)/", o)
        try echoOnce(client, rec)
        XCTAssertEqual(openAddress(rec), "127.0.0.1:\(srv.port)")
        _ = try await client.close(code: 1000, reason: "")
    }
}
