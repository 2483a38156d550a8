#!/usr/bin/env bash
# Builds the browser client: the wstether-web crate for wasm32-unknown-unknown (Cargo's `web`
# profile: opt-level z, fat LTO, panic=abort, log lines compiled out), its JavaScript glue
# (wasm-bindgen --target web: a plain ES module that fetches the .wasm beside it through
# `new URL(…, import.meta.url)`, which Vite and other bundlers follow), then binaryen's wasm-opt
# (npm's binaryen, a devDependency of node/test-browser), and the TypeScript browser entry
# (node/lib/browser.ts).
#   node/wasm/     wstether_web.js, wstether_web_bg.wasm, their .d.ts
#   node/browser/  the `browser` entry of the npm package (ES modules + .d.ts)
# Installs what it needs when missing (web/scripts/tools.sh): the wasm32 target, wasm-bindgen-cli
# at the crate's pinned version, the npm deps of node/ and node/test-browser/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
repo="$WEB_REPO"
cd "$repo"
ensure_wasm_tools
ensure_browser_npm
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="$repo/node/wasm"

# web/ is a workspace of its own (its lock file; see web/Cargo.toml), built into the root target dir.
# Panic locations name source files: the shipped .wasm names them without this machine's paths
# (and is a little smaller for it).
registry="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/ 2>/dev/null | head -1)"
export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$repo=wstether${registry:+ --remap-path-prefix=${registry%/}=crates}"
cargo build --quiet --manifest-path web/Cargo.toml --target-dir "$target_dir" \
  --target wasm32-unknown-unknown --profile web
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" \
  "$target_dir/wasm32-unknown-unknown/web/wstether_web.wasm"

# The features Rust's wasm32 target enables by default, so wasm-opt accepts its output.
"$repo/node/test-browser/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/wstether_web_bg.wasm" -o "$out/wstether_web_bg.wasm"

(cd "$repo/node" && npx --no-install tsc -p tsconfig.browser.json)
