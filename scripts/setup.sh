#!/usr/bin/env bash
# Set-up shared by the main job and the tests: uv, then a virtualenv (.venv) with the locked dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user "uv>=0.5,<1" 2>/dev/null || python3 -m pip install --quiet "uv>=0.5,<1"
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --frozen "$@"
