#!/usr/bin/env node
// Runs the compiled CLI (npm run build). Exit codes: 0 ok, 1 refused/failed, 2 usage.
import { main } from '../dist/src/cli/main.js';

// `hallmark cert list | head`: the reader has gone, so stop quietly, as other Unix tools do.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const code = await main(process.argv.slice(2));
if (code >= 0) {
  process.exitCode = code;
  // A command that is done never hangs on a handle left open (a pool, a timer): it exits anyway.
  setTimeout(() => {
    process.stderr.write('hallmark: exiting; something held the process open after the command finished\n');
    process.exit(code);
  }, 10_000).unref();
}
