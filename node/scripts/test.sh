#!/usr/bin/env bash
# CI entry for the Node package: install npm deps, build the native addon (release) and the
# TypeScript, build the testkit daemon, run `node --test` and the `tsc --strict` example check.
# Exits non-zero on any failure. Needs only Rust (cargo) and Node 20+ with npm.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"

echo "== real proxies for the proxy tests (tinyproxy, dante)"
"$repo/scripts/install-proxies.sh"

echo "== npm ci (node/)"
# The install hook would build too; build explicitly below so a stale build is never tested.
WSTETHER_SKIP_BUILD=1 npm ci --no-audit --no-fund

echo "== build: native addon (napi build --platform --release) and TypeScript"
npm run build

echo "== build: wstether-testd"
# Same profile and target triple as the addon (napi passes --target), so the shared
# dependencies are compiled once.
triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --target "$triple" -p wstether-testkit --bin wstether-testd \
  --manifest-path "$repo/Cargo.toml"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
export WSTETHER_TESTD="$target_dir/$triple/release/wstether-testd"

echo "== node --test"
npm test

echo "== tsc --strict on the examples"
npm run check:example

echo "node: all tests passed"
