#!/usr/bin/env bash
# Print the path of a Python that has python-websockets, for the README example tests:
# $WSTETHER_ECHO_PYTHON if set, else a venv made once under the cargo target directory.
set -euo pipefail
if [[ -n "${WSTETHER_ECHO_PYTHON:-}" ]]; then
  echo "$WSTETHER_ECHO_PYTHON"
  exit 0
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$repo/target}/echo-venv"
if ! "$venv/bin/python" -c "import websockets.asyncio.server" 2>/dev/null; then
  "${PYTHON:-python3}" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "websockets>=13,<16" >&2
fi
echo "$venv/bin/python"
