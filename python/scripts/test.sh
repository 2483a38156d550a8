#!/usr/bin/env bash
# Build the wstether Python package into python/.venv, build the testkit daemon, then run the
# pytest suite and the strict type check. Exits non-zero on any failure.
#   WSTETHER_PY_PROFILE=release  build the extension optimised (default: debug, faster to build
#                                and shares the workspace's debug artifacts with the testkit)
#   PYTHON=python3.12            interpreter for the venv (default: python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"

python="${PYTHON:-python3}"
venv="$here/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "maturin>=1.9.4,<2" "pytest>=7" "pytest-asyncio>=0.23" "pytest-timeout>=2" "mypy>=1.8" \
  "websockets>=13,<16"  # the plain echo server the README examples run against

echo "== real proxies for the proxy tests (tinyproxy, dante)"
"$repo/scripts/install-proxies.sh"

echo "== building the testkit daemon"
(cd "$repo" && cargo build --quiet -p wstether-testkit --bin wstether-testd)
export WSTETHER_TESTD="${WSTETHER_TESTD:-$repo/target/debug/wstether-testd}"

echo "== building the extension (maturin develop)"
profile_flag=()
if [[ "${WSTETHER_PY_PROFILE:-debug}" == "release" ]]; then
  profile_flag=(--release)
fi
maturin develop --quiet "${profile_flag[@]}"

echo "== pytest"
python -m pytest -q -p no:cacheprovider tests

echo "== mypy --strict (package and typed example)"
mypy --strict --cache-dir=/dev/null wstether examples/typed_example.py

echo "python: all checks passed"
