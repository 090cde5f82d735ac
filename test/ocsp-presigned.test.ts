import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS, withTemporaryDatabase, type Backend } from './helpers/backends.js';
import { configCopy, manualClock, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { ocspSubject } from './helpers/ocsp-subject.js';
import { revokeCertificate } from '../src/ca/revoke.js';
import { asStore, asTx, sql } from '../src/store/handle.js';
import { lastPresignPass, recordPresignPass } from '../src/store/ocsp-responses.js';
import { createPresignedResponses } from '../src/protocols/ocsp/presigned.js';
import { isPostgres } from '../src/store/db.js';
import { generateKeyPairSync } from 'node:crypto';
import { issueBatch } from '../src/ca/issue.js';
import { waitAfterPass } from '../src/ca/ocsp-presigner.js';
import { requestForOwnKey } from '../src/x509/csr.js';

/**
 * Pre-produced OCSP responses (RFC 5019, RFC 6960 §4.2.2.1): every issued certificate has a signed answer
 * in the store and in memory before anyone asks; a status change re-signs it; renewal ahead of nextUpdate;
 * one pre-signer at a time on PostgreSQL. The client is `openssl ocsp`, which verifies every answer. The
 * pre-signer's passes are driven by the test (its timer stopped) against a manual clock.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome([...BACKENDS.flatMap((b) => [`presign-${b().name}`, `presign-shared-${b().name}`, `presign-more-${b().name}`, `presign-once-${b().name}`]), 'presign-lock']);
});
after(() => home?.cleanup());

const MINUTE = 60_000;
const producedAt = (text: string) => /Produced At: (.+)/.exec(text)?.[1];

/** Passes until one signs nothing; how many it signed in all. */
async function presignAll(hm: InProcessHallmark): Promise<number> {
  let total = 0;
  for (let i = 0; i < 50; i++) {
    const signed = await hm.running.presigner.pass();
    if (!signed) break;
    total += signed;
  }
  await hm.running.poll();
  return total;
}

/**
 * An instance of its own on a fresh backend, with a manual clock, its pre-signer's timer stopped (the test
 * drives its passes) and brought to rest first: the internal certificates signed, the sweep at its end
 * (the clock stands still). Closed and its database dropped after `work`, whatever it does.
 */
async function withDrivenPresigner(own: Backend, prefix: string, work: (hm: InProcessHallmark, clock: ReturnType<typeof manualClock>, own: Backend) => Promise<void>): Promise<void> {
  const clock = manualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  const hm = await startInProcess(home, own, `${prefix}-${own.name}`, { clock });
  try {
    await hm.running.presigner.stop();
    await presignAll(hm);
    await work(hm, clock, own);
  } finally {
    await hm.close();
    await own.cleanup();
  }
}

/** Issuance requests for n devices (`<prefix>-<i>`), each with a key of its own. */
const deviceInputs = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({
    csr: requestForOwnKey(new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }))),
    profile: 'device',
    identity: `${prefix}-${i}`,
    requester: { kind: 'cli' as const },
    actor: 'test',
  }));

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`pre-signed OCSP on ${backend.name}`, () => {
    after(() => backend.cleanup());

    test('signed before anyone asks, served from memory; re-signed at once on revocation; renewed ahead of nextUpdate; expired ones never served', async () => {
      const configFile = configCopy(path.join(home.home, `config-${backend.name}`), (c) => {
        c.revocation = { ...(c.revocation ?? {}), ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 1 } };
      });
      const clock = manualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
      const hm = await startInProcess(home, backend, `presign-${backend.name}`, { configFile, clock });
      const dir = fs.mkdtempSync(path.join(home.home, `presign-${backend.name}-`));
      try {
        await hm.running.presigner.stop(); // driven by the test from here
        const a = await ocspSubject(hm, dir, 'pre-a');
        const b = await ocspSubject(hm, dir, 'pre-b');
        const signedAt = clock.now();
        assert.ok((await presignAll(hm)) >= 2, 'both certificates (and the internal ones) pre-signed');
        assert.ok(hm.running.presigned.size() >= 2);
        const stored = await sql(hm.ctx.store)('ocsp_responses').whereIn('serial', [a.serial, b.serial]);
        assert.equal(stored.length, 2, 'in the store, for every instance');
        assert.equal(await presignAll(hm), 0, 'nothing signed twice');

        // Asked 30 s later: the answer was produced before the question (a live one would say now).
        clock.advance(30_000);
        const first = await a.ask();
        assert.match(first.stdout, /: good/, first.stdout + first.stderr);
        assert.match(first.stderr, /Response verify OK/);
        assert.equal(new Date(producedAt(first.stdout)!).getTime(), signedAt.getTime(), 'the pre-produced answer');

        // Revoked: the pre-signed "good" is dropped at once (a live answer says revoked), then re-signed.
        await revokeCertificate(hm.running.revocation, { serial: a.serial, reason: 'keyCompromise', actor: 'test' });
        const live = await a.ask();
        assert.match(live.stdout, /: revoked/, live.stdout);
        assert.match(live.stdout, /Reason: keyCompromise/);
        assert.equal(new Date(producedAt(live.stdout)!).getTime(), clock.now().getTime(), 'signed live, never the stale good');
        clock.advance(1000);
        assert.equal(await presignAll(hm), 1, 'the revoked certificate re-signed, nothing else');
        hm.running.presigner.statusChanged(a.serial); // as another instance's watcher tells it of the same revocation
        assert.equal(await hm.running.presigner.pass(), 0, 'told again: its stored response already answers for its status');
        const resigned = await a.ask();
        assert.match(resigned.stdout, /: revoked/);
        assert.equal(new Date(producedAt(resigned.stdout)!).getTime(), clock.now().getTime());
        clock.advance(5_000);
        assert.equal(new Date(producedAt((await a.ask()).stdout)!).getTime(), clock.now().getTime() - 5_000, 'the re-signed answer is the pre-signed one now');

        // Renewed once inside refreshBeforeMinutes of nextUpdate (the sweep rests until the first is due).
        clock.advance(51 * MINUTE);
        assert.ok((await presignAll(hm)) >= 2, 'renewed ahead of nextUpdate');
        const renewed = await b.ask();
        assert.match(renewed.stdout, /: good/);
        assert.equal(new Date(producedAt(renewed.stdout)!).getTime(), clock.now().getTime());

        // Past nextUpdate with no renewal: the stale answer is not served (live instead).
        clock.advance(61 * MINUTE);
        assert.equal(hm.running.presigned.answer('issuing', b.serial), undefined);
        const afterExpiry = await b.ask();
        assert.match(afterExpiry.stdout, /: good/);
        assert.equal(new Date(producedAt(afterExpiry.stdout)!).getTime(), clock.now().getTime(), 'signed live');
      } finally {
        await hm.close();
      }
    });

    test('instances share the look for new certificates: a pass skips it while another instance looked less than a second ago, then goes on from where that one got to', async () => {
      await withDrivenPresigner(makeBackend(), 'presign-shared', async (hm, clock, own) => {
        const dir = fs.mkdtempSync(path.join(home.home, `presign-shared-${own.name}-`));
        const db = sql(hm.ctx.store);
        const stateRow = async () => JSON.parse(((await db('settings').where({ name: 'ocsp_presign_recent' }).first()) as { value: string }).value) as { since: number; at: number; by: string; more: boolean };
        const mine = (await stateRow()).by;
        // Another instance looked just now, up to now.
        const now = clock.now().getTime();
        await db('settings').where({ name: 'ocsp_presign_recent' }).update({ value: JSON.stringify({ since: now, at: now, by: 'another-instance', more: false }) });
        const c = await ocspSubject(hm, dir, 'pre-shared');
        assert.equal(await hm.running.presigner.pass(), 0, "the look is the other instance's for a second");
        clock.advance(1000);
        assert.equal(await hm.running.presigner.pass(), 1, 'then this instance looks, from where the other got to less the overlap');
        const after = await stateRow();
        assert.equal(after.by, mine);
        assert.equal(after.since, clock.now().getTime());
        assert.equal((await db('ocsp_responses').where({ serial: c.serial })).length, 1);
        assert.equal(await presignAll(hm), 0, 'nothing signed twice');
      });
    });

    test('a look for new certificates that comes back full (500) is work left even while the sweep rests: the loop passes again at once, and rests a second only when the look is done; the look that goes on from a full one still finds a certificate recorded late', async () => {
      await withDrivenPresigner(makeBackend(), 'presign-more', async (hm, clock, own) => {
        const count = 1050;
        const inputs = (n: number, tag: string) => deviceInputs(n, `${tag}-${own.name}`);
        const issued = await issueBatch(hm.running.issue, inputs(count, 'more'));
        assert.ok(issued.every((r) => !(r instanceof Error)), 'all issued');
        const waits: number[] = [];
        const counts: number[] = [];
        for (let i = 0; i < 5; i++) {
          if (i === 1) {
            // Recorded after the first look, stamped 1.5 s before where it stopped (an intent whose
            // signature came late): the look that goes on from there still looks back that far.
            clock.advance(-1500);
            issued.push(...(await issueBatch(hm.running.issue, inputs(1, 'late'))));
            clock.advance(1500);
          }
          const signed = (await hm.running.presigner.pass())!;
          counts.push(signed);
          const workLeft = hm.running.presigner.workLeft();
          waits.push(waitAfterPass({ signed, workLeft, sweepResting: true, statusChanges: 0, pacedMs: 0 }));
          if (!workLeft) break;
        }
        assert.deepEqual(counts, [500, 500, 51], 'a batch of 500 a pass, the look going on from where the last stopped (the late one in the second)');
        assert.deepEqual(waits, [0, 0, 1000], 'no wait while the look comes back full; a second once it is done');
        const db = sql(hm.ctx.store);
        const serials = issued.map((r) => (r as { serial: string }).serial);
        let stored = 0;
        for (let i = 0; i < serials.length; i += 500) stored += (await db('ocsp_responses').whereIn('serial', serials.slice(i, i + 500))).length;
        assert.equal(stored, count + 1, 'every new certificate has its response, the late one too');
      });
    });

    test('a pass signs a certificate once though two of its parts find it, and a pass that fails moves nothing on: its certificates are the next pass\'s, not left to the sweep', async () => {
      await withDrivenPresigner(makeBackend(), 'presign-once', async (hm, clock, own) => {
        const issue = async (tag: string, n: number) => {
          const issued = await issueBatch(hm.running.issue, deviceInputs(n, `${tag}-${own.name}`));
          assert.ok(issued.every((r) => !(r instanceof Error)));
        };
        const db = sql(hm.ctx.store);
        const stored = async () => Number((await db('ocsp_responses').count({ n: '*' }))[0]!.n);

        // The sweep wakes (its rest is a minute at most) as new certificates come: the look takes them,
        // and so would the sweep's page (they have no response yet). On PostgreSQL the pass once wrote
        // both rows in one statement and failed whole, each time.
        clock.advance(61_000);
        await issue('once', 3);
        const before = await stored();
        assert.equal(await hm.running.presigner.pass(), 3, 'each signed once');
        assert.equal((await stored()) - before, 3);

        // A pass that fails as it writes: the look had taken the new certificates. The next pass, 6 s
        // later (past the look's 5 s overlap), still takes them; the sweep rests.
        const fault = isPostgres(db)
          ? [
              `CREATE FUNCTION presign_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'test fault'; END $$`,
              'CREATE TRIGGER presign_fault BEFORE INSERT ON ocsp_responses FOR EACH ROW EXECUTE FUNCTION presign_fault()',
            ]
          : [`CREATE TRIGGER presign_fault BEFORE INSERT ON ocsp_responses BEGIN SELECT RAISE(ABORT, 'test fault'); END`];
        for (const statement of fault) await db.raw(statement);
        await issue('fault', 2);
        clock.advance(6_000);
        await assert.rejects(hm.running.presigner.pass(), /test fault/);
        await db.raw('DROP TRIGGER presign_fault' + (isPostgres(db) ? ' ON ocsp_responses' : ''));
        clock.advance(1_000);
        assert.equal(await hm.running.presigner.pass(), 2, 'the failed pass\'s certificates, taken by the next look');
        assert.equal(await presignAll(hm), 0);
      });
    });

    test('each instance reads each pre-signed response once: rows are loaded by the number of the pass that wrote them, and a pass is seen only once committed, whole', async () => {
      await withTemporaryDatabase(makeBackend(), 'presign-passes-', async (db) => {
        const store = asStore(db);
        const clock = manualClock(new Date(1_800_000_000_000));
        const now = clock.now().getTime();
        const row = (serial: string, statusChangedAt = 0) => ({ serial, issuer: 'issuing', signed: Buffer.from(`signed-${serial}`), responder: 'r1', status_changed_at: statusChangedAt, this_update: now, next_update: now + 3_600_000, signed_at: now });
        await recordPresignPass(store, [row('a1'), row('a2')]);
        const instance = createPresignedResponses({ store, clock, log: () => {} });
        assert.equal(await instance.load(), 2);
        assert.equal(await instance.poll(), 0, 'what the first load read is not read again');
        await recordPresignPass(store, [row('b1'), row('b2'), row('b3')]);
        clock.advance(500);
        assert.equal(await instance.poll(), 3, 'the new pass, and only it (loaded by a clock, the last seconds were read again on every poll)');
        assert.equal(await instance.poll(), 0);
        await recordPresignPass(store, [row('a1', now + 1)]); // re-signed from a newer status
        assert.equal(await instance.poll(), 1);
        assert.equal(await lastPresignPass(store), 3);
        await recordPresignPass(store, [row('b1', now + 2), row('b1', now + 3), row('b1', now + 2)]); // one row per certificate, the newest status's
        assert.equal(await instance.poll(), 1);
        assert.equal(Number((await db('ocsp_responses').where({ serial: 'b1' }).first()).status_changed_at), now + 3);
        assert.equal(await lastPresignPass(store), 4);
        const another = createPresignedResponses({ store, clock, log: () => {} });
        assert.equal(await another.load(), 5, 'an instance started later loads every response');
        assert.equal(await another.poll(), 0);

        // All or nothing: a pass whose write fails (its 401st row, in a second statement) leaves no row and no number.
        const failing = [...Array.from({ length: 400 }, (_, i) => row(`f${i}`)), { ...row('f400'), issuer: null as unknown as string }];
        await assert.rejects(recordPresignPass(store, failing));
        assert.equal(await lastPresignPass(store), 4);
        assert.equal(Number((await db('ocsp_responses').count({ n: '*' }))[0]!.n), 5, 'nothing of the failed pass stays');
        assert.equal(await instance.poll(), 0);

        if (isPostgres(db)) {
          // A pass under way holds its rows and its number in its transaction: a poll meanwhile sees none
          // of them, and once it commits, all of them.
          let written!: () => void;
          const inFlight = new Promise<void>((resolve) => (written = resolve));
          let commit!: () => void;
          const committing = new Promise<void>((resolve) => (commit = resolve));
          const pass = db.transaction(async (trx) => {
            await recordPresignPass(asTx(trx), [row('c1'), row('c2')]);
            written();
            await committing;
          });
          await inFlight;
          assert.equal(await instance.poll(), 0, 'not committed yet');
          commit();
          await pass;
          assert.equal(await instance.poll(), 2, 'committed: both rows');
          assert.equal(await instance.poll(), 0);
        }
      });
    });

    if (backend.name === 'postgres') {
      test('one pre-signer at a time: while another instance holds the lock, a pass signs nothing', async () => {
        const own = makeBackend();
        const hm = await startInProcess(home, own, 'presign-lock', {});
        const dir = fs.mkdtempSync(path.join(home.home, 'presign-lock-'));
        try {
          await hm.running.presigner.stop();
          await ocspSubject(hm, dir, 'pre-lock');
          const db = sql(hm.ctx.store);
          assert.ok(isPostgres(db));
          let release!: () => void;
          const held = new Promise<void>((resolve) => (release = resolve));
          let locked!: () => void;
          const lockTaken = new Promise<void>((resolve) => (locked = resolve));
          // The same lock of a deployment in another schema of the database does not stop this one.
          await db.transaction(async (trx) => {
            await trx.raw('SELECT pg_advisory_xact_lock(?, hashtext(?))', [0x4f435350, 'another_deployment']);
            const other = await hm.running.presigner.pass();
            assert.notEqual(other, undefined, 'a lock of another schema is not this one');
          });
          await ocspSubject(hm, dir, 'pre-lock-2');
          const holder = db.transaction(async (trx) => {
            await trx.raw('SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))', [0x4f435350]);
            locked();
            await held;
          });
          await lockTaken;
          assert.equal(await hm.running.presigner.pass(), undefined, 'another instance is signing');
          release();
          await holder;
          assert.ok((await hm.running.presigner.pass())! >= 1);
        } finally {
          await hm.close();
          await own.cleanup();
        }
      });
    }
  });
}

test('the pass loop waits a second only when a pass left no work: a full look, a sweep under way or status changes go on at once, at presignPerSecond\'s pace', () => {
  const idle = { signed: 0, workLeft: false, sweepResting: true, statusChanges: 0, pacedMs: 0 };
  assert.equal(waitAfterPass(idle), 1000);
  assert.equal(waitAfterPass({ ...idle, signed: 500, workLeft: true }), 0, 'a full look for new certificates while the sweep rests');
  assert.equal(waitAfterPass({ ...idle, signed: 20 }), 1000, 'a look that was not full, the sweep resting');
  assert.equal(waitAfterPass({ ...idle, signed: 20, sweepResting: false }), 0, 'the sweep under way');
  assert.equal(waitAfterPass({ ...idle, statusChanges: 3 }), 0, 'status changes waiting');
  assert.equal(waitAfterPass({ ...idle, signed: 500, workLeft: true, pacedMs: 250 }), 250, 'presignPerSecond paces the work');
  assert.equal(waitAfterPass({ ...idle, pacedMs: -5, statusChanges: 1 }), 0);
});

test('held responses live in shared slabs and are let go once past their nextUpdate (memory follows the unexpired certificates)', async () => {
  const { openDatabase } = await import('../src/store/db.js');
  const dir = fs.mkdtempSync(path.join(home.home, 'prune-'));
  const db = await openDatabase({ home: dir });
  try {
    const clock = manualClock(new Date(1_800_000_000_000));
    const now = clock.now().getTime();
    const row = (serial: string, nextUpdate: number) => ({ serial, issuer: 'issuing', signed: Buffer.from(`signed-${serial}`), responder: 'r1', status_changed_at: 0, this_update: now, next_update: nextUpdate, signed_at: now });
    await recordPresignPass(asStore(db), [row('aa', now + 1_000), row('bb', now + 3_600_000)]);
    const held = createPresignedResponses({ store: asStore(db), clock, log: () => {} });
    assert.equal(await held.load(), 2);
    clock.advance(61_000); // past aa's nextUpdate, and the prune interval
    await held.poll();
    assert.equal(held.size(), 1, 'the expired response is gone from memory');
    assert.equal(held.answer('issuing', 'aa'), undefined);
  } finally {
    await db.destroy();
  }
});
