#!/usr/bin/env bash
# Python bench: wstether (callbacks, asyncio) vs picows and websockets on the same testkit
# servers, server pinned to one CPU and the client to the other (see bench/README.md). Builds the
# extension and wstether-testd in release mode into bench/python/.venv.
#   bench/python/run.sh [--quick] [--unpinned] [--server-cpu 0] [--client-cpu 1]
#                       [--rounds 7] [--round-secs 0.6] [--idle 1000] [--only NAME] [--extra]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib.sh"
bench_args "$@"

venv="$here/.venv"
[[ -x "$venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "maturin>=1.9.4,<2" websockets picows aiohttp websocket-client
(cd "$REPO" && cargo build --quiet --release -p wstether-testkit --bin wstether-testd)
(cd "$REPO/python" && maturin develop --quiet --release)
export WSTETHER_TESTD="${WSTETHER_TESTD:-${CARGO_TARGET_DIR:-$REPO/target}/release/wstether-testd}"
bench_run python python "$here/bench.py" "${BENCH_FLAGS[@]}" --json "$BENCH_OUT/python.json" \
  ${BENCH_REST[@]+"${BENCH_REST[@]}"}
