#!/usr/bin/env bash
# The hostile-input suite at length: HALLMARK_FUZZ_RUNS inputs per parser and route (default 5000).
# Prints how many inputs each target received; any 5xx, crash or written row fails it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run --silent build
HALLMARK_FUZZ_RUNS="${HALLMARK_FUZZ_RUNS:-5000}" exec node --test dist/test/hostile.test.js
