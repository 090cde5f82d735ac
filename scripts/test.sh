#!/usr/bin/env bash
# The whole test suite (README Quick start, second command; .ci/run runs it too).
# Real parts only: SoftHSM2, SQLite, PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`,
# or HALLMARK_TEST_DATABASE_URL), and openssl, curl and gnutls-cli as independent clients.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
for tool in softhsm2-util:softhsm2 openssl:openssl curl:curl gnutls-cli:gnutls-bin mosquitto:mosquitto mosquitto_pub:mosquitto-clients chromium:chromium make:make g++:g++ strace:strace; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: missing tools; install them with: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
# Each file runs in its own process: SoftHSM reads its configuration once per process. No test runs
# longer than 5 minutes (a hang fails it), and a file whose tests are done exits even if something it
# started still holds it open (its children are killed on exit: test/helpers/server.ts).
exec node --test --test-concurrency=2 --test-timeout=300000 --test-force-exit "$@" dist/test/*.test.js
