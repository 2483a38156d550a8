#!/usr/bin/env bash
# Prints what a minimal Vite-built page downloads (gzipped) with wstether's browser entry, with
# partysocket and with socket.io-client, side by side (node/test-browser/size/). Builds the wasm
# client first (web/scripts/build.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/build.sh"
cd "$here/../../node/test-browser" && node size/size.mjs "$@"
