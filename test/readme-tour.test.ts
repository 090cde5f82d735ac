import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ROOT } from './helpers/paths.js';
import { run } from './helpers/run.js';

/**
 * The README's first command and its five-minute tour, as a newcomer runs them: `scripts/quickstart.sh`
 * makes a token and a CA and serves; then every `sh` block under "Five-minute tour" runs, in order, in
 * one shell with none of Hallmark's variables set (a new terminal). Only the ports change: the
 * quick start serves on free ones here, and the tour's localhost:8443 and :8080 follow them.
 */

/** The shell blocks of one section of a Markdown file, in order. */
function sectionBlocks(file: string, heading: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `${file} has a "${heading}" section`);
  const end = text.indexOf('\n## ', start + heading.length + 2);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Runs the blocks in one shell, stopping at the first that fails; says how many finished. */
async function runBlocks(blocks: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const script = ['set -euo pipefail', ...blocks.map((b, i) => `${b}\necho "@@ block ${i + 1} done"`)].join('\n');
  const result = await run('bash', ['-c', script], { env, cwd, timeoutMs: 170_000 });
  return { ...result, done: [...result.stdout.matchAll(/@@ block (\d+) done/g)].length };
}

let dir: string;
let serve: ChildProcess | undefined;
let ports: { https: number; http: number };
let serveLog = '';

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hallmark-tour-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HALLMARK_HOME: path.join(dir, 'data'), HALLMARK_QUICKSTART_BUILT: '1' };
  for (const name of ['DATABASE_URL', 'HALLMARK_CONFIG', 'HALLMARK_PKCS11_PIN', 'HALLMARK_PKCS11_PIN_FILE', 'HALLMARK_PKCS11_TOKEN', 'SOFTHSM2_CONF']) delete env[name];
  // The README's first command, with serve's own options after it (free ports, a ready line on stdout).
  serve = spawn('bash', [path.join(ROOT, 'scripts', 'quickstart.sh'), '--https-port', '0', '--http-port', '0', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  serve.stderr!.on('data', (d) => (serveLog += d));
  ports = await new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`quickstart did not serve within 3 minutes:\n${serveLog}`)), 180_000);
    serve!.once('exit', (code) => reject(new Error(`quickstart exited ${code}:\n${serveLog}`)));
    createInterface({ input: serve!.stdout! }).on('line', (line) => {
      const ready = (JSON.parse(line) as { ready?: { https: number; http: number } }).ready;
      if (!ready) return;
      clearTimeout(deadline);
      resolve(ready);
    });
  });
});

after(async () => {
  if (serve && serve.exitCode === null) {
    const exited = new Promise((r) => serve!.once('exit', r));
    serve.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    if (serve.exitCode === null) serve.kill('SIGKILL');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the quick start keeps the admin key owner-only and writes an env.sh that puts hallmark on PATH', () => {
  assert.equal(fs.statSync(path.join(dir, 'data', 'admin-api-key')).mode & 0o777, 0o600);
  const envSh = fs.readFileSync(path.join(dir, 'data', 'env.sh'), 'utf8');
  assert.match(envSh, /export PATH=".*\/data\/bin:\$PATH"/);
  assert.match(envSh, /export ADMIN_KEY=/);
  assert.doesNotMatch(serveLog, /==> building/, 'the suite built it already');
});

/** A new terminal at the checkout: none of Hallmark's variables, and the quick start's ports. */
function replay(file: string, heading: string) {
  const blocks = sectionBlocks(file, heading);
  const portsOf = (text: string) => text.replaceAll('localhost:8443', `localhost:${ports.https}`).replaceAll('localhost:8080', `localhost:${ports.http}`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('HALLMARK_') || name === 'SOFTHSM2_CONF' || name === 'DATABASE_URL' || name === 'ADMIN_KEY') delete env[name];
  return { blocks, result: runBlocks(blocks.map(portsOf), env, dir) };
}

const failedBlock = (blocks: string[], result: Awaited<ReturnType<typeof runBlocks>>) =>
  `block ${result.done + 1} of ${blocks.length} failed:\n${blocks[result.done]}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;

test("the README's five-minute tour runs as written, block by block", async () => {
  const { blocks, result: running } = replay('README.md', '## Five-minute tour');
  assert.ok(blocks.length >= 5, `the tour has its blocks (found ${blocks.length})`);
  const result = await running;
  assert.equal(result.code, 0, failedBlock(blocks, result));
  assert.equal(result.done, blocks.length);
  // What the blocks showed: the CA listed, the EST certificate, the revocation seen by OCSP.
  assert.match(result.stdout, /^issuing$/m);
  assert.match(result.stdout, /dev\.pem: revoked/);
  assert.match(result.stdout, /dev2\.pem: OK/);
});

test("the factory integrators' guide runs as written after the tour: provision, repeat, keygen, batch, the example client", async () => {
  // The checkout's examples/, as the guide names them.
  fs.symlinkSync(path.join(ROOT, 'examples'), path.join(dir, 'examples'));
  const { blocks, result: running } = replay('docs/factory-integrators.md', '## Try it');
  const result = await running;
  assert.equal(result.code, 0, failedBlock(blocks, result));
  assert.equal(result.done, blocks.length);
  assert.match(result.stdout, /sn-0001\.pem: OK/);
  assert.match(result.stdout, /\{"deviceSerial":"SN-0003","serial":"[0-9a-f]+","error":null\}/);
  assert.match(result.stdout, /\{"deviceSerial":"SN-0005","serial":null,"error":"identity_mismatch"\}/);
  assert.match(result.stdout, /sn-0006\.pem: OK/);
  assert.match(fs.readFileSync(path.join(dir, 'sn-0002.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
});

test('a broken tour fails the test: a block that exits non-zero is named', async () => {
  const result = await runBlocks(['source data/env.sh\nhallmark ca list\n', 'hallmark ca lsit\n', 'echo never\n'], { ...process.env }, dir);
  assert.notEqual(result.code, 0);
  assert.equal(result.done, 1);
  assert.doesNotMatch(result.stdout, /never/);
});
