#!/usr/bin/env bash
# Kotlin bench: the Kotlin layer (listener, Flow) vs OkHttp on the same testkit servers, server
# pinned to one CPU and the client JVM to the other (see bench/README.md). Builds the release
# cdylib and testd, generates the Kotlin bindings, compiles this bench with Maven, runs it.
#   bench/kotlin/run.sh [--quick] [--unpinned] [--server-cpu 0] [--client-cpu 1]
#                       [--rounds 7] [--round-secs 0.6] [--warmup-secs 12] [--idle 1000]
#   bench/kotlin/run.sh --soak 'wstether listener' [--soak-size 64] [--soak-secs 30]   (for perf)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib.sh"
bench_args "$@"
source "$REPO/mobile/scripts/common.sh"

cd "$ROOT"
cargo build --release -p wstether-ffi -p uniffi-bindgen -p wstether-testkit 2>&1 | tail -n 1
GEN="$ROOT/mobile/kotlin/target/generated-sources/uniffi"
rm -rf "$GEN"
"$BINDGEN" generate --no-format --library "$LIB" --language kotlin --out-dir "$GEN" >/dev/null
cd "$here"
mvn -B -q compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
JAVA=(java -Xmx512m -Djna.library.path="$PROFILE_DIR" -cp "target/classes:$(cat target/classpath.txt)" dev.wstether.bench.BenchKt
  --testd "${WSTETHER_TESTD:-$PROFILE_DIR/wstether-testd}")
if [[ " ${BENCH_REST[*]-} " == *" --soak "* ]]; then
  # One receiver over and over, for a profiler: rates only, no report.
  bench_client "${JAVA[@]}" "${BENCH_FLAGS[@]}" "${BENCH_REST[@]}"
  exit
fi
bench_run kotlin "${JAVA[@]}" "${BENCH_FLAGS[@]}" --json "$BENCH_OUT/kotlin.json" ${BENCH_REST[@]+"${BENCH_REST[@]}"}
