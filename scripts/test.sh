#!/usr/bin/env bash
# Runs every test suite of the repository: Rust (core, testkit, CLI, uniffi glue), Python, Node, Kotlin/JVM
# and the Swift freshness check. Each part's script installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==== %s ====\n' "$*"; }

step "Rust: format check"
cargo fmt --all -- --check

step "Rust: core, testkit, CLI, uniffi glue"
cargo test -p wstether -p wstether-testkit -p wstether-cli -p wstether-ffi

for part in python/scripts/test.sh node/scripts/test.sh mobile/scripts/test.sh; do
  if [ -x "$part" ]; then
    step "$part"
    "./$part"
  else
    echo "missing $part" >&2
    exit 1
  fi
done
step "all suites passed"
