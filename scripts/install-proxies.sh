#!/usr/bin/env bash
# The real proxies the proxy tests start (tinyproxy for HTTP CONNECT, dante for SOCKS5) and the
# system user dante checks SOCKS5 credentials against. Installs only what is missing; needs root
# (or sudo) for that, and says so otherwise.
set -euo pipefail

SOCKS_USER=wstproxy
SOCKS_PASSWORD=pr0xy-pw

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else echo "install-proxies: need root or sudo to run: $*" >&2; return 1
  fi
}

missing=()
command -v tinyproxy >/dev/null 2>&1 || [ -x /usr/bin/tinyproxy ] || missing+=(tinyproxy)
[ -x /usr/sbin/danted ] || command -v danted >/dev/null 2>&1 || missing+=(dante-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-proxies: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # The packages may start their own services; the tests start their instances on free ports.
fi
if ! id "$SOCKS_USER" >/dev/null 2>&1; then
  as_root useradd -M -s /usr/sbin/nologin "$SOCKS_USER"
  echo "$SOCKS_USER:$SOCKS_PASSWORD" | as_root chpasswd
fi
