#!/usr/bin/env bash
# Runs every test suite of the repository: Rust (core, testkit, CLI, uniffi glue), Python, the
# packages users install (scripts/package.sh, then scripts/install-tests/run.sh: installed with no
# Rust on PATH), Node (against the packaged addon), Kotlin/JVM and the Swift freshness check.
# Each part's script installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

started=$SECONDS
# Each step says when it began (seconds into the run), so a slow CI run shows where time went.
step() { printf '\n==== %s [%ds] ====\n' "$*" "$((SECONDS - started))"; }

step "Rust: format check, lints, rustdoc, and the core's module graph"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
python3 scripts/check-module-graph.py

step "versions: every manifest carries the workspace version"
./scripts/check-versions.sh

step "Real proxies for the proxy tests (tinyproxy, dante; installed when missing)"
./scripts/install-proxies.sh

step "Rust: core, testkit, CLI, uniffi glue"
cargo test -p wstether -p wstether-testkit -p wstether-cli -p wstether-ffi

step "Autobahn|Testsuite client cases (kosoku's fuzzing server): every case must pass"
./scripts/autobahn.sh

step "python/scripts/test.sh"
./python/scripts/test.sh

step "scripts/package.sh (every artifact into dist/)"
./scripts/package.sh

step "scripts/install-tests/run.sh (install from dist/ with no Rust on PATH)"
./scripts/install-tests/run.sh

# The Node suite tests the addon package.sh built (what npm users get) instead of building a
# second one, against the debug wstether-testd the Python suite built.
step "node/scripts/test.sh"
WSTETHER_NODE_PREBUILT="$target_dir/dist-stage/addons" \
  WSTETHER_TESTD="${WSTETHER_TESTD:-$target_dir/debug/wstether-testd}" ./node/scripts/test.sh

# The browser client (the core's machine as wasm behind the npm package's `browser` entry) in
# headless Chromium; reuses the wasm build package.sh made and the debug wstether-testd.
step "web/scripts/test.sh"
WSTETHER_TESTD="${WSTETHER_TESTD:-$target_dir/debug/wstether-testd}" ./web/scripts/test.sh

step "mobile/scripts/test.sh"
./mobile/scripts/test.sh

step "bench: builds, and the report's arithmetic (no measurement: CI machines are noisy)"
cargo build -p wstether-bench
python3 bench/test_report.py
python3 bench/compression/test_compression.py
python3 -m py_compile bench/python/bench.py bench/report.py bench/compression/worker.py \
  bench/compression/server_websockets.py
node --check bench/node/bench.mjs
node --check bench/node/long-blast.mjs
for f in bench/compression/*.mjs; do node --check "$f"; done
bash -n bench/run.sh bench/lib.sh bench/python/run.sh bench/node/run.sh bench/kotlin/run.sh \
  bench/compression/run.sh
step "all suites passed"
echo "total: $((SECONDS - started)) s"
