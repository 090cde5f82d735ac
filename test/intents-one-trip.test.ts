import { asStore } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase, type Db } from '../src/store/db.js';
import { createAuditLog, type AuditLog } from '../src/audit/log.js';
import type { PendingAuditRow } from '../src/store/audit.js';
import { verifyAuditChain } from '../src/audit/verify.js';
import { createIssuanceStore, type CertificateIntent } from '../src/store/certificates.js';
import { isUniqueViolation } from '../src/store/unique-violation.js';
import { BACKENDS } from './helpers/backends.js';

/**
 * Single issuances' intents recorded with their audit entries in one round trip: one statement on
 * PostgreSQL (src/store/pg-intents.ts), one script on SQLite (src/store/sqlite-intents.ts). All or
 * nothing, the audit head never touched (entries wait unsequenced), values stored exactly whatever
 * characters they hold, and one linear chain once sequenced while another process appends and
 * sequences too.
 */
const run = promisify(execFile);

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`intents in one round trip on ${backend.name}`, () => {
    let home: string;
    let db: Db;
    let audit: AuditLog;
    // Through the store's seam, which picks the statement or the script by database.
    // Each intent certifies a key of its own (`key-<serial>`), bound to its identity; `keys` overrides.
    const recordIntents = (intents: CertificateIntent[], append: PendingAuditRow[], keys: string[] = intents.map((i) => `key-${i.serial}`)) =>
      createIssuanceStore(asStore(db)).recordIntentsWithAudit({
        bindings: intents.map((i, n) => ({ keyId: keys[n]!, identity: i.identity! })),
        intents: intents.map((i, n) => ({ ...i, key_id: keys[n]! })),
        entries: append.map((row, n) => ({ ...row, key_id: keys[n] ?? null })),
        now: Date.now(),
      });

    before(async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-intents-'));
      db = await openDatabase({ home, url: backend.url, schema: backend.schema });
      audit = createAuditLog(asStore(db), { now: () => new Date() });
      await db('cas').insert({ name: 'issuing', key_uri: 'pkcs11:object=i', key_type: 'ec-p256', certificate: Buffer.from('i'), serial: '01', subject: 'CN=i', ski: '00', not_before: 0, not_after: 9e12, created_at: 0 });
    });
    after(async () => {
      await db?.destroy();
      await backend?.cleanup();
      fs.rmSync(home, { recursive: true, force: true });
    });

    let next = 0;
    const intent = (serial = `s${next++}`): CertificateIntent => ({
      serial,
      issuer: 'issuing',
      profile: 'device',
      identity: `dev-${serial}`,
      subject: `CN=dev-${serial}`,
      not_before: 1_700_000_000_000,
      not_after: 1_800_000_000_000,
      key_type: 'ec-p256',
      requested_by: 'test',
      created_at: Date.now(),
      tbs: Uint8Array.of(0x30, 0x03, 0x02, 0x01, next & 0xff),
    });
    const event = (target: string) => ({ actor: 'test', action: 'certificate.issue', target, outcome: 'pending' as const, details: { profile: 'device' } });
    const counts = async () => ({
      certificates: Number((await db('certificates').count({ n: '*' }))[0]!.n),
      events: Number((await db('audit_events').count({ n: '*' }))[0]!.n) + Number((await db('audit_pending').count({ n: '*' }))[0]!.n),
    });

    /** As issuance does: the entries as pending rows, written with the intents. */
    async function record(intents: CertificateIntent[]): Promise<void> {
      const append = audit.pendingRows(intents.map((i) => event(i.serial)));
      await recordIntents(intents, append.rows);
      audit.appended(append);
    }

    test('intents and their audit entries land together, exactly as given', async () => {
      const intents = [intent(), intent(), intent()];
      await record(intents);
      assert.equal((await db('audit_pending').whereIn('target', intents.map((i) => i.serial))).length, 3, 'waiting for the sequencer');
      assert.equal(await audit.sequence(), 3);
      const rows = await db('certificates').whereIn('serial', intents.map((i) => i.serial)).orderBy('serial');
      assert.equal(rows.length, 3);
      for (const row of rows) {
        const given = intents.find((i) => i.serial === row.serial)!;
        assert.equal(row.status, 'pending');
        assert.deepEqual(new Uint8Array(row.tbs), given.tbs);
        assert.equal(Number(row.not_after), given.not_after);
        assert.equal(row.identity, given.identity);
      }
      const entries = await db('audit_events').whereIn('target', intents.map((i) => i.serial));
      assert.equal(entries.length, 3);
      assert.equal((await verifyAuditChain(asStore(db))).ok, true);
    });

    test('a key bound to another identity, or compromised, keeps its intent and entry out; the rest land', async () => {
      const owner = intent();
      await record([owner]);
      await db('public_keys').insert({ key_id: 'key-compromised', identity: 'someone', bound_at: 0, compromised_at: 1, compromised_serial: 'bad' });
      const before = await counts();
      const [thief, fine, burnt] = [intent(), intent(), intent()];
      const lint = { actor: 'test', action: 'certificate.lint', target: 'device', outcome: 'failure' as const, details: {} };
      const append = audit.pendingRows([event(thief.serial), event(fine.serial), event(burnt.serial), lint]);
      // The last entry tells of no intent (a lint failure): it is written whatever the keys.
      const refusals = await recordIntents([thief, fine, burnt], append.rows, [`key-${owner.serial}`, `key-${fine.serial}`, 'key-compromised']);
      assert.deepEqual(
        refusals.sort((a, b) => a.keyId.localeCompare(b.keyId)),
        [
          { keyId: 'key-compromised', reason: 'compromised', serial: 'bad' },
          { keyId: `key-${owner.serial}`, reason: 'bound-elsewhere' },
        ].sort((a, b) => a.keyId.localeCompare(b.keyId)),
      );
      assert.deepEqual(await counts(), { certificates: before.certificates + 1, events: before.events + 2 });
      assert.deepEqual((await db('certificates').whereIn('serial', [thief.serial, fine.serial, burnt.serial])).map((r) => r.serial), [fine.serial]);
      assert.deepEqual((await db('audit_pending').whereIn('target', [thief.serial, fine.serial, burnt.serial, 'device'])).map((r) => r.target).sort(), ['device', fine.serial].sort());
      assert.equal((await db('public_keys').where({ key_id: `key-${owner.serial}` }).first()).identity, owner.identity, 'the first binding stands');
      // The same identity with the same key again (a renewal) is no refusal.
      const renewal = { ...intent(), identity: owner.identity };
      assert.deepEqual(await recordIntents([renewal], audit.pendingRows([event(renewal.serial)]).rows, [`key-${owner.serial}`]), []);
      await audit.sequence();
      assert.equal((await verifyAuditChain(asStore(db))).ok, true);
    });

    test('the head is neither read nor moved by the writer: entries wait, and the sequencer chains them on', async () => {
      const head = await db('audit_head').first();
      await record([intent('unsequenced-1'), intent('unsequenced-2')]);
      assert.deepEqual(await db('audit_head').first(), head);
      assert.equal(await audit.sequence(), 2);
      assert.equal(Number((await db('audit_head').first()).seq), Number(head.seq) + 2);
      assert.equal(Number((await db('audit_pending').count({ n: '*' }))[0]!.n), 0);
      assert.equal((await verifyAuditChain(asStore(db))).ok, true);
    });

    test('a serial already taken fails the statement, and nothing of it is written', async () => {
      const before = await counts();
      const head = await db('audit_head').first();
      const taken = (await db('certificates').first()).serial as string;
      await assert.rejects(record([intent(), intent(taken)]), (e) => isUniqueViolation(e));
      assert.deepEqual(await counts(), before);
      assert.deepEqual(await db('audit_head').first(), head);
    });

    test('with another process appending and sequencing meanwhile, one linear chain and no deadlock', async () => {
      const before = await counts();
      const writer = path.join(import.meta.dirname, 'helpers', 'audit-writer.js');
      let done = false;
      const other = run(process.execPath, [writer, home, '300', ...(backend.url ? [backend.url, backend.schema!] : [])]).finally(() => (done = true));
      // Until the other process has written all of its 300 (it starts slower than this loop runs).
      let recorded = 0;
      let sequenced = 0;
      while (!done || recorded < 100) {
        await record([intent(), intent()]);
        recorded += 2;
        if (recorded % 40 === 0) sequenced += await audit.sequence();
      }
      const { stdout } = await other;
      assert.deepEqual(JSON.parse(stdout), { failures: 0, first: null });
      assert.deepEqual(await counts(), { certificates: before.certificates + recorded, events: before.events + recorded + 300 });
      sequenced += await audit.sequence();
      assert.equal(Number((await db('audit_pending').count({ n: '*' }))[0]!.n), 0, 'everything sequenced');
      const chain = await verifyAuditChain(asStore(db));
      assert.equal(chain.ok, true, JSON.stringify(chain.problems));
      assert.ok(sequenced > 0);
    });

    test('values are stored exactly, whatever characters they hold', async () => {
      const strange = intent('strange');
      strange.subject = `CN=it's "quoted"; DROP TABLE certificates; --, ü€😀, a\\b, tab\tnew\nline`;
      strange.identity = "o'brien";
      strange.tbs = Uint8Array.of(0, 39, 92, 255, 0);
      await record([strange]);
      await audit.sequence();
      const row = await db('certificates').where({ serial: 'strange' }).first();
      assert.equal(row.subject, strange.subject);
      assert.equal(row.identity, "o'brien");
      assert.deepEqual(new Uint8Array(row.tbs), strange.tbs);
      assert.equal((await verifyAuditChain(asStore(db))).ok, true);
    });
  });
}
