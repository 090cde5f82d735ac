#!/usr/bin/env bash
# Quick start, first command: everything a fresh Debian machine with Node 20 needs, then a running CA.
#   1. SoftHSM2 (and make, g++) from Debian when missing (scripts/install-tools.sh); npm dependencies; build
#   2. a SoftHSM dev token and PIN file under $HALLMARK_HOME (default ./data)
#   3. `hallmark init` on the first run; its bootstrap admin API key kept in $HALLMARK_HOME/admin-api-key
#      (0600) for this development CA, and `source $HALLMARK_HOME/env.sh` puts hallmark on PATH
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
bash scripts/install-tools.sh run

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (sqlite3, pkcs11js and native/ec-verify build from source: about two minutes)"
  npm ci --no-audit --no-fund
fi
# Built when something it is built from is newer than the build (the test suite, which has just
# built it and runs beside it, says so with HALLMARK_QUICKSTART_BUILT).
if [ -z "${HALLMARK_QUICKSTART_BUILT:-}" ] && { [ ! -f dist/src/cli/main.js ] || [ -n "$(find src console bin native scripts package-lock.json tsconfig.json -newer dist/src/cli/main.js -type f -print -quit 2>/dev/null)" ]; }; then
  step "building"
  npm run --silent build
fi

step "SoftHSM development token in $HALLMARK_HOME"
eval "$(bash scripts/dev-token.sh)"
# `hallmark` on PATH for whoever sources env.sh: a link in the home's bin/ to this checkout's CLI.
mkdir -p "$HALLMARK_HOME/bin"
ln -sf "$PWD/bin/hallmark.js" "$HALLMARK_HOME/bin/hallmark"
cat > "$HALLMARK_HOME/env.sh" <<ENV
# source this file to use the hallmark CLI against the development CA
export HALLMARK_HOME="$HALLMARK_HOME"
export SOFTHSM2_CONF="$SOFTHSM2_CONF"
export HALLMARK_PKCS11_PIN_FILE="$HALLMARK_PKCS11_PIN_FILE"
export PATH="$HALLMARK_HOME/bin:\$PATH"
# The development CA's bootstrap admin API key (a real CA's is only printed, once, by hallmark init).
[ -f "$HALLMARK_HOME/admin-api-key" ] && export ADMIN_KEY="\$(cat "$HALLMARK_HOME/admin-api-key")"
ENV

initialised=no
if [ -n "${DATABASE_URL:-}" ] || [ -f "$HALLMARK_HOME/hallmark.sqlite" ]; then
  [ "$(node bin/hallmark.js ca list --json)" = "[]" ] || initialised=yes
fi
if [ "$initialised" = no ]; then
  step "CA ceremony: keys on the token, root and issuing CA"
  ceremony="$(node bin/hallmark.js init --json)"
  # Kept owner-only in the home for this development setup, so that env.sh can set ADMIN_KEY.
  (umask 077; node -e 'process.stdout.write(JSON.parse(process.argv[1]).admin.apiKey)' "$ceremony" > "$HALLMARK_HOME/admin-api-key")
  node -e 'for (const ca of JSON.parse(process.argv[1]).cas) console.error(`CA ${ca.name}: ${ca.subject}, valid until ${ca.notAfter}`)' "$ceremony"
  echo "bootstrap admin API key saved to $HALLMARK_HOME/admin-api-key (env.sh sets ADMIN_KEY from it)" >&2
fi

step "serving (Ctrl-C stops). In another terminal: source $HALLMARK_HOME/env.sh && hallmark status"
exec node bin/hallmark.js serve "$@"
