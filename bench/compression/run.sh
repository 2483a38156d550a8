#!/usr/bin/env bash
# Compression bench (issue 14, item 7): wstether's Rust core, Python and Node clients against
# python-websockets' and ws's clients, permessage-deflate on both sides, every client against the
# same python-websockets and ws servers in one run; servers pinned to one CPU, clients to the
# other (see bench/README.md). Builds and installs what it needs first: the core's worker
# (release), the Python extension (`maturin develop --release`) and websockets in
# bench/python/.venv, the Node package (release addon) and ws in bench/compression/node_modules.
#   bench/compression/run.sh [--quick] [--unpinned] [--server-cpu 0] [--client-cpu 1]
#                            [--rounds 7] [--round-secs 0.6] [--clients A,B] [--servers websockets,ws]
#                            [--sizes 256,2048,65536]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib.sh"
bench_args "$@"

# Rust: the core's client worker.
(cd "$REPO" && cargo build --quiet --release -p wstether-bench --bin wstether-bench-compression)
worker="${CARGO_TARGET_DIR:-$REPO/target}/release/wstether-bench-compression"

# Python: the venv the Python bench uses (wstether's extension, python-websockets).
venv="$BENCH_DIR/python/.venv"
[[ -x "$venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$venv"
(
  # shellcheck disable=SC1091
  source "$venv/bin/activate"
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet "maturin>=1.9.4,<2" websockets
  cd "$REPO/python" && maturin develop --quiet --release
)

# Node: wstether's package, rebuilt every time (a stale addon would measure yesterday's core),
# then ws for the server and the ws client.
(
  cd "$REPO/node"
  [[ -d node_modules ]] || WSTETHER_SKIP_BUILD=1 npm ci --no-audit --no-fund
  npm run --silent build
)
(cd "$here" && npm ci --no-audit --no-fund --silent)

# The messages every server and client sends and checks (seeded: the same file every time).
payloads="$BENCH_OUT/compression-payloads.json"
[[ -s "$payloads" && "$payloads" -nt "$here/payloads.py" ]] || python3 "$here/payloads.py" "$payloads"

bench_run compression python3 "$here/bench.py" "${BENCH_FLAGS[@]}" --payloads "$payloads" \
  --python "$venv/bin/python" --rust-worker "$worker" --node "$(command -v node)" \
  --json "$BENCH_OUT/compression.json" ${BENCH_REST[@]+"${BENCH_REST[@]}"}
