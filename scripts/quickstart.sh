#!/usr/bin/env bash
# Quick start, first command: everything a fresh Debian machine with Node 20 needs, then a running CA.
#   1. SoftHSM2 (and make, g++) from Debian when missing; npm dependencies; build
#   2. a SoftHSM dev token and PIN file under $HALLMARK_HOME (default ./data)
#   3. `hallmark init` on the first run (prints the bootstrap admin API key once)
#   4. `hallmark serve` (HTTPS 8443: REST/EST; HTTP 8080: CA certificates, health)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HALLMARK_HOME="${HALLMARK_HOME:-$PWD/data}"

step() { printf '\n==> %s\n' "$*" >&2; }

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "quickstart: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# SoftHSM2, and make + g++ for the native modules (sqlite3, pkcs11js, Hallmark's ECDSA verifier).
packages=()
for tool in softhsm2-util:softhsm2 openssl:openssl make:make g++:g++; do
  command -v "${tool%%:*}" >/dev/null || packages+=("${tool#*:}")
done
if [ ${#packages[@]} -gt 0 ]; then
  step "installing ${packages[*]} (Debian packages)"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (sqlite3, pkcs11js and native/ec-verify build from source: about two minutes)"
  npm ci --no-audit --no-fund
fi
step "building"
npm run --silent build

step "SoftHSM development token in $HALLMARK_HOME"
eval "$(bash scripts/dev-token.sh)"
cat > "$HALLMARK_HOME/env.sh" <<ENV
# source this file to use the hallmark CLI against the development CA
export HALLMARK_HOME="$HALLMARK_HOME"
export SOFTHSM2_CONF="$SOFTHSM2_CONF"
export HALLMARK_PKCS11_PIN_FILE="$HALLMARK_PKCS11_PIN_FILE"
ENV

if [ "$(node bin/hallmark.js ca list --json)" = "[]" ]; then
  step "CA ceremony: keys on the token, root and issuing CA"
  node bin/hallmark.js init
fi

step "serving (Ctrl-C stops). In another terminal: source $HALLMARK_HOME/env.sh && npx hallmark ca list"
exec node bin/hallmark.js serve "$@"
