# Shared by the bench scripts (sourced): pinning flags, running the client pinned, the machine's
# load around a run, and the report.
# shellcheck shell=bash

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
BENCH_OUT="${BENCH_OUT:-${CARGO_TARGET_DIR:-$REPO/target}/bench}"

# bench_args ARGS...: reads the common flags and sets
#   BENCH_FLAGS  the flags every bench program understands (--quick, --unpinned, CPUs)
#   BENCH_REST   every other argument, for the program itself
#   BENCH_PINNED 1 or 0; SERVER_CPU, CLIENT_CPU
# --server-cpu / --client-cpu default to 0 and 1 (BENCH_SERVER_CPU / BENCH_CLIENT_CPU).
bench_args() {
  BENCH_FLAGS=() BENCH_REST=() BENCH_PINNED=1
  SERVER_CPU="${BENCH_SERVER_CPU:-0}" CLIENT_CPU="${BENCH_CLIENT_CPU:-1}"
  local quick=0
  while (($#)); do
    case "$1" in
      --quick) quick=1 ;;
      --unpinned) BENCH_PINNED=0 ;;
      --server-cpu) SERVER_CPU="$2"; shift ;;
      --client-cpu) CLIENT_CPU="$2"; shift ;;
      *) BENCH_REST+=("$1") ;;
    esac
    shift
  done
  ((quick)) && BENCH_FLAGS+=(--quick)
  if ((BENCH_PINNED)); then
    if [[ "$SERVER_CPU" == "$CLIENT_CPU" ]]; then
      echo "bench: --server-cpu and --client-cpu must differ" >&2; exit 2
    fi
    local cpu
    for cpu in "$SERVER_CPU" "$CLIENT_CPU"; do
      if ! taskset -c "$cpu" true 2>/dev/null; then
        echo "bench: cannot pin to CPU $cpu (this machine allows: $(taskset -pc $$ | sed 's/.*: //'))." >&2
        echo "       Pick CPUs with --server-cpu/--client-cpu, or pass --unpinned (figures not comparable)." >&2
        exit 2
      fi
    done
    BENCH_FLAGS+=(--server-cpu "$SERVER_CPU" --client-cpu "$CLIENT_CPU")
  else
    BENCH_FLAGS+=(--unpinned)
    echo "bench: UNPINNED run: its figures are not comparable with pinned ones" >&2
  fi
  # 1,000 idle clients need more descriptors than the usual soft limit of 1,024.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  mkdir -p "$BENCH_OUT"
}

# bench_client CMD...: runs CMD on the client CPU (every thread it ever starts stays there).
bench_client() {
  if ((BENCH_PINNED)); then
    taskset -c "$CLIENT_CPU" "$@"
  else
    "$@"
  fi
}

# bench_run LAYER CMD...: samples the machine's load, runs CMD pinned (it must write
# $BENCH_OUT/LAYER.json), samples again, records both in the JSON and prints the layer's report
# unless BENCH_NO_REPORT is set (bench/run.sh prints one report for all layers).
bench_run() {
  local layer="$1"; shift
  local json="$BENCH_OUT/$layer.json" before after status=0
  rm -f "$json"
  before="$(python3 "$BENCH_DIR/report.py" busy)"
  bench_client "$@" || status=$?
  after="$(python3 "$BENCH_DIR/report.py" busy)"
  if [[ ! -f "$json" ]]; then
    echo "bench: $layer wrote no results (exit $status)" >&2
    return $((status ? status : 1))
  fi
  python3 "$BENCH_DIR/report.py" stamp "$json" \
    "busy_before=${before% *}" "loadavg_before=${before#* }" \
    "busy_after=${after% *}" "loadavg_after=${after#* }"
  [[ -n "${BENCH_NO_REPORT:-}" ]] || python3 "$BENCH_DIR/report.py" show "$json"
  return "$status"
}
