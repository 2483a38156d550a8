#!/usr/bin/env bash
# Runs the Autobahn|Testsuite client cases against the Rust core: kosoku's fuzzing server (a Rust
# runner of Autobahn's own case files, from PyPI) on 127.0.0.1, and core/examples/autobahn.rs as
# the client under test, which echoes every message. Prints the tally by behaviour per case group
# and exits non-zero on any FAILED or UNIMPLEMENTED case.
#
#   scripts/autobahn.sh [--allow-unimplemented] [--case GLOB]... [--jobs N]
#
#   --allow-unimplemented  UNIMPLEMENTED cases do not fail the run (12.x and 13.x until the
#                          client negotiates permessage-deflate).
#   --case GLOB            run only these cases (kosoku's ids or globs, e.g. 5.* or 9.1.1).
#   --jobs N               cases run at once (default: the number of CPUs, at most 4); the
#                          compression cases are CPU-bound on both sides.
#
# Installs what it needs: a venv with kosoku under target/autobahn/, and the client in release
# mode. Reports (Autobahn's index.json and one file per case) land in target/autobahn/reports/.
set -euo pipefail
cd "$(dirname "$0")/.."

KOSOKU_VERSION=0.1.0
allow_unimplemented=0
cases=()
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 4 ] && jobs=4
while [ $# -gt 0 ]; do
  case "$1" in
    --allow-unimplemented) allow_unimplemented=1 ;;
    --case) cases+=("$2"); shift ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
work="$target_dir/autobahn"
venv="$work/venv"
mkdir -p "$work"

if ! "$venv/bin/python" -c "import kosoku" 2>/dev/null \
   || [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("kosoku"))')" != "$KOSOKU_VERSION" ]; then
  echo "installing kosoku $KOSOKU_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kosoku==$KOSOKU_VERSION"
fi

echo "building the client (release)"
cargo build --quiet --release -p wstether --example autobahn
client="$target_dir/release/examples/autobahn"

started=$(date +%s)
# Autobahn's server asks a client to drop its compression context only if the client offered
# client_no_context_takeover, so those groups run in a second pass that offers it.
no_context_groups=("13.2.*" "13.5.*" "13.6.*" "13.7.*")
if [ ${#cases[@]} -eq 0 ]; then
  exclude=()
  for g in "${no_context_groups[@]}"; do exclude+=(--exclude "$g"); done
  passes=("default" "no-context")
else
  passes=("selected")
fi

rm -rf "$work/reports"
for pass in "${passes[@]}"; do
  args=()
  client_args=(--jobs "$jobs")
  case "$pass" in
    default) args=("${exclude[@]}") ;;
    no-context)
      for g in "${no_context_groups[@]}"; do args+=(--include "$g"); done
      client_args+=(--client-no-context-takeover) ;;
    selected) for c in "${cases[@]}"; do args+=(--include "$c"); done ;;
  esac
  echo "pass $pass ($jobs at once)"
  "$venv/bin/python" scripts/autobahn_pass.py --reports "$work/reports/$pass" "${args[@]}" \
    -- "$client" "${client_args[@]}"
done

"$venv/bin/python" scripts/autobahn_pass.py --tally "$work/reports" \
  --elapsed "$(( $(date +%s) - started ))" \
  $([ "$allow_unimplemented" = 1 ] && echo --allow-unimplemented)
