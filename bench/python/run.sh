#!/usr/bin/env bash
# Python benchmark: wstether (callbacks, asyncio) vs picows, websockets, aiohttp, websocket-client
# on the same testkit server. Builds everything in release mode into bench/python/.venv.
#   bench/python/run.sh [--messages 200000] [--trips 10000] [--repeat 3]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
[[ -x "$venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "maturin>=1.9.4,<2" websockets websocket-client picows aiohttp
(cd "$repo" && cargo build --quiet --release -p wstether-testkit --bin wstether-testd)
(cd "$repo/python" && maturin develop --quiet --release)
export WSTETHER_TESTD="$repo/target/release/wstether-testd"
exec python "$here/bench.py" "$@"
