#!/usr/bin/env bash
# The whole test suite (README "Quick start", second command; .ci/run calls it too).
# Needs: Node 20, softhsm2, openssl, curl, gnutls-bin, PostgreSQL on 127.0.0.1:5432 (trust, db `test`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci
npm run --silent build
# One test file per process (SoftHSM reads its configuration once per process).
exec node --test --test-concurrency=2 "$@" dist/test/*.test.js
