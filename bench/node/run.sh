#!/usr/bin/env bash
# Node benchmark: wstether vs ws, partysocket and reconnecting-websocket (over ws), one server,
# one run, ratios printed. Builds what it needs: bench deps, the wstether package (release
# addon + TS) unless already built, and wstether-testd (release). Pass --quick for a short run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

cd "$repo/node"
if ! ls native/*.node >/dev/null 2>&1 || [ ! -f dist/index.js ]; then
  WSTETHER_SKIP_BUILD=1 npm ci --no-audit --no-fund
  npm run build
fi

triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --target "$triple" -p wstether-testkit --bin wstether-testd --manifest-path "$repo/Cargo.toml"
export WSTETHER_TESTD="${CARGO_TARGET_DIR:-$repo/target}/$triple/release/wstether-testd"

cd "$here"
npm ci --no-audit --no-fund
node bench.mjs "$@"
