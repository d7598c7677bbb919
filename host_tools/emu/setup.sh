#!/usr/bin/env bash
# Part of `make setup` (host_tools/bootstrap.sh calls it): what the emulated
# boards and the 32-bit heap figures need. Debian toolchains (installed when
# missing and we are root, else named), the runner's npm packages (pinned in
# host_tools/emu/package-lock.json), then the stack port itself
# (firmware/port: downloads the pinned MicroPython source archive, checks its
# hash, builds build/port/host32/host32 and build/port/rp2040/firmware.bin).
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || missing+=(gcc-arm-none-eabi)
[ -d /usr/lib/arm-none-eabi/newlib ] || missing+=(libnewlib-arm-none-eabi)
echo 'int main(void){return 0;}' | gcc -m32 -x c -o /dev/null - >/dev/null 2>&1 || missing+=(gcc-multilib)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "emu setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "emu setup: missing tools; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

emu=host_tools/emu
if [ ! -f $emu/node_modules/.installed ] || [ $emu/package-lock.json -nt $emu/node_modules/.installed ]; then
  echo "emu setup: installing the runner's pinned npm packages"
  (cd $emu && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch $emu/node_modules/.installed
fi

# the port: make rebuilds only what changed (quiet when nothing did)
if ! out=$(make -s -C firmware/port 2>&1); then
  echo "$out" | tail -20 >&2
  echo "emu setup: building the stack port (firmware/port) failed" >&2
  exit 1
fi
