// swift-tools-version:5.9
// wstether for Swift: a WebSocket client that stays connected, over the Rust core (uniffi).
//
// Targets, bottom up:
// - wstether_ffiFFI: the C header + module map uniffi generates (links libwstether_ffi);
// - WstetherFFI: the Swift bindings uniffi generates (committed; checked fresh by mobile/scripts/test.sh);
// - Wstether: the hand-written layer apps use (async/await, AsyncStream, delegate).
//
// Linking: for macOS tests, build the library (`cargo build --release -p wstether-ffi`) and run
// `swift test -Xlinker -L../../target/release`. For iOS, build an XCFramework with
// build-xcframework.sh and swap the C target for a binaryTarget (see README.md).
import PackageDescription

let package = Package(
    name: "Wstether",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "Wstether", targets: ["Wstether"]),
    ],
    targets: [
        .target(
            name: "wstether_ffiFFI",
            path: "Sources/wstether_ffiFFI",
            linkerSettings: [.linkedLibrary("wstether_ffi")]
        ),
        .target(name: "WstetherFFI", dependencies: ["wstether_ffiFFI"], path: "Sources/WstetherFFI"),
        .target(name: "Wstether", dependencies: ["WstetherFFI"], path: "Sources/Wstether"),
        .testTarget(name: "WstetherTests", dependencies: ["Wstether"], path: "Tests/WstetherTests"),
    ]
)
