#!/usr/bin/env bash
# The whole test suite (README, second command; .ci/run runs it too). It sets up what it needs:
# the Debian tools the tests talk to (scripts/install-tools.sh), a PostgreSQL (scripts/test-database.sh:
# 127.0.0.1:5432 with trust auth and database `test`, HALLMARK_TEST_DATABASE_URL, or one it installs),
# the npm dependencies, and the build. Real parts only: SoftHSM2, SQLite, PostgreSQL, and openssl,
# curl, GnuTLS, Mosquitto and Chromium as independent clients.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-tools.sh test
HALLMARK_TEST_DATABASE_URL="$(bash scripts/test-database.sh)"
export HALLMARK_TEST_DATABASE_URL
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
# Each file runs in its own process: SoftHSM reads its configuration once per process. No test runs
# longer than 5 minutes (a hang fails it), and a file whose tests are done exits even if something it
# started still holds it open (its children are killed on exit: test/helpers/server.ts).
exec node --test --test-concurrency=2 --test-timeout=300000 --test-force-exit "$@" dist/test/*.test.js
