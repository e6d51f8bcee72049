#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: a Prometheus
# server (with promtool), headless Chromium, and docker-compose (to validate
# docker-compose.yml; no Docker engine is needed). Skips what is already there.
set -euo pipefail
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Need root to apt-get install ${missing[*]}; install them and re-run." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
