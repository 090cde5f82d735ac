import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../src/store/db.js';
import { preparedStatementCount, STATEMENTS_PER_CONNECTION } from '../src/store/sqlite-statements.js';
import { insertMany } from '../src/store/insert-many.js';
import { together } from '../src/store/together.js';

/** SQLite's knex client keeps statements prepared per connection (src/store/sqlite-statements.ts). */
let home: string;
let db: Db;

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-statements-'));
  db = await openDatabase({ home });
  await db.schema.createTable('t', (t) => {
    t.integer('id').primary();
    t.string('v');
  });
});
after(async () => {
  await db?.destroy();
  fs.rmSync(home, { recursive: true, force: true });
});

/** The one connection of the SQLite pool, for a look at its cache. */
async function statementsHeld(): Promise<number> {
  const connection = await db.client.acquireConnection();
  try {
    return preparedStatementCount(connection);
  } finally {
    await db.client.releaseConnection(connection);
  }
}

test('a statement is prepared once and reused: the cache grows with distinct SQL, not with queries', async () => {
  await db('t').del();
  const before = await statementsHeld();
  for (let i = 0; i < 50; i++) await db('t').insert({ id: i, v: `row ${i}` });
  for (let i = 0; i < 50; i++) assert.equal((await db('t').where({ id: i }).first()).v, `row ${i}`);
  // insert, select: two texts for a hundred queries (plus any knex asked for meanwhile).
  assert.ok((await statementsHeld()) - before <= 3, `cache grew by ${(await statementsHeld()) - before}`);
});

test('concurrent runs of one statement each get their own changes count and rows', async () => {
  await db('t').del();
  await insertMany(db, 't', Array.from({ length: 100 }, (_, i) => ({ id: i, v: i % 2 ? 'odd' : 'even' })), 400);
  // The same UPDATE text with different bindings, all in flight together on the one statement.
  const counts = await Promise.all(Array.from({ length: 40 }, (_, i) => db('t').where('id', '<', i).update({ v: 'x' })));
  // Each run sees the table as the runs before it left it, but `changes` is that run's own.
  counts.forEach((n, i) => assert.equal(n, i, `update ${i} reported ${n} changes`));
  const reads = await Promise.all(Array.from({ length: 40 }, (_, i) => db('t').select('id').where('id', '>=', 100 - i)));
  reads.forEach((rows, i) => assert.equal(rows.length, i));
});

test('a statement that failed is dropped and prepared again; the failure reaches its caller', async () => {
  await db('t').del();
  await db('t').insert({ id: 1, v: 'one' });
  await assert.rejects(db('t').insert({ id: 1, v: 'again' }), /UNIQUE constraint failed/);
  await assert.rejects(db('t').insert({ id: 1, v: 'again' }), /UNIQUE constraint failed/);
  await db('t').insert({ id: 2, v: 'two' });
  assert.deepEqual((await db('t').select('id').orderBy('id')).map((r) => r.id), [1, 2]);
});

test('SQL that cannot be prepared fails every caller waiting on it, and never hangs', { timeout: 10_000 }, async () => {
  // node-sqlite3 drops the calls queued on a statement whose preparation failed, uncalled: three
  // callers in flight at once wait on the same preparation.
  const broken = await Promise.all(Array.from({ length: 3 }, () => db.raw('select a_column from no_such_table').then(() => null, (e: Error) => e)));
  for (const error of broken) assert.match(String(error), /no such table/);
  await assert.rejects(db.raw('select a_column from no_such_table'), /no such table/);
  assert.equal((await db.raw('select 1 as one'))[0].one, 1);
});

test('transactions still roll back what they wrote, statements sent together included', async () => {
  await db('t').del();
  await assert.rejects(
    db.transaction((trx) => together(trx, [() => insertMany(trx, 't', [{ id: 10, v: 'a' }, { id: 11, v: 'b' }], 400), () => trx('t').insert({ id: 10, v: 'clash' })])),
    /UNIQUE constraint failed/,
  );
  assert.equal((await db('t').count({ n: '*' }))[0]!.n, 0);
  await db.transaction((trx) => together(trx, [() => insertMany(trx, 't', [{ id: 10, v: 'a' }], 400), () => trx('t').insert({ id: 12, v: 'c' })]));
  assert.equal((await db('t').count({ n: '*' }))[0]!.n, 2);
});

test('the cache is bounded: the least recently used statements are finalized', async () => {
  await db('t').del();
  await db('t').insert({ id: 1, v: 'kept' });
  // Distinct texts (the alias differs), more than the cache holds.
  for (let i = 0; i < STATEMENTS_PER_CONNECTION + 50; i++) assert.equal((await db.raw(`select v as v${i} from t where id = 1`))[0][`v${i}`], 'kept');
  assert.equal(await statementsHeld(), STATEMENTS_PER_CONNECTION);
  // An evicted text still works: prepared again.
  assert.equal((await db.raw('select v as v0 from t where id = 1'))[0].v0, 'kept');
});
