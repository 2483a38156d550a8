#!/usr/bin/env bash
# Builds the browser client: the wstether-web crate for wasm32-unknown-unknown (Cargo's `web`
# profile: opt-level z, fat LTO, panic=abort, log lines compiled out), its JavaScript glue
# (wasm-bindgen --target web: a plain ES module that fetches the .wasm beside it through
# `new URL(…, import.meta.url)`, which Vite and other bundlers follow), then binaryen's wasm-opt
# when node/test-browser has it installed, and the TypeScript browser entry (node/lib/browser.ts).
#   node/wasm/     wstether_web.js, wstether_web_bg.wasm, their .d.ts
#   node/browser/  the `browser` entry of the npm package (ES modules + .d.ts)
# Needs: rustup's wasm32-unknown-unknown target, wasm-bindgen-cli matching the crate's pinned
# wasm-bindgen (web/scripts/test.sh installs both when missing), node/'s npm deps (tsc).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="$repo/node/wasm"

cargo build --quiet -p wstether-web --target wasm32-unknown-unknown --profile web
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" \
  "$target_dir/wasm32-unknown-unknown/web/wstether_web.wasm"

wasm_opt="$repo/node/test-browser/node_modules/.bin/wasm-opt"
if [[ -x "$wasm_opt" ]]; then
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/wstether_web_bg.wasm" -o "$out/wstether_web_bg.wasm"
else
  echo "build.sh: no wasm-opt (npm ci in node/test-browser installs binaryen): the .wasm is not post-optimised" >&2
fi

(cd "$repo/node" && npx --no-install tsc -p tsconfig.browser.json)
