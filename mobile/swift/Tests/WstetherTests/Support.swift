import Foundation
import XCTest
@testable import Wstether

/// The shared `wstether-testd` daemon (tests/README.md); exits when its stdin closes.
enum Testd {
    static let controlPort: Int = {
        let path = ProcessInfo.processInfo.environment["WSTETHER_TESTD"] ?? "../../target/release/wstether-testd"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = Pipe() // kept open for the life of the test process
        try! p.run()
        var line = Data()
        while let b = try? out.fileHandleForReading.read(upToCount: 1), !b.isEmpty, b != Data([10]) { line += b }
        let json = try! JSONSerialization.jsonObject(with: line) as! [String: Any]
        return json["control"] as! Int
    }()

    /// GET a control route and parse its JSON answer.
    @discardableResult
    static func call(_ path: String, _ params: [String: Any?] = [:]) -> [String: Any] {
        var c = URLComponents(string: "http://127.0.0.1:\(controlPort)\(path)")!
        c.queryItems = params.compactMap { k, v in v.map { URLQueryItem(name: k, value: "\($0)") } }
        let data = try! Data(contentsOf: c.url!)
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
}

/// A test server inside the daemon.
final class TestServer {
    let id: Int, port: Int, url: String, caPem: String?
    /// The certificate to pin (`tls=selfsigned|ca_flagged`), and a client identity (`client_ca=1`).
    let certPem: String?, clientCertPem: String?, clientKeyPem: String?
    init(_ params: [String: Any?] = [:]) {
        let info = Testd.call("/server/start", params)
        id = info["id"] as! Int; port = info["port"] as! Int
        url = info["url"] as! String; caPem = info["ca_pem"] as? String
        certPem = info["cert_pem"] as? String
        clientCertPem = info["client_cert_pem"] as? String
        clientKeyPem = info["client_key_pem"] as? String
    }
    func token(_ v: String?) { Testd.call("/server/\(id)/token", ["value": v]) }
    func reject(status: Int, count: Int? = nil, retryAfter: Int? = nil) {
        Testd.call("/server/\(id)/reject", ["status": status, "count": count, "retry_after": retryAfter])
    }
    func answerPings(_ on: Bool) { Testd.call("/server/\(id)/pings", ["answer": on ? 1 : 0]) }
    func closeOnOpen(_ code: Int?, _ reason: String? = nil) { Testd.call("/server/\(id)/close_on_open", ["code": code, "reason": reason]) }
    func closeAll(_ code: Int, _ reason: String) { Testd.call("/server/\(id)/close_all", ["code": code, "reason": reason]) }
    func dropAll() { Testd.call("/server/\(id)/drop_all") }
    func stop(code: Int? = nil) { Testd.call("/server/\(id)/stop", ["code": code]) }
    func restart() { Testd.call("/server/\(id)/restart") }
    func stats() -> [String: Any] { Testd.call("/server/\(id)/stats") }
    deinit { Testd.call("/server/\(id)/dispose") }
}

/// A real proxy from Debian's packages (`tinyproxy` or `dante`) inside the daemon.
final class RealProxy {
    let id: Int, port: Int, url: String, urlWithWrongPassword: String
    init(_ kind: String, auth: Bool = true) {
        let info = Testd.call("/real_proxy/start", ["kind": kind, "auth": auth ? 1 : 0])
        id = info["id"] as! Int; port = info["port"] as! Int
        url = info["url"] as! String; urlWithWrongPassword = info["url_with_wrong_password"] as! String
    }
    deinit { Testd.call("/real_proxy/\(id)/dispose") }
}

/// A fault proxy inside the daemon.
final class TestProxy {
    let id: Int, url: String
    init(_ target: TestServer) {
        let info = Testd.call("/proxy/start", ["target_port": target.port])
        id = info["id"] as! Int; url = info["url"] as! String
    }
    func mode(_ m: String) { Testd.call("/proxy/\(id)/mode", ["mode": m]) }
    func waitLive(_ n: Int) -> Bool { Testd.call("/proxy/\(id)/wait_live", ["n": n, "timeout_ms": 5000])["ok"] as? Bool == true }
    deinit { Testd.call("/proxy/\(id)/dispose") }
}

/// Records events (without state changes and pongs) and waits for conditions with a deadline.
final class Recorder: ClientDelegate, @unchecked Sendable {
    private let cond = NSCondition()
    private var list: [(Event, Date)] = []

    func client(_ client: Client, didReceive event: Event) throws {
        switch event {
        case .stateChanged, .pong: return
        default: break
        }
        cond.lock(); list.append((event, Date())); cond.broadcast(); cond.unlock()
    }

    var events: [Event] { cond.lock(); defer { cond.unlock() }; return list.map(\.0) }
    var timed: [(Event, Date)] { cond.lock(); defer { cond.unlock() }; return list }

    @discardableResult
    func await(_ what: String, timeout: TimeInterval = 5, _ ok: ([Event]) -> Bool) -> [Event] {
        let deadline = Date().addingTimeInterval(timeout)
        cond.lock(); defer { cond.unlock() }
        while !ok(list.map(\.0)) {
            if !cond.wait(until: deadline) {
                XCTFail("timed out waiting for \(what); events: \(Recorder.tokens(list.map(\.0)))")
                return list.map(\.0)
            }
        }
        return list.map(\.0)
    }

    func count(_ token: String) -> Int { events.filter { Recorder.token($0) == token }.count }

    func awaitCount(_ token: String, _ n: Int = 1, timeout: TimeInterval = 5) {
        await("\(n) × \(token)", timeout: timeout) { evs in evs.filter { Recorder.token($0) == token }.count >= n }
    }

    var tokens: String { Recorder.tokens(events) }

    static func tokens(_ evs: [Event]) -> String { evs.map(token).joined(separator: " ") }

    static func token(_ e: Event) -> String {
        switch e {
        case .connecting: return "connecting"
        case .open: return "open"
        case .message: return "message"
        case .closed: return "closed"
        case .reconnecting: return "reconnecting"
        case let .error(kind, _): return "error:\(kind.rawValue)"
        case .failed: return "failed"
        case .stateChanged: return "state"
        case .pong: return "pong"
        }
    }
}

/// tests/README.md's default options: fast backoff without jitter, 1 s connect timeout, no heartbeat.
func scenarioOptions() -> ClientOptions {
    var o = ClientOptions()
    o.backoff.initial = 0.05
    o.backoff.max = 0.2
    o.backoff.factor = 2
    o.backoff.jitter = 0
    o.connectTimeout = 1
    o.heartbeat = nil
    return o
}

func recorded(_ url: String, _ options: ClientOptions = scenarioOptions()) throws -> (Client, Recorder) {
    let c = try Client(url: url, options: options)
    let r = Recorder()
    c.delegate = r
    return (c, r)
}

func assertSequence(_ pattern: String, _ tokens: String, file: StaticString = #filePath, line: UInt = #line) {
    let re = try! NSRegularExpression(pattern: "^(?:\(pattern))$")
    let ok = re.firstMatch(in: tokens, range: NSRange(tokens.startIndex..., in: tokens)) != nil
    XCTAssertTrue(ok, "event sequence\n  \(tokens)\ndoes not match\n  \(pattern)", file: file, line: line)
}
