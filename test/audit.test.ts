import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { opensslCsr } from './helpers/csr.js';
import { openDatabase, type Db } from '../src/store/db.js';
import { createHash } from 'node:crypto';
import { canonical, entryHash, type AuditRow } from '../src/audit/log.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['audit-sqlite', 'audit-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`audit log on ${backend.name}`, () => {
    let env: NodeJS.ProcessEnv;
    let db: Db;
    let pristine: AuditRow[];
    let head: { seq: number; hash: string };

    before(async () => {
      env = await cliEnv(home, backend, `audit-${backend.name}`);
      await hallmarkJson(env, 'init');
      const dir = fs.mkdtempSync(path.join(home.home, 'audit-'));
      for (let i = 0; i < 3; i++) {
        const { csrFile } = await opensslCsr(dir);
        await hallmarkJson(env, 'cert', 'issue', '--csr', csrFile, '--profile', 'device', '--device', `audited-${i}`);
      }
      await hallmarkJson(env, 'apikey', 'create', '--role', 'read-only', '--label', 'for the audit test');
      const checkpoint = await hallmarkJson(env, 'audit', 'checkpoint');
      assert.ok(checkpoint.seq > 5);
      await hallmarkJson(env, 'apikey', 'create', '--role', 'operator');
      db = await openDatabase({ url: backend.url, home: env.HALLMARK_HOME!, schema: backend.schema });
      pristine = await db('audit_events').orderBy('seq');
      head = await db('audit_head').where({ id: 1 }).first();
    });
    after(async () => {
      await db?.destroy();
      await backend.cleanup();
    });

    async function restore() {
      await db('audit_events').del();
      await db('audit_events').insert(pristine);
      await db('audit_head').where({ id: 1 }).update({ seq: head.seq, hash: head.hash });
    }

    async function verify() {
      const result = await hallmark(env, 'audit', 'verify', '--json');
      return { code: result.code, report: JSON.parse(result.stdout), stderr: result.stderr };
    }

    test('an untouched log verifies, checkpoint signature included', async () => {
      const { code, report } = await verify();
      assert.equal(code, 0, JSON.stringify(report));
      assert.equal(report.ok, true);
      assert.equal(report.entries, pristine.length);
      assert.equal(report.checkpoints.verified, 1);
      const actions = pristine.map((r) => r.action);
      for (const action of ['ca.create', 'apikey.create', 'certificate.issue', 'audit.checkpoint']) assert.ok(actions.includes(action), action);
    });

    test('export writes every entry as a JSON line, in order, with the hash chain', async () => {
      const out = path.join(home.home, `export-${backend.name}.jsonl`);
      const result = await hallmark(env, 'audit', 'export', '--out', out);
      assert.equal(result.code, 0, result.stderr);
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, pristine.length);
      assert.deepEqual(lines.map((l) => l.seq), pristine.map((r) => Number(r.seq)));
      assert.equal(lines[1].prevHash, lines[0].hash);
    });

    const tampering: [string, () => Promise<void>, RegExp][] = [
      [
        'one byte of one entry edited',
        async () => {
          const row = pristine[3]!;
          await db('audit_events').where({ seq: row.seq }).update({ actor: row.actor.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x')) });
        },
        /entry 4 does not match its hash/,
      ],
      ['one entry deleted', async () => void (await db('audit_events').where({ seq: pristine[4]!.seq }).del()), /entry 5 is missing \(deleted\)/],
      [
        'two entries swapped',
        async () => {
          const [a, b] = [pristine[5]!, pristine[6]!];
          const { seq: _a, ...contentA } = a;
          const { seq: _b, ...contentB } = b;
          await db('audit_events').where({ seq: a.seq }).update(contentB);
          await db('audit_events').where({ seq: b.seq }).update(contentA);
        },
        /entry 6 does not match its hash[\s\S]*entry 7 does not match its hash/,
      ],
      ['the newest entry removed', async () => void (await db('audit_events').where({ seq: head.seq }).del()), /log ends at entry \d+ but its head says/],
      [
        'the chain rewritten consistently by someone who knows the hash (but not the audit key)',
        async () => {
          // Edit entry 2 and recompute every hash after it, head included: only the signed checkpoint can tell.
          let prev = pristine[0]!.hash;
          for (const row of pristine.slice(1)) {
            const { hash: _old, ...content } = row;
            const edited = { ...content, seq: Number(row.seq), at: Number(row.at), prev_hash: prev, actor: row.seq === pristine[1]!.seq ? 'nobody' : row.actor };
            prev = entryHash(edited);
            await db('audit_events').where({ seq: row.seq }).update({ actor: edited.actor, prev_hash: edited.prev_hash, hash: prev });
          }
          await db('audit_head').where({ id: 1 }).update({ hash: prev });
        },
        /checkpoint at entry \d+ does not match the log/,
      ],
    ];
    for (const [what, tamper, expected] of tampering) {
      test(`audit verify reports ${what}, and exits 1`, async () => {
        await tamper();
        try {
          const { code, report, stderr } = await verify();
          assert.equal(code, 1);
          assert.equal(report.ok, false);
          assert.match(report.problems.join('\n'), expected);
          assert.match(stderr, /audit log verification failed/);
        } finally {
          await restore();
        }
        assert.equal((await verify()).code, 0, 'restored');
      });
    }
  });
}

describe('audit entry hash', () => {
  // The definition: SHA-256 over prev_hash, a newline and the canonical JSON of the other fields.
  const byDefinition = (row: Record<string, unknown>) => {
    const { prev_hash, ...content } = row;
    return createHash('sha256').update(String(prev_hash)).update('\n').update(canonical(content)).digest('hex');
  };
  test('the field-by-field form gives the hash of the definition', () => {
    const texts = ['', 'plain', 'quote " backslash \\ newline \n tab \t', 'ünïcødé ✓ 𝄞', '\u0000\u001f\u2028', '{"a":1}'];
    const pick = <T>(xs: T[], i: number) => xs[i % xs.length]!;
    for (let i = 0; i < 500; i++) {
      const row: Record<string, unknown> = {
        seq: i * 7919 + 1,
        at: 1_700_000_000_000 + i * 3,
        actor: pick(texts, i),
        action: pick(['certificate.issue', 'device.provision', ...texts], i + 1),
        target: pick([null, 'ab12', ...texts], i + 2),
        outcome: pick(['success', 'failure', 'pending'], i),
        source: pick([null, '127.0.0.1', ...texts], i + 3),
        details: pick([null, canonical({ b: [1, 'x'], a: { z: null, y: 'ü' } }), ...texts], i + 4),
        prev_hash: createHash('sha256').update(String(i)).digest('hex'),
      };
      if (i % 5 === 0) row.target = undefined;
      assert.equal(entryHash(row as Omit<AuditRow, 'hash'>), byDefinition(row), JSON.stringify(row));
    }
    // A field the entry does not normally have still counts (the definition covers every field).
    const odd = { seq: 1, at: 2, actor: 'a', action: 'b', target: null, outcome: 'success', source: null, details: null, prev_hash: '0', extra: 'x' };
    assert.equal(entryHash(odd as Omit<AuditRow, 'hash'>), byDefinition(odd));
    assert.notEqual(entryHash(odd as Omit<AuditRow, 'hash'>), entryHash({ ...odd, extra: undefined } as Omit<AuditRow, 'hash'>));
  });
});
