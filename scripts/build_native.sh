#!/usr/bin/env bash
# Builds cordiale's compiled parser (src/cordiale/store/_native.cpp → src/cordiale/store/_native*.so) with
# g++ against Debian's libsimdjson-dev, for this machine's CPU (-march=native; simdjson's DOM parser picks its
# SIMD kernels at run time). Skipped, saying so, where either is missing: cordiale then parses every
# line with msgspec (same rows, slower).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
src=src/cordiale/store/_native.cpp
suffix="$($py -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
out="src/cordiale/store/_native$suffix"
if ! command -v g++ >/dev/null 2>&1 || [ ! -f /usr/include/simdjson.h ]; then
  echo "native parser: not built (needs g++ and libsimdjson-dev: scripts/native_deps.sh); msgspec parses every line" >&2
  exit 0
fi
# Rebuilt when the source or this script is newer, or on another CPU than the one it was built for (a
# checkout moved to an older machine would otherwise stop on an illegal instruction).
stamp="$out.cpu"
cpu="$(g++ -march=native -Q --help=target 2>/dev/null | grep -E '^[[:space:]]+-march=' | tr -d '[:space:]')"
[ "$out" -nt "$src" ] && [ "$out" -nt "$0" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$cpu" ] && exit 0
include="$($py -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
if g++ -O2 -march=native -std=c++17 -shared -fPIC -Wall -Wextra -I"$include" "$src" -lsimdjson -o "$out.tmp"; then
  mv "$out.tmp" "$out"
  echo "$cpu" >"$stamp"
  echo "native parser: built $out ($cpu)"
else
  rm -f "$out.tmp" "$out" "$stamp"
  echo "native parser: g++ failed; msgspec parses every line" >&2
fi
