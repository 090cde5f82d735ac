import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { cliEnv, hallmarkJson } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { postJson } from './helpers/post-json.js';
import { configCopy } from './helpers/in-process.js';
import { deviceCsrs } from './helpers/device-csrs.js';
import { mustRun } from './helpers/run.js';
import { openDatabase, type Db } from '../src/store/db.js';

let home: TestHome;
let env: NodeJS.ProcessEnv;
let server: RunningServer | undefined;
let db: Db;
before(async () => {
  home = await makeTestHome(['crash']);
  env = await cliEnv(home, sqliteBackend(), 'crash');
  env.HALLMARK_CONFIG = configCopy(path.join(home.home, 'config'), (c) => {
    // The fixed staleness stays at its default (120 s): the killed instance's reservations must be taken
    // over because it is known dead, at once. Intents pending for a second are abandoned, and the
    // periodic checks (which sweep them) run every second.
    c.factory = { abandonedIntentSeconds: 1 };
    c.security.alerts.checkIntervalSeconds = 1;
  });
});
after(async () => {
  server?.process.kill('SIGKILL');
  await db?.destroy();
  home?.cleanup();
});

test('SIGKILL in the middle of a 1,000-device batch: after restart nothing is lost or doubled, and the retried batch completes idempotently', async () => {
  await hallmarkJson(env, 'init');
  const station = await hallmarkJson(env, 'station', 'add', '--line', 'line-k', '--name', 'st-k');
  const rootPem = (await mustRun('node', [path.join(process.cwd(), 'bin', 'hallmark.js'), 'ca', 'export', 'root'], { env }));
  const csrs = await deviceCsrs(1000, (i) => `K-${i}`);
  const items = csrs.map((c, i) => ({ deviceSerial: `K-${i}`, model: 'm', lot: 'lot-k', firmwareVersion: '1', csr: c.csr }));

  server = await startServer(env);
  // Single provisionings whose answers arrive before the kill: these certificates must survive it.
  const received: { deviceSerial: string; serial: string; certificate: string }[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await postJson(server.https, rootPem, { authorization: `Bearer ${station.apiKey}` }, 'factory/provision', items[i]);
    assert.equal(r.status, 201);
    received.push(r.json);
  }
  const batch = postJson(server.https, rootPem, { authorization: `Bearer ${station.apiKey}` }, 'factory/provision/batch', { devices: items }).catch((e: Error) => e);
  // Kill it once the batch's devices are reserved: between reservation and completion (intents
  // recorded, some or all signed, device rows not yet final).
  db = await openDatabase({ home: env.HALLMARK_HOME! });
  for (let i = 0; i < 4000; i++) {
    const reserved = Number((await db('devices').where({ state: 'provisioning' }).count({ n: '*' }))[0]!.n);
    if (reserved > 0) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  server.process.kill('SIGKILL');
  assert.ok((await batch) instanceof Error, 'the batch never answered');

  const reserved = Number((await db('devices').where({ state: 'provisioning' }).count({ n: '*' }))[0]!.n);
  assert.equal(reserved, 990, 'killed mid-batch: the batch devices were reserved and not yet provisioned');
  // Every certificate a client received is recorded, active, byte for byte.
  for (const r of received) {
    const row = await db('certificates').where({ serial: r.serial }).first();
    assert.equal(row.status, 'active');
    assert.equal(Buffer.from(row.der).toString('base64'), r.certificate.replace(/-----[A-Z ]+-----|\s/g, ''));
  }
  // Consistency: every provisioned device points at an active certificate for it; no certificate is on two devices.
  const devices = await db('devices').where({ state: 'provisioned' });
  for (const d of devices) {
    const cert = await db('certificates').where({ serial: d.certificate_serial }).first();
    assert.equal(cert.status, 'active');
    assert.equal(cert.identity, d.serial);
  }
  assert.equal(new Set(devices.map((d) => d.certificate_serial)).size, devices.length);

  const pending = async () => Number((await db('certificates').where({ status: 'pending' }).count({ n: '*' }))[0]!.n);
  const orphaned = await pending();
  assert.ok(orphaned > 0, 'the killed batch left intents that were never recorded as issued');

  // Restart and retry the whole batch at once, as a station would: the reservations of the killed
  // process (same host, its pid gone) are released without waiting out the 120 s staleness.
  server = await startServer(env);
  const retried = await postJson(server.https, rootPem, { authorization: `Bearer ${station.apiKey}` }, 'factory/provision/batch', { devices: items });
  assert.equal(retried.status, 200);
  const errors = retried.json.results.filter((r: { error?: unknown }) => r.error);
  assert.deepEqual(errors, []);
  for (const r of received) {
    const again = retried.json.results.find((x: { deviceSerial: string }) => x.deviceSerial === r.deviceSerial);
    assert.equal(again.certificate, r.certificate, 'the same identity, not a second one');
    assert.equal(again.repeated, true);
  }
  const active = await db('certificates').where({ profile: 'device', status: 'active' }).select('identity');
  assert.equal(active.length, 1000, 'one active identity per device');
  assert.equal(new Set(active.map((a) => a.identity)).size, 1000);
  assert.equal(Number((await db('devices').where({ state: 'provisioned' }).count({ n: '*' }))[0]!.n), 1000);
  // The dead batch's intents are swept: failed, each audited, none left pending.
  for (const deadline = Date.now() + 60_000; (await pending()) > 0; ) {
    assert.ok(Date.now() < deadline, `${await pending()} intents still pending after a minute`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // Chained or still waiting for the sequencer: every sweep appended.
  const sweptWhere = { actor: 'system:sweeper', action: 'certificate.issue', outcome: 'failure' };
  const swept = [...(await db('audit_events').where(sweptWhere)), ...(await db('audit_pending').where(sweptWhere))];
  assert.ok(swept.length >= orphaned, `${swept.length} sweeps audited for ${orphaned} abandoned intents`);
  assert.equal(await server.stop(), 0, 'SIGTERM shuts down cleanly');
  server = undefined;
  fs.rmSync(path.join(env.HALLMARK_HOME!, 'tls'), { recursive: true, force: true });
});
