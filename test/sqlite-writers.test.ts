import { asStore } from '../src/store/handle.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openDatabase } from '../src/store/db.js';
import { createAuditLog } from '../src/audit/log.js';
import { verifyAuditChain } from '../src/audit/verify.js';

const run = promisify(execFile);

/**
 * `hallmark serve` and the CLI write one SQLite file from separate processes (src/store/sqlite-client.ts).
 * With knex's deferred BEGIN about a third of these transactions failed with SQLITE_BUSY: each reads
 * the audit head before it appends, and SQLite refuses, without waiting, a write lock to a transaction
 * whose snapshot another process has moved past.
 */
test('processes appending to one SQLite audit log at once: none fails, the chain holds every entry', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-writers-'));
  const db = await openDatabase({ home });
  try {
    const audit = createAuditLog(asStore(db), { now: () => new Date() });
    const PER_WRITER = 400;
    const writer = path.join(import.meta.dirname, 'helpers', 'audit-writer.js');
    const children = [1, 2].map(() => run(process.execPath, [writer, home, String(PER_WRITER)]));
    let failedHere = 0;
    for (let i = 0; i < PER_WRITER; i++) await audit.record({ actor: 'writer:test', action: 'test.append', target: String(i), outcome: 'success' }).catch(() => failedHere++);
    const outcomes = (await Promise.all(children)).map((c) => JSON.parse(c.stdout) as { failures: number; first: string | null });
    assert.deepEqual(outcomes.map((o) => o.failures), [0, 0], `a second process failed: ${outcomes.map((o) => o.first).join('; ')}`);
    assert.equal(failedHere, 0);
    await audit.sequence();
    const check = await verifyAuditChain(asStore(db));
    assert.equal(check.ok, true, check.problems.join('\n'));
    assert.equal(await db('audit_events').where({ action: 'test.append' }).count({ n: '*' }).then(([r]) => Number(r!.n)), 3 * PER_WRITER);
  } finally {
    await db.destroy();
    fs.rmSync(home, { recursive: true, force: true });
  }
});
