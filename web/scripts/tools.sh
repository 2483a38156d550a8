# Sourced by web/scripts/build.sh and test.sh: installs what the browser build and its tests
# need when it is missing, and only then.
#   ensure_wasm_tools     rustup's wasm32-unknown-unknown target; wasm-bindgen-cli at the version
#                         web/Cargo.toml pins (cargo install, only when `wasm-bindgen --version`
#                         differs: the CLI must match the crate exactly; ~1 min, a debug build)
#   ensure_browser_npm    node/'s npm deps (tsc) and node/test-browser's (vite, playwright-core,
#                         binaryen's wasm-opt, the peers measured by size.sh)
#   ensure_chromium       Debian's chromium (apt-get; through sudo when not root)
WEB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The pin in web/Cargo.toml (`wasm-bindgen = "=X"`).
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$WEB_REPO/web/Cargo.toml")"

ensure_wasm_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "== rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  local have
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
  if [[ "$have" != "$WASM_BINDGEN_VERSION" ]]; then
    echo "== cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (found: ${have:-none})"
    local t0=$SECONDS
    # Only the `wasm-bindgen` binary, without TLS (rustls/ring serve the test runner's
    # downloads), and a debug build: about 1 min here instead of 6 for a release build, and it
    # writes byte-identical output for this crate in a second. --locked first (the versions
    # wasm-bindgen tested); a registry that lacks one of them (a mirror behind crates.io) gets
    # a fresh resolution instead.
    local args=(install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --no-default-features --bin wasm-bindgen --debug)
    cargo "${args[@]}" --locked 2>/dev/null || cargo "${args[@]}"
    echo "   wasm-bindgen-cli installed in $((SECONDS - t0)) s"
  fi
}

ensure_browser_npm() {
  if [[ ! -x "$WEB_REPO/node/node_modules/.bin/tsc" ]]; then
    echo "== npm ci (node/)"
    (cd "$WEB_REPO/node" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  local tb="$WEB_REPO/node/test-browser"
  if [[ ! -f "$tb/node_modules/.package-lock.json" || "$tb/package-lock.json" -nt "$tb/node_modules/.package-lock.json" ]]; then
    echo "== npm ci (node/test-browser/)"
    (cd "$tb" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_chromium() {
  [[ -n "${CHROMIUM:-}" && -x "${CHROMIUM:-}" ]] && return 0
  command -v chromium >/dev/null 2>&1 && return 0
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
      echo "chromium is missing and this user cannot apt-get install it: install chromium, or set CHROMIUM" >&2
      return 1
    fi
  fi
  echo "== apt-get install chromium"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
}
