import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeTestHome, randomName, type TestHome } from './helpers/hsm.js';
import { startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { mustRun } from './helpers/run.js';
import { freePort } from './helpers/ports.js';
import { toPem } from '../src/x509/pem.js';

/**
 * A PostgreSQL cluster of this test's own (Debian's pg_createcluster), so that stopping it disturbs
 * no other test file.
 */
const VERSION = fs.existsSync('/etc/postgresql') ? fs.readdirSync('/etc/postgresql')[0] : undefined;
const CLUSTER = randomName('hm');
let PORT: number;
let home: TestHome;
let hm: InProcessHallmark | undefined;

const pg = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: 'ignore' });

before(async () => {
  home = await makeTestHome(['outage']);
  // Not a fixed range: 5600 + pid % 300 once met RabbitMQ's 5672 on this machine.
  PORT = await freePort();
  pg('pg_createcluster', VERSION!, CLUSTER, '--port', String(PORT), '--start', '--', '--auth=trust');
  pg('su', 'postgres', '-c', `psql -p ${PORT} -c "CREATE DATABASE hallmark"`);
});
after(async () => {
  await hm?.close().catch(() => undefined);
  try {
    pg('pg_dropcluster', VERSION!, CLUSTER, '--stop');
  } catch {
    // already gone
  }
  home?.cleanup();
});

test('the database goes away and comes back: 503 with a reason, status answers from memory keep flowing, then service resumes', { skip: !VERSION }, async () => {
  const backend = { name: 'postgres' as const, url: `postgres://postgres@127.0.0.1:${PORT}/hallmark`, schema: undefined, cleanup: async () => {} };
  hm = await startInProcess(home, backend, 'outage');
  const dir = fs.mkdtempSync(path.join(home.home, 'o-'));
  const issue = async (id: string) => hm!.request('POST', 'certificates', { token: hm!.init.admin.apiKey, body: { csr: (await opensslCsr(dir, { subject: `/CN=${id}` })).csrPem, profile: 'device', device: id } });
  const first = await issue('outage-1');
  assert.equal(first.status, 201);
  fs.writeFileSync(path.join(dir, 'c.pem'), first.json().certificate);
  fs.writeFileSync(path.join(dir, 'i.pem'), toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
  await mustRun('openssl', ['ocsp', '-issuer', path.join(dir, 'i.pem'), '-cert', path.join(dir, 'c.pem'), '-no_nonce', '-reqout', path.join(dir, 'r.der')]);
  const ocsp = async () => (await fetch(`http://127.0.0.1:${hm!.running.http}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: fs.readFileSync(path.join(dir, 'r.der')) })).status;
  assert.equal(await ocsp(), 200);
  fs.writeFileSync(path.join(dir, 'root.pem'), hm.rootPem);
  const cacerts = () => mustRun('curl', ['-sS', '-f', '--cacert', path.join(dir, 'root.pem'), `https://localhost:${hm!.running.https}/.well-known/est/cacerts`]);
  const caCertsBefore = await cacerts();

  pg('pg_ctlcluster', VERSION!, CLUSTER, 'stop', '--', '-m', 'fast');
  try {
    const refused = await issue('outage-2');
    assert.equal(refused.status, 503, refused.body);
    assert.equal(refused.json().error.code, 'database_unavailable');
    assert.match(refused.json().error.message, /the database is unavailable \((connection lost|server shutting down|no database connection within the timeout)\)/);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal(await ocsp(), 200, 'cached OCSP answers keep flowing');
    assert.equal((await fetch(`http://127.0.0.1:${hm.running.http}/crl/issuing.crl`)).status, 200, 'the CRL keeps being served');
    const ready = await fetch(`http://127.0.0.1:${hm.running.http}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { checks: { database: string } }).checks.database, /^unavailable: /, 'readiness says which check failed');
    // Past the kept answer's age (the 2 s status poll), so that it is read again and the read fails.
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal(await cacerts(), caCertsBefore, 'EST cacerts keeps being served');
  } finally {
    pg('pg_ctlcluster', VERSION!, CLUSTER, 'start');
  }
  let back = await issue('outage-3');
  for (let i = 0; i < 10 && back.status !== 201; i++) {
    await new Promise((r) => setTimeout(r, 300));
    back = await issue(`outage-3-${i}`);
  }
  assert.equal(back.status, 201, back.body);
  assert.equal((await fetch(`http://127.0.0.1:${hm.running.http}/readyz`)).status, 200);

  // Read-only (a standby, or an operator's emergency switch): writes refused with the reason, reads go on.
  // The setting reaches new sessions: Hallmark's are ended, and its pool opens new ones (the first
  // requests may see the ended sessions: 503 too, "server shutting down" or "connection lost").
  const switchTo = (mode: 'on' | 'off') =>
    pg('su', 'postgres', '-c', `psql -p ${PORT} -c "ALTER DATABASE hallmark SET default_transaction_read_only = ${mode}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'hallmark' AND pid <> pg_backend_pid()"`);
  switchTo('on');
  try {
    let readOnly = await issue('outage-ro');
    for (let i = 0; i < 10 && !/read-only/.test(readOnly.body); i++) readOnly = await issue(`outage-ro-${i}`);
    assert.equal(readOnly.status, 503, readOnly.body);
    assert.match(readOnly.json().error.message, /the database is unavailable \(read-only\)/);
    assert.equal((await hm.request('GET', 'certificates?limit=1', { token: hm.init.admin.apiKey })).status, 200, 'reads still answer');
  } finally {
    switchTo('off');
  }
  let writable = await issue('outage-rw');
  for (let i = 0; i < 10 && writable.status !== 201; i++) writable = await issue(`outage-rw-${i}`);
  assert.equal(writable.status, 201, writable.body);
});
