#!/usr/bin/env bash
# What the ingest benchmark's native probe (bench/native_parse.cpp, one of bench/bounds.py's designs) needs,
# installed when missing: g++ and Debian's simdjson headers and library. Benchmark only: cordiale itself
# never needs them, and the benchmark skips the probe (saying why) where they cannot be installed.
set -euo pipefail
missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
[ -f /usr/include/simdjson.h ] || missing+=(libsimdjson-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "bench deps: could not install ${missing[*]}; the native probe will be skipped" >&2
  fi
else
  echo "bench deps: present"
fi
