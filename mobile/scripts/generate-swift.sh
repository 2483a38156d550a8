#!/usr/bin/env bash
# Regenerate the Swift bindings committed in mobile/swift from the built library.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
cargo build --release -p wstether-ffi -p uniffi-bindgen
generate_swift "$SWIFT_PKG"
echo "regenerated $SWIFT_PKG/Sources/{WstetherFFI,wstether_ffiFFI/include}"
