import { asStore } from '../src/store/handle.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { postgresBackend } from './helpers/backends.js';
import { cliEnv, hallmarkJson } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { postJson } from './helpers/post-json.js';
import { configCopy } from './helpers/in-process.js';
import { deviceCsrs } from './helpers/device-csrs.js';
import { mustRun, run } from './helpers/run.js';

/** Devices in the CI run; scripts/instances.sh raises it to the 5,000. */
const DEVICES = Number(process.env.HALLMARK_INSTANCE_DEVICES ?? 600);

let home: TestHome;
const backend = postgresBackend();
const servers: RunningServer[] = [];
let base: NodeJS.ProcessEnv;
before(async () => {
  home = await makeTestHome(['multi']);
  base = await cliEnv(home, backend, 'multi');
  base.HALLMARK_CONFIG = configCopy(path.join(home.home, 'config'), (c) => {
    c.revocation = { crl: { validityHours: 24, refreshAfterHours: 12, coalesceMs: 200 }, ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 1 } };
    c.security.rateLimits = { auth: 0, enrollment: 0, provisioning: 0 };
  });
});
after(async () => {
  for (const s of servers) s.process.kill('SIGKILL');
  await backend.cleanup();
  home?.cleanup();
});

test('three instances on one PostgreSQL: concurrent provisioning and enrollment without a duplicate, and a revocation seen by every instance', async () => {
  const init = await hallmarkJson(base, 'init');
  const station = await hallmarkJson(base, 'station', 'add', '--line', 'line-m', '--name', 'st-m');
  const rootPem = await mustRun('node', [path.join(process.cwd(), 'bin', 'hallmark.js'), 'ca', 'export', 'root'], { env: base });
  // Each instance has its own data directory (TLS key); they share the database and the token.
  for (let i = 0; i < 3; i++) servers.push(await startServer({ ...base, HALLMARK_HOME: path.join(home.home, `instance-${i}`) }));

  // Half the devices by the factory line (batches spread over the instances), half by enrollment secrets.
  const half = Math.floor(DEVICES / 2);
  const csrs = await deviceCsrs(DEVICES, (i) => `M-${i}`);
  const items = csrs.slice(0, half).map((c, i) => ({ deviceSerial: `M-${i}`, model: 'm', lot: 'lot-m', firmwareVersion: '1', csr: c.csr }));
  const { openDatabase } = await import('../src/store/db.js');
  const { createEnrollmentToken } = await import('../src/auth/enrollment-tokens.js');
  const db = await openDatabase({ url: backend.url, home: home.home, schema: backend.schema });
  const secrets: string[] = [];
  for (let i = half; i < DEVICES; i++) secrets.push((await createEnrollmentToken(asStore(db), { device: `M-${i}`, expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret);
  const work: Promise<{ status: number; json: any }>[] = [];
  for (let b = 0; b < items.length; b += 50) work.push(postJson(servers[b % 3]!.https, rootPem, { authorization: `Bearer ${station.apiKey}` }, 'factory/provision/batch', { devices: items.slice(b, b + 50) }));
  for (let i = half; i < DEVICES; i++) work.push(postJson(servers[i % 3]!.https, rootPem, {}, 'enroll', { device: `M-${i}`, secret: secrets[i - half], csr: csrs[i]!.csr }));
  // The same batch again, at the same time, through another instance: still one identity per device.
  work.push(postJson(servers[1]!.https, rootPem, { authorization: `Bearer ${station.apiKey}` }, 'factory/provision/batch', { devices: items.slice(0, 50) }));
  const answers = await Promise.all(work);
  const serials: string[] = [];
  for (const a of answers) {
    assert.ok(a.status === 200 || a.status === 201, JSON.stringify(a.json).slice(0, 300));
    if (a.json.results) for (const r of a.json.results) if (r.serial) serials.push(r.serial);
    if (a.json.serial) serials.push(a.json.serial);
  }
  try {
    const active = await db('certificates').where({ profile: 'device', status: 'active' }).select('identity', 'serial');
    assert.equal(new Set(active.map((a) => a.identity)).size, active.length, 'no device with two identities');
    assert.equal(active.length, DEVICES);
    const all = await db('certificates').select('serial');
    assert.equal(new Set(all.map((a) => a.serial)).size, all.length, 'no serial twice');
    assert.ok(serials.every((s) => active.some((a) => a.serial === s)), 'every answer is an active certificate');
  } finally {
    await db.destroy();
  }

  // A revocation through instance 0 reaches OCSP and the CRL of instances 1 and 2 within seconds.
  const dir = fs.mkdtempSync(path.join(home.home, 'm-'));
  const target = answers[0]!.json.results[0];
  const certFile = path.join(dir, 'c.pem');
  fs.writeFileSync(certFile, target.certificate);
  const issuingFile = path.join(dir, 'i.pem');
  fs.writeFileSync(issuingFile, await mustRun('node', [path.join(process.cwd(), 'bin', 'hallmark.js'), 'ca', 'export', 'issuing'], { env: base }));
  const chain = path.join(dir, 'chain.pem');
  fs.writeFileSync(chain, rootPem + fs.readFileSync(issuingFile, 'utf8'));
  const ocsp = async (s: RunningServer) => (await run('openssl', ['ocsp', '-issuer', issuingFile, '-cert', certFile, '-url', `http://127.0.0.1:${s.http}/ocsp`, '-CAfile', chain, '-no_nonce'])).stdout;
  for (const s of servers) assert.match(await ocsp(s), /: good/, 'good everywhere first (and cached)');
  const revoked = await postJson(servers[0]!.https, rootPem, { authorization: `Bearer ${init.admin.apiKey}` }, `certificates/${target.serial}/revoke`, { reason: 'keyCompromise' });
  assert.equal(revoked.status, 200);
  const started = Date.now();
  for (const s of servers.slice(1)) {
    let status = '';
    while (!/: revoked/.test(status) && Date.now() - started < 8000) {
      status = await ocsp(s);
      if (!/: revoked/.test(status)) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(status, /: revoked/, `instance on ${s.http} answers revoked`);
    let listed = false;
    while (!listed && Date.now() - started < 10_000) {
      const crl = path.join(dir, `${s.http}.crl`);
      await mustRun('curl', ['-sSf', '-o', crl, `http://127.0.0.1:${s.http}/crl/issuing.crl`]);
      listed = (await mustRun('openssl', ['crl', '-inform', 'DER', '-in', crl, '-noout', '-text'])).includes(target.serial.toUpperCase());
      if (!listed) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(listed, `the CRL served by ${s.http} lists it`);
  }
  console.log(`revocation visible on every instance after ${Date.now() - started} ms`);
});

test('SIGTERM finishes the request in flight, then exits 0', async () => {
  const s = servers[2]!;
  const csrs = await deviceCsrs(200, (i) => `T-${i}`);
  const station = await hallmarkJson(base, 'station', 'add', '--line', 'line-t', '--name', 'st-t');
  const rootPem = await mustRun('node', [path.join(process.cwd(), 'bin', 'hallmark.js'), 'ca', 'export', 'root'], { env: base });
  const inflight = postJson(s.https, rootPem, { authorization: `Bearer ${station.apiKey}` }, 'factory/provision/batch', { devices: csrs.map((c, i) => ({ deviceSerial: `T-${i}`, model: 'm', lot: 't', firmwareVersion: '1', csr: c.csr })) });
  await new Promise((r) => setTimeout(r, 300));
  const exit = s.stop();
  const answer = await inflight;
  assert.equal(answer.status, 200);
  assert.equal(answer.json.results.filter((r: { serial?: string }) => r.serial).length, 200);
  assert.equal(await exit, 0);
  servers.pop();
});
