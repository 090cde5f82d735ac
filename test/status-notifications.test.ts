import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { postgresBackend } from './helpers/backends.js';
import { configCopy, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { until } from './helpers/until.js';
import { ocspSubject } from './helpers/ocsp-subject.js';
import { revokeCertificate } from '../src/ca/revoke.js';
import { sql } from '../src/store/handle.js';

/**
 * PostgreSQL: a revocation made elsewhere (another instance, the CLI) reaches this instance's OCSP answers
 * as it commits (LISTEN/NOTIFY, migration 023), not at its next status poll. Both polls are set to a
 * minute here, so only the notification can make the answer change within the test's few seconds. The
 * client is `openssl ocsp`, which verifies every answer.
 */
let home: TestHome;
const backend = postgresBackend();
let hm: InProcessHallmark;
let dir: string;
before(async () => {
  home = await makeTestHome(['notify']);
  const configFile = configCopy(path.join(home.home, 'config'), (c) => {
    c.revocation = { crl: { validityHours: 24, refreshAfterHours: 12, coalesceMs: 200 }, ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 60, statusPollMs: 60_000 } };
  });
  hm = await startInProcess(home, backend, 'notify', { configFile });
  dir = fs.mkdtempSync(path.join(home.home, 'notify-'));
});
after(async () => {
  await hm?.close();
  await backend.cleanup();
  home?.cleanup();
});

async function certificateFor(name: string) {
  const subject = await ocspSubject(hm, dir, name);
  const status = async () => {
    const r = await subject.ask();
    assert.match(r.stdout + r.stderr, /Response verify OK/);
    return /: (good|revoked|unknown)\n/.exec(r.stdout)?.[1];
  };
  return { serial: subject.serial, status };
}

/** Revoked as another instance or the CLI would: in the store, without telling this instance. */
const revokeElsewhere = (serial: string) => revokeCertificate({ store: hm.ctx.store, audit: hm.ctx.audit, clock: hm.ctx.clock, listeners: [] }, { serial, reason: 'keyCompromise', actor: 'test' });

test('a revocation made elsewhere is answered revoked as soon as it commits, with both polls a minute apart', async () => {
  await until('status notifications live', async () => hm.running.statusNotified(), 10_000);
  const a = await certificateFor('notify-a');
  assert.equal(await a.status(), 'good');
  assert.equal(await a.status(), 'good', 'and answered from what the instance holds');
  await revokeElsewhere(a.serial);
  // Long before either poll.
  await until('answered revoked', async () => (await a.status()) === 'revoked', 5_000);
});

test('a listening connection that is cut is made again, and what changed meanwhile is caught up', async () => {
  await until('status notifications live', async () => hm.running.statusNotified(), 10_000);
  const b = await certificateFor('notify-b');
  assert.equal(await b.status(), 'good');
  const db = sql(hm.ctx.store);
  const schema = (await db.raw('SELECT current_schema() AS schema')).rows[0].schema as string;
  // The listener of this instance only: other test files' instances share the server.
  const cut = await db.raw('SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE application_name = ?', [`hallmark-status ${schema}`]);
  assert.equal(cut.rows.length, 1, 'one listening connection for this schema');
  await until('the instance knows it is not notified', async () => !hm.running.statusNotified(), 5_000);
  // Revoked while nobody listens: no notification reaches this instance for it.
  await revokeElsewhere(b.serial);
  await until('listening again', async () => hm.running.statusNotified(), 10_000);
  // The change made while the connection was down is seen once it is back.
  await until('answered revoked', async () => (await b.status()) === 'revoked', 5_000);
  assert.ok(hm.log.some((line) => /status notifications lost/.test(line)), 'the outage is logged');
  assert.ok(hm.log.some((line) => /listening again/.test(line)), 'and its end');
});
