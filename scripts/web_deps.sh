#!/usr/bin/env bash
# System packages the web app's tests and load benchmark need, installed with apt-get when missing:
# PostgreSQL (server binaries for the tests' throwaway cluster), Debian's chromium + chromium-driver
# (headless end-to-end journeys; never a browser download), wrk (load benchmark).
set -euo pipefail
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "web deps: present"
  exit 0
fi
echo "web deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a cluster on install; the tests use their own throwaway one, so stop the packaged one.
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
  $sudo service postgresql stop >/dev/null 2>&1 || true
fi
