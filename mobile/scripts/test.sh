#!/usr/bin/env bash
# Kotlin + Swift packages: `mvn test` in mobile/kotlin builds the ffi cdylib, uniffi-bindgen and the
# testkit daemon (one cargo release build, run by the pom), generates the Kotlin bindings and runs
# the JUnit suite; then check that the committed Swift bindings are exactly what the library
# generates. Exits non-zero on failure.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

echo "== real proxies for the proxy tests (tinyproxy, dante)"
"$ROOT/scripts/install-proxies.sh"

echo "== Kotlin: mvn test (the pom runs cargo build --release -p wstether-ffi -p uniffi-bindgen -p wstether-testkit and generates the bindings)"
status=0
(cd "$ROOT/mobile/kotlin" && mvn -B -q test \
  -Dwstether.cargoTargetDir="$TARGET_DIR" \
  -Dwstether.testd="${WSTETHER_TESTD:-$PROFILE_DIR/wstether-testd}") || status=1
# One plain closing line from Surefire's reports (mvn -q prints no summary on success).
python3 - "$ROOT/mobile/kotlin/target/surefire-reports" <<'PY' || status=1
import glob, sys, xml.etree.ElementTree as ET
tests = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/TEST-*.xml"):
    r = ET.parse(f).getroot()
    tests += int(r.get("tests", 0)); skipped += int(r.get("skipped", 0))
    failed += int(r.get("failures", 0)) + int(r.get("errors", 0))
print(f"kotlin: {tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or tests == 0 else 0)
PY

echo "== Swift: generated bindings up to date with the library"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
generate_swift "$tmp"
if diff -ru "$tmp/Sources/WstetherFFI" "$SWIFT_PKG/Sources/WstetherFFI" \
   && diff -ru "$tmp/Sources/wstether_ffiFFI/include" "$SWIFT_PKG/Sources/wstether_ffiFFI/include"; then
  echo "swift: generated sources are fresh (run mobile/scripts/generate-swift.sh after changing bindings/)"
else
  echo "swift: generated sources are STALE: run mobile/scripts/generate-swift.sh and commit" >&2
  status=1
fi
exit "$status"
