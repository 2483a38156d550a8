#!/usr/bin/env bash
# CI entry for the Node package: install npm deps, build the native addon (release) and the
# TypeScript, build the testkit daemon, run `node --test` and the `tsc --strict` example check.
# Exits non-zero on any failure. Needs only Rust (cargo) and Node 20+ with npm.
#   WSTETHER_NODE_PREBUILT=dir  test the addon in dir (wstether.<platform>.node + index.d.ts, as
#                               scripts/package.sh leaves them) instead of building one
#   WSTETHER_TESTD=path         use this wstether-testd instead of building it
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"

echo "== real proxies for the proxy tests (tinyproxy, dante)"
"$repo/scripts/install-proxies.sh"

echo "== npm ci (node/)"
npm ci --no-audit --no-fund

if [[ -n "${WSTETHER_NODE_PREBUILT:-}" ]]; then
  echo "== addon: the packaged build in $WSTETHER_NODE_PREBUILT; TypeScript"
  rm -rf native && mkdir -p native
  cp "$WSTETHER_NODE_PREBUILT"/index.d.ts "$WSTETHER_NODE_PREBUILT"/wstether.*.node native/
  npm run build:ts
else
  echo "== build: native addon (napi build --platform --release) and TypeScript"
  npm run build
fi

if [[ -z "${WSTETHER_TESTD:-}" ]]; then
  echo "== build: wstether-testd"
  # Same profile and target triple as the addon (napi passes --target), so the shared
  # dependencies are compiled once.
  triple="$(rustc -vV | sed -n 's/^host: //p')"
  cargo build --release --target "$triple" -p wstether-testkit --bin wstether-testd \
    --manifest-path "$repo/Cargo.toml"
  target_dir="${CARGO_TARGET_DIR:-$repo/target}"
  export WSTETHER_TESTD="$target_dir/$triple/release/wstether-testd"
fi

echo "== node --test"
npm test

echo "== tsc --strict on the examples"
npm run check:example

echo "node: all tests passed"
