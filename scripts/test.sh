#!/usr/bin/env bash
# Runs every test suite of the repository: Rust (core, testkit, CLI, uniffi glue), Python, Node, Kotlin/JVM
# and the Swift freshness check. Each part's script installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==== %s ====\n' "$*"; }

step "Rust: format check, lints, and the core's module graph"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
python3 scripts/check-module-graph.py

step "Real proxies for the proxy tests (tinyproxy, dante; installed when missing)"
./scripts/install-proxies.sh

step "Rust: core, testkit, CLI, uniffi glue"
cargo test -p wstether -p wstether-testkit -p wstether-cli -p wstether-ffi

step "Autobahn|Testsuite client cases (kosoku's fuzzing server): every case must pass"
./scripts/autobahn.sh

for part in python/scripts/test.sh node/scripts/test.sh mobile/scripts/test.sh; do
  if [ -x "$part" ]; then
    step "$part"
    "./$part"
  else
    echo "missing $part" >&2
    exit 1
  fi
done
step "bench: builds, and the report's arithmetic (no measurement: CI machines are noisy)"
cargo build -p wstether-bench
python3 bench/test_report.py
python3 -m py_compile bench/python/bench.py bench/report.py
node --check bench/node/bench.mjs
bash -n bench/run.sh bench/lib.sh bench/python/run.sh bench/node/run.sh bench/kotlin/run.sh
step "all suites passed"
