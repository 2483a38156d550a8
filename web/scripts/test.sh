#!/usr/bin/env bash
# CI entry for the browser client: installs what is missing (the wasm32 target, wasm-bindgen-cli
# at the pinned version, Debian's chromium, the npm deps of node/ and node/test-browser/), builds
# the wasm client and the package's browser entry (web/scripts/build.sh), runs the tests in
# headless Chromium (node/test-browser/tests: the shared scenarios and the demo page, whose
# screenshot lands in target/browser-test/demo.png), and prints the download size beside
# partysocket's and socket.io-client's. Prints how long each part took.
#   WSTETHER_TESTD=path   use this wstether-testd instead of building it (debug)
#   CHROMIUM=path         drive this Chromium instead of /usr/bin/chromium
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$WEB_REPO"
started=$SECONDS
declare -a TIMES=()
timed() { # timed LABEL CMD...
  local label="$1" t0=$SECONDS
  shift
  echo "== $label"
  "$@"
  TIMES+=("$label: $((SECONDS - t0)) s")
}

timed "tools (wasm32 target, wasm-bindgen-cli $WASM_BINDGEN_VERSION)" ensure_wasm_tools
timed "chromium" ensure_chromium
timed "npm deps" ensure_browser_npm
if [[ -z "${WSTETHER_TESTD:-}" ]]; then
  timed "wstether-testd (debug)" cargo build --quiet -p wstether-testkit --bin wstether-testd
  export WSTETHER_TESTD="${CARGO_TARGET_DIR:-$WEB_REPO/target}/debug/wstether-testd"
fi
# web/ is not in the root workspace (its own lock file): format check and lint here.
timed "cargo fmt --check (web/)" cargo fmt --manifest-path web/Cargo.toml -- --check
timed "clippy (wasm32)" cargo clippy --quiet --manifest-path web/Cargo.toml \
  --target-dir "${CARGO_TARGET_DIR:-$WEB_REPO/target}" --target wasm32-unknown-unknown -- -D warnings
# (Not here: `cargo test --manifest-path web/Cargo.toml`, the host test that the browser's
# defaults are the core's; it builds the native core under web/'s lock file, ~1 min in CI.)
timed "build: wasm client + browser entry" ./web/scripts/build.sh
timed "tsc --strict against the browser types" node/node_modules/.bin/tsc -p node/test-browser/types/tsconfig.json
timed "browser tests (headless Chromium)" bash -c 'cd node/test-browser && npm test'
timed "download size (Vite builds of three minimal pages)" bash -c "cd node/test-browser && node size/size.mjs"

echo "== times"
printf '   %s\n' "${TIMES[@]}" "total: $((SECONDS - started)) s"
echo "web: all browser tests passed"
