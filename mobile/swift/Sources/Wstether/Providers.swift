import Foundation
import WstetherFFI

/// The app's `AuthProviding` as the generated foreign trait; a throw becomes a typed error.
final class NativeAuth: AuthProvider, @unchecked Sendable {
    private let provider: AuthProviding
    init(_ provider: AuthProviding) { self.provider = provider }

    func headers(request: FfiAuthRequest) throws -> [FfiHeader] {
        do {
            let req = AuthRequest(attempt: Int(request.attempt), afterUnauthorized: request.afterUnauthorized)
            return try provider.headers(for: req).map { FfiHeader(name: $0.key, value: $0.value) }
        } catch {
            throw FfiError.Callback(description: "auth provider threw: \(error)")
        }
    }
}

/// The app's `UrlProviding` as the generated foreign trait; a throw becomes a typed error.
final class NativeUrl: UrlProvider, @unchecked Sendable {
    private let provider: UrlProviding
    init(_ provider: UrlProviding) { self.provider = provider }

    func url(request: FfiAuthRequest) throws -> String {
        do {
            let req = AuthRequest(attempt: Int(request.attempt), afterUnauthorized: request.afterUnauthorized)
            return try provider.url(for: req)
        } catch {
            throw FfiError.Callback(description: "url provider threw: \(error)")
        }
    }
}

/// The app's `GreetingProviding` as the generated foreign trait.
final class NativeGreeting: GreetingProvider, @unchecked Sendable {
    private let provider: GreetingProviding
    init(_ provider: GreetingProviding) { self.provider = provider }

    func greeting() throws -> [FfiMessage] {
        do {
            return try provider.greeting().map(Convert.messageOut)
        } catch {
            throw FfiError.Callback(description: "greeting provider threw: \(error)")
        }
    }
}
