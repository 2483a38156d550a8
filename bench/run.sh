#!/usr/bin/env bash
# Every bench, pinned (server on one CPU, client on the other; see bench/README.md), then one
# table of issue 13's targets and one of the compression bench (issue 14). Each layer's script
# also runs alone (bench/python/run.sh, bench/compression/run.sh, ...).
#   bench/run.sh [--quick] [--unpinned] [--server-cpu 0] [--client-cpu 1]
#                [--only core,python,node,kotlin,compression] [any other flag: passed to every bench]
# --quick is a smoke run (short rounds): it proves the harness works, it measures nothing.
# Results (raw rounds, JSON) go to target/bench/<layer>.json; `bench/report.py show` reprints them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

only="core,python,node,kotlin,compression"
pass=()
while (($#)); do
  case "$1" in
    --only) only="$2"; shift ;;
    *) pass+=("$1") ;;
  esac
  shift
done
bench_args ${pass[@]+"${pass[@]}"}
export BENCH_NO_REPORT=1 BENCH_OUT

failed=() done=()
for layer in core python node kotlin compression; do
  [[ ",$only," == *",$layer,"* ]] || continue
  echo "=== $layer"
  case "$layer" in
    core)
      status=0
      (cd "$REPO" && cargo build --quiet --release -p wstether-bench) || status=$?
      if ((status == 0)); then
        bench_run core "${CARGO_TARGET_DIR:-$REPO/target}/release/wstether-bench" \
          "${BENCH_FLAGS[@]}" --json "$BENCH_OUT/core.json" ${BENCH_REST[@]+"${BENCH_REST[@]}"} || status=$?
      fi
      ;;
    *)
      status=0
      "$here/$layer/run.sh" ${pass[@]+"${pass[@]}"} || status=$?
      ;;
  esac
  if ((status == 0)) && [[ -f "$BENCH_OUT/$layer.json" ]]; then
    done+=("$BENCH_OUT/$layer.json")
  else
    failed+=("$layer")
  fi
done

if ((${#done[@]})); then
  python3 "$here/report.py" show "${done[@]}"
fi
if ((${#failed[@]})); then
  echo "*** failed: ${failed[*]} (see above)" >&2
  exit 1
fi
