#!/usr/bin/env bash
# iOS/macOS: build static libraries for the Apple targets and wrap them with the generated
# header into WstetherFFI.xcframework (needs macOS with Xcode; NOT run or tested in this repo's CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
for t in "${targets[@]}"; do
  rustup target add "$t"
  cargo rustc --release -p wstether-ffi --lib --crate-type staticlib --target "$t"
done
hdr="$(mktemp -d)"
cp mobile/swift/Sources/wstether_ffiFFI/include/* "$hdr/"
mkdir -p target/universal/ios-sim target/universal/macos
lipo -create target/aarch64-apple-ios-sim/release/libwstether_ffi.a target/x86_64-apple-ios/release/libwstether_ffi.a \
  -output target/universal/ios-sim/libwstether_ffi.a
lipo -create target/aarch64-apple-darwin/release/libwstether_ffi.a target/x86_64-apple-darwin/release/libwstether_ffi.a \
  -output target/universal/macos/libwstether_ffi.a
rm -rf mobile/swift/WstetherFFI.xcframework
xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/release/libwstether_ffi.a -headers "$hdr" \
  -library target/universal/ios-sim/libwstether_ffi.a -headers "$hdr" \
  -library target/universal/macos/libwstether_ffi.a -headers "$hdr" \
  -output mobile/swift/WstetherFFI.xcframework
echo "built mobile/swift/WstetherFFI.xcframework"
