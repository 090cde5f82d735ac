#!/usr/bin/env bash
# The several-instances test at the issue's scale: three `hallmark serve` on one PostgreSQL and
# HALLMARK_INSTANCE_DEVICES (default 5000) concurrent provisionings and enrollments.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run --silent build
HALLMARK_INSTANCE_DEVICES="${HALLMARK_INSTANCE_DEVICES:-5000}" exec node --test dist/test/instances.test.js
