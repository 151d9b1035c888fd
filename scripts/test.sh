#!/usr/bin/env bash
# The tests on a fresh machine: system packages and Python set-up, lint, type-check, the test suite
# (each stage timed).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PWD/.tools/bin:$PATH"
stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "== stage: $name"
  "$@"
  echo "== stage: $name took $((SECONDS - t0)) s"
}
stage system-deps bash scripts/system_deps.sh
# the Spark extra: the observatory's two-engine tests run PySpark (local mode, Java 17)
stage setup bash scripts/setup.sh --extra spark
stage lint .venv/bin/ruff check src tests bench
stage typecheck .venv/bin/mypy
stage tests .venv/bin/pytest -q -p no:cacheprovider "$@"
