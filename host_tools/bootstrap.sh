#!/usr/bin/env bash
# Make the machine ready for `make test` / `make sim` / `make bench`:
# Debian tools (installed when missing and we are root, else named), then .venv with pinned packages.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # dnsmasq, ip: root tools
cd "$(dirname "$0")/.."

# command -> Debian package that provides it
need=(ip:iproute2 ping:iputils-ping nc:netcat-openbsd curl:curl tc:iproute2 wrk:wrk ab:apache2-utils tcpdump:tcpdump dnsmasq:dnsmasq-base tshark:tshark
      chromium:chromium setpriv:util-linux  # the page test (headless Chromium), the flash permission test
      taskset:util-linux valgrind:valgrind gcc:gcc dpkg-source:dpkg-dev)  # last line: bench/ (lwIP baseline, callgrind)
missing=()
for pair in "${need[@]}"; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Debian packages: $pkgs"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
  else
    echo "bootstrap: missing tools; install them with: sudo apt-get install $pkgs" >&2
    exit 1
  fi
fi

stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  echo "bootstrap: installing pinned Python packages into .venv"
  # (grep drops pip's notes about package index mirrors this machine may not have)
  { .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt 2>&1; } |
    { grep -v "^WARNING: Location .* is ignored" || true; }
  touch "$stamp"
fi

# The emulated RP2040 boards and host32 heap figures (docs/emulator.md).
bash host_tools/emu/setup.sh

# The simulator's TAP relay in C (host_tools/tapwire.c; the launcher falls back
# to the Python one if it is missing, and uses that one to impair the link).
if [ ! -x build/tapwire ] || [ host_tools/tapwire.c -nt build/tapwire ]; then
  mkdir -p build
  gcc -O2 -Wall -Werror -o build/tapwire host_tools/tapwire.c
fi
