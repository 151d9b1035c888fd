#!/usr/bin/env bash
# System packages the tests need, each installed from Debian only when missing (root or sudo):
# the web app's (PostgreSQL, Chromium + ChromeDriver, wrk), the dashboard's and report's (WeasyPrint's
# libraries, poppler-utils, npm, then the chart libraries from the npm registry), and a Java 17 runtime
# for PySpark (the observatory's second engine).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/web_deps.sh
bash scripts/report_deps.sh
if ! command -v java >/dev/null 2>&1; then
  echo "system deps: installing a Java 17 runtime for PySpark"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
else
  echo "system deps: java present"
fi
