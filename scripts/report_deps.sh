#!/usr/bin/env bash
# The dashboard's and annual report's system needs, installed when missing:
# Debian packages for WeasyPrint (Pango, HarfBuzz subsetting, a font) and poppler-utils (pdftoppm, used by
# the tests to render the report's pages); then the charts' JavaScript (vega, vega-lite, vega-embed) from
# the npm registry with `npm ci` (package-lock.json), copied into the dashboard's static files.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
ldconfig -p | grep -q 'libpango-1.0.so' || missing+=(libpango-1.0-0)
ldconfig -p | grep -q 'libpangoft2-1.0.so' || missing+=(libpangoft2-1.0-0)
ldconfig -p | grep -q 'libharfbuzz-subset.so' || missing+=(libharfbuzz-subset0)
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "report deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "report deps: present"
fi
if ! command -v npm >/dev/null 2>&1; then
  # the dashboard draws its charts with vega: installed with npm (Debian's package brings node)
  echo "report deps: installing npm"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --silent
  vendor=src/cordiale/web/dashboard/static/dashboard/vendor
  mkdir -p "$vendor"
  cp node_modules/vega/build/vega.min.js node_modules/vega-lite/build/vega-lite.min.js \
     node_modules/vega-embed/build/vega-embed.min.js "$vendor/"
  cp node_modules/world-atlas/countries-110m.json "$vendor/"
  echo "report deps: vega, vega-lite, vega-embed, world-atlas copied to $vendor"
else
  echo "report deps: npm not found: the dashboard's charts need vega (install node and npm, rerun)" >&2
fi
