import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { createAuditLog } from '../src/audit/log.js';
import { verifyAuditChain } from '../src/audit/verify.js';
import { systemClock } from '../src/base/clock.js';
import { asStore, inTransaction, sql } from '../src/store/handle.js';
import { openDatabase } from '../src/store/db.js';
import { runPeriodicChecks } from '../src/alerts/periodic.js';
import type { Alert } from '../src/alerts/sink.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The audit log without a locked head (docs/security-model.md, "Audit log"): entries are appended
 * unsequenced and a serving instance's sequencer chains them within its bound, with nobody reading;
 * entries left pending by a process that died are chained by the next sequencer, nothing lost.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['seq-sqlite', 'seq-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`audit sequencer on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    before(async () => {
      hm = await startInProcess(home, backend, `seq-${backend.name}`);
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });
    const db = () => sql(hm.ctx.store);

    test('an entry appended by a request is in the chain within a second, with no reader asking', async () => {
      const appended = Date.now();
      const r = await hm.request('GET', 'whoami', { token: 'hmk_0123456789abcdef_nottherightsecretnottherightsecretnottherig' });
      assert.equal(r.status, 401);
      let row: { seq: number; hash: string } | undefined;
      while (!(row = await db()('audit_events').where({ action: 'auth.failure' }).where('at', '>=', appended - 5).first())) {
        assert.ok(Date.now() - appended < 1000, 'chained within 1 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(Number(row.seq) > 0 && /^[0-9a-f]{64}$/.test(row.hash));
      assert.equal((await verifyAuditChain(hm.ctx.store)).ok, true);
    });

    test('entries left pending by a process that died (committed, never sequenced) are chained by the next sequencer: nothing lost', async () => {
      // A log that appends and never sequences: a process killed right after its commits.
      const dying = createAuditLog(hm.ctx.store, systemClock);
      await inTransaction(hm.ctx.store, (tx) => dying.recordManyIn(tx, Array.from({ length: 25 }, (_, i) => ({ actor: 'test:dying', action: 'test.orphan', target: String(i), outcome: 'success' as const }))));
      // The serving instance's sequencer takes them on its next pass.
      for (const started = Date.now(); Number((await db()('audit_events').where({ action: 'test.orphan' }).count({ n: '*' }))[0]!.n) < 25; ) {
        assert.ok(Date.now() - started < 2000, 'chained by the running sequencer');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const targets = (await db()('audit_events').where({ action: 'test.orphan' }).orderBy('seq')).map((r) => r.target);
      assert.deepEqual(targets, Array.from({ length: 25 }, (_, i) => String(i)), 'in the order they were appended');
      const check = await verifyAuditChain(hm.ctx.store);
      assert.equal(check.ok, true, check.problems.join('\n'));
      assert.equal(check.pending.count, 0);
    });

    test('entries pending from before the instance ran are chained by its periodic check, not alerted on', async () => {
      // Two minutes old, as a CLI that died before chaining its own would have left them.
      const earlier = { now: () => new Date(Date.now() - 120_000) };
      await inTransaction(hm.ctx.store, (tx) => createAuditLog(hm.ctx.store, earlier).recordManyIn(tx, [{ actor: 'test:earlier', action: 'test.earlier', outcome: 'success' as const }]));
      const logged = hm.log.length;
      await hm.running.periodic();
      assert.equal(hm.log.slice(logged).filter((line) => line.includes('audit-sequencing')).length, 0, hm.log.slice(logged).join('\n'));
      assert.equal((await verifyAuditChain(hm.ctx.store)).pending.count, 0);
    });
  });
}

test('no sequencer working: entries older than a minute raise the critical audit-sequencing alert, once an hour', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-stall-'));
  const db = await openDatabase({ home });
  try {
    const store = asStore(db);
    await createAuditLog(store, systemClock).record({ actor: 'test', action: 'test.stalled', outcome: 'success' });
    const raised: Alert[] = [];
    const check = (at: number) =>
      runPeriodicChecks({ store, clock: { now: () => new Date(at) }, alerts: { raise: (a: Alert) => void raised.push(a) } as never, config: { expiryWarningDays: 30, summaries: false } as never }, async () => []);
    await check(Date.now() + 30_000);
    assert.equal(raised.length, 0, 'half a minute: not yet');
    await check(Date.now() + 90_000);
    assert.equal(raised.length, 1);
    assert.equal(raised[0]!.rule, 'audit-sequencing');
    assert.equal(raised[0]!.severity, 'critical');
    assert.match(raised[0]!.message, /1 audit entries have waited/);
    await check(Date.now() + 120_000);
    assert.equal(raised.length, 1, 'not again within the hour');
  } finally {
    await db.destroy();
    fs.rmSync(home, { recursive: true, force: true });
  }
});

for (const makeBackend of BACKENDS) {
  test(`${makeBackend().name}: a timed pass stands down while the oldest entry waiting is younger than its minimum age; a reader's pass takes everything`, async () => {
    const backend = makeBackend();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-seq-age-'));
    const db = await openDatabase({ home: dir, url: backend.url, schema: backend.schema });
    try {
      const store = asStore(db);
      let now = Date.now();
      const log = createAuditLog(store, { now: () => new Date(now) });
      await log.recordMany([1, 2, 3].map((i) => ({ actor: 'test', action: 'test.young', target: String(i), outcome: 'success' as const })));
      // Another instance's pass just took everything older: what is left is 50 ms old.
      now += 50;
      assert.equal(await log.sequence({ skipIfBusy: true, minAgeMs: 200 }), 0, 'too young: no pass');
      assert.equal((await verifyAuditChain(store)).pending.count, 3);
      now += 200;
      assert.equal(await log.sequence({ skipIfBusy: true, minAgeMs: 200 }), 3, 'old enough: all of them');
      await log.record({ actor: 'test', action: 'test.read', outcome: 'success' });
      assert.equal(await log.sequence(), 1, "a reader's pass does not wait for the age");
      // An appender whose clock runs an hour ahead: its entry is due at once, never held for the hour.
      await createAuditLog(store, { now: () => new Date(now + 3_600_000) }).record({ actor: 'test', action: 'test.skewed', outcome: 'success' });
      assert.equal(await log.sequence({ skipIfBusy: true, minAgeMs: 200 }), 1, 'dated in the future: chained now');
      const check = await verifyAuditChain(store);
      assert.equal(check.ok, true, check.problems.join('\n'));
      assert.equal(check.pending.count, 0);
    } finally {
      await db.destroy();
      await backend.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
