#!/usr/bin/env bash
# What the compiled parser (src/cordiale/store/_native.cpp, built by scripts/build_native.sh) and the ingest
# benchmark's native probe need: g++ and Debian's simdjson headers and library, installed when missing
# (as root, or through sudo when it asks for no password). Optional: without them cordiale parses every line
# with msgspec, and the benchmark skips the probe, saying why.
set -euo pipefail
missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
[ -f /usr/include/simdjson.h ] || missing+=(libsimdjson-dev)
[ "${#missing[@]}" -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "native deps: ${missing[*]} missing and no root; the pure-Python parser will be used" >&2
    exit 0
  fi
fi
echo "native deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "native deps: could not install ${missing[*]}; the pure-Python parser will be used" >&2
fi
