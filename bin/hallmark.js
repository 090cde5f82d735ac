#!/usr/bin/env node
// Runs the compiled CLI (npm run build). Exit codes: 0 ok, 1 refused/failed, 2 usage.
import { main } from '../dist/src/cli/main.js';

const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
