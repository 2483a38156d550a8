#!/usr/bin/env bash
# Builds every artifact users install into dist/ and prints a table of them:
#   dist/python/  abi3 wheels (CPython >= 3.9): manylinux2014 x86_64 and aarch64, musllinux_1_2
#                 x86_64; and the sdist (checked: a wheel builds from it)
#   dist/node/    npm tarballs: `wstether` (JS + types, and the browser entry with its wasm) and one package per Linux platform
#   dist/jvm/     dev.wstether:wstether jar (natives for linux-x86-64 and linux-aarch64) + pom
#   dist/cli/     the `wstether` command for x86_64 Linux, musl, static
#   dist/rust/    the `wstether` crate as `cargo package` makes it (checked: it builds alone)
# Cross targets compile with zig (PyPI's ziglang) as C compiler and linker; every addon and
# library uses Cargo's `dist` profile (stripped, fat LTO). Needs Rust (rustup), Python 3, Node 20
# with npm, Java 17 with Maven; installs the rest itself (scripts/package-tools.sh).
# Logs of each step: target/dist-stage/logs/. WSTETHER_DIST=dir writes elsewhere than dist/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/package-tools.sh"
cd "$ROOT"

LOGS="$STAGE/logs"
VERSION="$(workspace_version)"
MAX_ADDON_BYTES=$((6 * 1024 * 1024))
started=$SECONDS
declare -a TIMES=()

timed() { # timed LABEL CMD...: run CMD, remember how long it took
  local label="$1" t0=$SECONDS
  shift
  echo "== $label"
  "$@"
  TIMES+=("$label: $((SECONDS - t0)) s")
}

ensure_package_tools
rm -rf "$DIST" "$STAGE"
mkdir -p "$DIST"/{python,node,jvm,cli,rust} "$STAGE" "$LOGS"

# musl's C library is `libc.musl-<arch>.so.1` on musl systems (the name auditwheel's musllinux
# policy allows); zig links it as `libc.so`. musl's loader takes either as itself; rename it.
fix_musl_needed() {
  if readelf -d "$1" | grep -q 'NEEDED.*\[libc\.so\]'; then
    patchelf --replace-needed libc.so libc.musl-x86_64.so.1 "$1"
  fi
}

build_wheel() { # build_wheel RUST_TARGET PY_COMPAT
  # maturin gets a target dir of its own: its zig wrappers differ from cargo-zigbuild's, and
  # sharing one dir would rebuild the dependencies on every alternation.
  (cd python && CARGO_TARGET_DIR="$TARGET_DIR/maturin" run_logged "wheel-$1" maturin build \
    --profile dist --zig --target "$1" --compatibility "$2" --out "$DIST/python")
  if [[ "$1" == *-musl ]]; then
    local whl unpacked="$STAGE/musl-wheel"
    whl="$(ls "$DIST"/python/wstether-"$VERSION"-*musllinux*.whl)"
    rm -rf "$unpacked" && run_logged musl-wheel-unpack wheel unpack --dest "$unpacked" "$whl"
    fix_musl_needed "$(ls "$unpacked"/wstether-"$VERSION"/wstether/_native*.so)"
    rm "$whl" && run_logged musl-wheel-pack wheel pack --dest-dir "$DIST/python" "$unpacked/wstether-$VERSION"
  fi
}

build_addon() { # build_addon ZIG_TARGET NPM_PLATFORM: napi build (cargo-zigbuild) of wstether-node
  (cd node && run_logged "addon-$2" npx --no-install napi build --platform --cross-compile \
    --target "$1" --profile dist --manifest-path Cargo.toml --output-dir "$STAGE/addons" \
    --no-js --dts index.d.ts)
  local addon="$STAGE/addons/wstether.$2.node" size
  [[ "$2" == *-musl ]] && fix_musl_needed "$addon"
  size=$(stat -c %s "$addon")
  if ((size > MAX_ADDON_BYTES)); then
    echo "addon $addon is $size bytes, over the 6 MB limit" >&2
    return 1
  fi
}

build_ffi() { # build_ffi RUST_TARGET ZIG_TARGET JNA_PREFIX: the uniffi library for the jar
  run_logged "ffi-$1" cargo zigbuild --profile dist --target "$2" -p wstether-ffi
  mkdir -p "$STAGE/jvm-natives/$3"
  cp "$TARGET_DIR/$1/dist/libwstether_ffi.so" "$STAGE/jvm-natives/$3/"
}

# ---- native builds, one Linux target at a time ------------------------------------------------
echo "== npm ci (node/: napi-rs CLI and TypeScript for the build)"
(cd node && run_logged npm-ci npm ci --no-audit --no-fund)
for line in "${LINUX_TARGETS[@]}"; do
  read -r triple zig_target py_compat npm_platform jna_prefix <<<"$line"
  timed "wheel $triple ($py_compat)" build_wheel "$triple" "$py_compat"
  timed "node addon $npm_platform" build_addon "$zig_target" "$npm_platform"
  if [[ "$jna_prefix" != "-" ]]; then
    timed "ffi library $jna_prefix" build_ffi "$triple" "$zig_target" "$jna_prefix"
  fi
done
cli_target=x86_64-unknown-linux-musl
# A target dir of its own: the static binary and the musl addon (built with -crt-static off)
# would otherwise overwrite each other's dependencies and rebuild them on every run.
timed "cli $cli_target (static)" run_logged cli cargo zigbuild --profile dist --target "$cli_target" \
  --target-dir "$TARGET_DIR/cli" -p wstether-cli --bin wstether

# ---- Python: sdist, and a wheel built from it ------------------------------------------------
sdist() { (cd python && run_logged sdist maturin sdist --out "$DIST/python"); }
timed "python sdist" sdist
# A from-source build as pip does it (debug profile: this checks the sdist is complete, not speed).
sdist_check() {
  local sdist
  sdist="$(ls "$DIST"/python/wstether-*.tar.gz)"
  # The shared target dir lets it reuse dependencies the test suites already built.
  CARGO_TARGET_DIR="$TARGET_DIR" MATURIN_PEP517_ARGS="--profile dev" run_logged sdist-wheel \
    python -m pip wheel --no-deps --no-build-isolation --wheel-dir "$STAGE/sdist-wheel" "$sdist"
  ls "$STAGE"/sdist-wheel/wstether-*.whl >/dev/null
}
timed "python wheel from the sdist" sdist_check

# ---- npm packages ----------------------------------------------------------------------------
node_packages() {
  cp "$STAGE/addons/index.d.ts" node/native/index.d.ts 2>/dev/null ||
    { mkdir -p node/native && cp "$STAGE/addons/index.d.ts" node/native/index.d.ts; }
  (cd node && run_logged tsc npm run build:ts)
  # The `browser` entry: the wasm client and its glue (node/wasm/), the compiled browser.ts
  # (node/browser/); "files" ships both in the main package.
  run_logged web-build ./web/scripts/build.sh
  # The main package: what node/package.json's "files" selects, plus the license texts and the
  # platform packages as optional dependencies (npm installs only the one that fits).
  (cd node && run_logged npm-pack-main npm pack --pack-destination "$STAGE")
  rm -rf "$STAGE/npm-main" && mkdir -p "$STAGE/npm-main"
  tar -xzf "$STAGE/wstether-$VERSION.tgz" -C "$STAGE/npm-main" --strip-components=1
  cp LICENSE-MIT LICENSE-APACHE "$STAGE/npm-main/"
  node - "$STAGE/npm-main/package.json" node/npm <<'JS'
const fs = require('node:fs'), path = require('node:path')
const [file, npmDir] = process.argv.slice(2)
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
pkg.optionalDependencies = {}
for (const dir of fs.readdirSync(npmDir).sort()) {
  const sub = JSON.parse(fs.readFileSync(path.join(npmDir, dir, 'package.json'), 'utf8'))
  pkg.optionalDependencies[sub.name] = sub.version
}
delete pkg.devDependencies
delete pkg.scripts
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n')
JS
  (cd "$STAGE/npm-main" && run_logged npm-pack-main2 npm pack --pack-destination "$DIST/node")
  local dir platform
  for dir in node/npm/*/; do
    platform="$(basename "$dir")"
    rm -rf "$STAGE/npm-$platform" && cp -r "$dir" "$STAGE/npm-$platform"
    cp "$STAGE/addons/wstether.$platform.node" LICENSE-MIT LICENSE-APACHE "$STAGE/npm-$platform/"
    (cd "$STAGE/npm-$platform" && run_logged "npm-pack-$platform" npm pack --pack-destination "$DIST/node")
  done
}
timed "npm packages" node_packages

# ---- JVM jar ---------------------------------------------------------------------------------
jvm_jar() {
  # `mvn install` runs cargo (release) for the bindings' generation and the test daemon, and
  # packs the stripped dist libraries of every Linux target instead of the host's release build.
  (cd mobile/kotlin && run_logged mvn-install mvn -B clean install -DskipTests \
    -Dwstether.cargoTargetDir="$TARGET_DIR" -Dwstether.natives="$STAGE/jvm-natives")
  cp "mobile/kotlin/target/wstether-$VERSION.jar" "$DIST/jvm/"
  cp mobile/kotlin/pom.xml "$DIST/jvm/wstether-$VERSION.pom"
}
timed "jvm jar" jvm_jar

# ---- CLI -------------------------------------------------------------------------------------
cli_archive() {
  local name="wstether-$VERSION-$cli_target" dir
  dir="$STAGE/$name"
  mkdir -p "$dir"
  cp "$TARGET_DIR/cli/$cli_target/dist/wstether" "$dir/"
  cp LICENSE-MIT LICENSE-APACHE "$dir/"
  cp cli/README.md "$dir/README.md"
  tar -czf "$DIST/cli/$name.tar.gz" -C "$STAGE" "$name"
  cp "$TARGET_DIR/cli/$cli_target/dist/wstether" "$DIST/cli/wstether"
}
timed "cli archive" cli_archive

# ---- Rust crate: what crates.io gets; `cargo package` also builds it on its own ---------------
rust_crate() {
  run_logged crate cargo package -p wstether --allow-dirty
  cp "$TARGET_DIR/package/wstether-$VERSION.crate" "$DIST/rust/"
}
timed "rust crate" rust_crate

# ---- the table -------------------------------------------------------------------------------
python3 - "$DIST" <<'PY'
import os, sys
dist = sys.argv[1]
def platform(name):
    for key, label in [("manylinux2014_x86_64", "linux x86_64 glibc>=2.17, CPython>=3.9 (abi3)"),
                       ("manylinux2014_aarch64", "linux aarch64 glibc>=2.17, CPython>=3.9 (abi3)"),
                       ("musllinux_1_2_x86_64", "linux x86_64 musl>=1.2, CPython>=3.9 (abi3)"),
                       ("linux-x64-gnu", "linux x64 glibc>=2.17, Node>=20"),
                       ("linux-arm64-gnu", "linux arm64 glibc>=2.17, Node>=20"),
                       ("linux-x64-musl", "linux x64 musl, Node>=20"),
                       ("x86_64-unknown-linux-musl", "linux x86_64 (static)")]:
        if key in name:
            return label
    if name.endswith(".tar.gz"):
        return "source (needs Rust)"
    if name.endswith(".crate"):
        return "Rust (crates.io)"
    if name.endswith(".jar"):
        return "JVM 17+: linux-x86-64, linux-aarch64"
    if name.endswith(".pom"):
        return "Maven metadata"
    if name == "wstether":
        return "linux x86_64 (static)"
    return "any (JS + types)"
def size(n):
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1 << 20 else f"{n / 1024:.0f} kB"
rows = []
for sub in ["python", "node", "jvm", "cli", "rust"]:
    for name in sorted(os.listdir(os.path.join(dist, sub))):
        rows.append((f"{sub}/{name}", platform(name), size(os.path.getsize(os.path.join(dist, sub, name)))))
w0 = max(len(r[0]) for r in rows); w1 = max(len(r[1]) for r in rows)
print(f"\n{'artifact':<{w0}}  {'platform':<{w1}}  size")
print(f"{'-' * w0}  {'-' * w1}  -------")
for a, p, s in rows:
    print(f"{a:<{w0}}  {p:<{w1}}  {s:>7}")
PY
echo
printf '  %s\n' "${TIMES[@]}"
echo "package.sh: $((SECONDS - started)) s; artifacts in $DIST"
