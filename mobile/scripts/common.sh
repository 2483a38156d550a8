# Shared by test.sh and generate-swift.sh: where things are, and how bindings are generated.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE_DIR="$TARGET_DIR/release"
case "$(uname -s)" in
  Darwin) LIB="$PROFILE_DIR/libwstether_ffi.dylib" ;;
  *) LIB="$PROFILE_DIR/libwstether_ffi.so" ;;
esac
BINDGEN="$PROFILE_DIR/uniffi-bindgen"
SWIFT_PKG="$ROOT/mobile/swift"

# generate_swift OUT_DIR: the Swift sources, header and module map, laid out as the SwiftPM
# package expects (Sources/WstetherFFI/*.swift, Sources/wstether_ffiFFI/include/*).
generate_swift() {
  local out="$1" raw
  raw="$(mktemp -d)"
  "$BINDGEN" generate --no-format --library "$LIB" --language swift --out-dir "$raw" >/dev/null
  mkdir -p "$out/Sources/WstetherFFI" "$out/Sources/wstether_ffiFFI/include"
  cp "$raw/WstetherFFI.swift" "$out/Sources/WstetherFFI/WstetherFFI.swift"
  cp "$raw/wstether_ffiFFI.h" "$out/Sources/wstether_ffiFFI/include/wstether_ffiFFI.h"
  # SwiftPM finds a C target's module map only under this name.
  cp "$raw/wstether_ffiFFI.modulemap" "$out/Sources/wstether_ffiFFI/include/module.modulemap"
  rm -rf "$raw"
}
