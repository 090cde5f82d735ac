// Builds native/ec_verify.node (see native/ec-verify.c) with the node-gyp that npm ships, against the
// headers of the Node that runs this (npm_config_nodedir, else /usr when Debian's headers are there),
// so that nothing is downloaded. Skipped when the addon is newer than its sources.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const native = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'native');
const output = path.join(native, 'build', 'Release', 'ec_verify.node');
const sources = ['ec-verify.c', 'binding.gyp'].map((f) => fs.statSync(path.join(native, f)).mtimeMs);
if (fs.existsSync(output) && fs.statSync(output).mtimeMs > Math.max(...sources)) process.exit(0);

const nodedir = process.env.npm_config_nodedir || (fs.existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
const npmRoot = path.dirname(path.dirname(process.execPath)); // <prefix>/bin/node -> <prefix>
const candidates = [
  process.env.npm_config_node_gyp,
  path.join(npmRoot, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && fs.existsSync(p));
// The addon is optional: without it, CSR signatures are verified through node:crypto (slower).
if (candidates.length === 0) {
  console.error('build-native: node-gyp not found (it comes with npm); CSR signatures will be verified with node:crypto, more slowly');
  process.exit(0);
}
const args = [candidates[0], 'rebuild', '--directory', native, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
try {
  execFileSync(process.execPath, [...args, '--loglevel=error'], { stdio: ['ignore', 'pipe', 'pipe'] });
} catch (e) {
  process.stderr.write(`${e.stdout ?? ''}${e.stderr ?? ''}`);
  console.error('build-native: compiling native/ec-verify.c failed (it needs make, a C compiler and Node headers: apt-get install -y build-essential); CSR signatures will be verified with node:crypto, more slowly');
  process.exit(0);
}
