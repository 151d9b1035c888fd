#!/usr/bin/env bash
# The main job on a fresh machine: set up, then `cordiale pair` (default: CNRS × Imperial College London).
# Any arguments replace the default ones, e.g. `bash scripts/main.sh ingest FILES…`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PWD/.tools/bin:$PATH"
bash scripts/setup.sh --no-dev --inexact >&2
if [ "$#" -eq 0 ]; then
  set -- pair I1294671590 I47508984
fi
exec .venv/bin/cordiale "$@"
