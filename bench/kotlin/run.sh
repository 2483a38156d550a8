#!/usr/bin/env bash
# Throughput of the Kotlin layer vs OkHttp (tests/README.md "throughput"): builds the release
# cdylib and testd, generates the Kotlin bindings, compiles this bench with Maven, runs it.
set -euo pipefail
source "$(dirname "$0")/../../mobile/scripts/common.sh"
cd "$ROOT"
cargo build --release -p wstether-ffi -p uniffi-bindgen -p wstether-testkit 2>&1 | tail -n 1
GEN="$ROOT/mobile/kotlin/target/generated-sources/uniffi"
rm -rf "$GEN"
"$BINDGEN" generate --no-format --library "$LIB" --language kotlin --out-dir "$GEN" >/dev/null
cd "$ROOT/bench/kotlin"
mvn -B -q compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
exec java -Xmx512m -Djna.library.path="$PROFILE_DIR" \
  -cp "target/classes:$(cat target/classpath.txt)" dev.wstether.bench.ThroughputKt \
  "${WSTETHER_TESTD:-$PROFILE_DIR/wstether-testd}"
