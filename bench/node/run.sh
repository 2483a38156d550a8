#!/usr/bin/env bash
# Node bench: wstether vs ws, partysocket and reconnecting-websocket (over ws), same testkit
# servers, server pinned to one CPU and the client to the other (see bench/README.md). Builds
# what it needs every time (incremental): the wstether package (release addon + TS), the bench's
# npm deps and wstether-testd (release).
#   bench/node/run.sh [--quick] [--unpinned] [--server-cpu 0] [--client-cpu 1]
#                     [--rounds 7] [--round-secs 0.6] [--idle 1000]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib.sh"
bench_args "$@"

cd "$REPO/node"
# Always rebuild: a stale addon would measure yesterday's core.
[[ -d node_modules ]] || WSTETHER_SKIP_BUILD=1 npm ci --no-audit --no-fund
npm run --silent build

triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --quiet --release --target "$triple" -p wstether-testkit --bin wstether-testd \
  --manifest-path "$REPO/Cargo.toml"
export WSTETHER_TESTD="${WSTETHER_TESTD:-${CARGO_TARGET_DIR:-$REPO/target}/$triple/release/wstether-testd}"

cd "$here"
npm ci --no-audit --no-fund --silent
bench_run node node "$here/bench.mjs" "${BENCH_FLAGS[@]}" --json "$BENCH_OUT/node.json" \
  ${BENCH_REST[@]+"${BENCH_REST[@]}"}
