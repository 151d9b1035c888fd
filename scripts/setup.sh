#!/usr/bin/env bash
# Set-up shared by the main job and the tests: uv, then a virtualenv (.venv) with the locked dependencies.
# uv comes from PyPI: a user install, else a small tools venv (.tools/, for systems whose Python refuses
# user installs, PEP 668), else a user install that overrides that refusal.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PWD/.tools/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  spec="uv>=0.5,<1"
  python3 -m pip install --quiet --user "$spec" 2>/dev/null \
    || { python3 -m venv .tools 2>/dev/null && .tools/bin/pip install --quiet "$spec"; } \
    || python3 -m pip install --quiet --user --break-system-packages "$spec"
fi
command -v uv >/dev/null 2>&1 || { echo "setup: could not install uv (see scripts/setup.sh)" >&2; exit 1; }
uv sync --frozen "$@"
# Byte-compile once per lock file: with PYTHONDONTWRITEBYTECODE set (as on our VMs) every process would
# otherwise compile each imported module from source (about 0.3-0.5 CPU s per `cordiale` start, and per
# ingest worker). compileall skips files whose bytecode is current, so later runs cost little.
stamp=.venv/.cordiale-bytecode
want="$(sha256sum uv.lock | cut -c1-16) $*"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m compileall -q -j 0 .venv/lib/python*/site-packages >/dev/null 2>&1 || true
  echo "$want" >"$stamp"
fi
.venv/bin/python -m compileall -q src >/dev/null 2>&1 || true
# The compiled parser (optional, several times faster): its Debian packages when missing and allowed, then
# the module. Either step may skip, saying why; cordiale then parses with msgspec alone.
bash scripts/native_deps.sh || true
bash scripts/build_native.sh
