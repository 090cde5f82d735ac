import { asTx } from '../src/store/handle.js';
import { asStore } from '../src/store/handle.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../src/store/db.js';
import { preparedStatementCount, STATEMENTS_PER_CONNECTION } from '../src/store/sqlite-statements.js';
import { insertMany, ROWS_PER_STATEMENT } from '../src/store/insert-many.js';
import { together } from '../src/store/together.js';
import { createIssuanceStore } from '../src/store/certificates.js';
import { postgresBackend, type Backend } from './helpers/backends.js';

/**
 * Statements kept prepared: SQLite's knex client per connection (src/store/sqlite-statements.ts), and
 * the batch paths' full chunks as named statements on PostgreSQL (src/store/pg-prepared.ts).
 */
let home: string;
let db: Db;
let pgBackend: Backend;
let pgDb: Db;

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-statements-'));
  db = await openDatabase({ home });
  await db.schema.createTable('t', (t) => {
    t.integer('id').primary();
    t.string('v');
  });
  pgBackend = postgresBackend();
  pgDb = await openDatabase({ home, url: pgBackend.url, schema: pgBackend.schema });
});
after(async () => {
  await db?.destroy();
  await pgDb?.destroy();
  await pgBackend?.cleanup();
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

test('closing the database finalizes the statements first, so SQLite really closes (WAL checkpointed and removed)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-close-'));
  try {
    const own = await openDatabase({ home: dir });
    await own.schema.createTable('c', (t) => t.integer('id'));
    for (let i = 0; i < 5; i++) await own('c').insert({ id: i });
    const connection = (await own.client.acquireConnection()) as { open: boolean };
    await own.client.releaseConnection(connection);
    assert.ok(preparedStatementCount(connection) > 0);
    assert.ok(fs.existsSync(path.join(dir, 'hallmark.sqlite-wal')));
    await own.destroy();
    // sqlite3_close refuses while statements remain; knex would not say so, the file would stay open.
    assert.equal(connection.open, false);
    assert.deepEqual(fs.readdirSync(dir), ['hallmark.sqlite']);
    const again = await openDatabase({ home: dir });
    assert.equal(Number((await again('c').count({ n: '*' }))[0]!.n), 5);
    await again.destroy();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The statements this PostgreSQL session has prepared (the view shows the current session's only). */
const preparedInSession = async (trx: Db) => ((await trx.raw('select name from pg_prepared_statements order by name')).rows as { name: string }[]).map((r) => r.name);

test('PostgreSQL: a full chunk of rows goes as a named statement, prepared once per connection; a partial one does not', async () => {
  await pgDb.transaction(async (trx) => {
    await trx.schema.createTable('chunked', (t) => {
      t.integer('id').primary();
      t.string('v');
    });
    const rows = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ id: from + i, v: `row ${from + i}` }));
    const before = await preparedInSession(trx);
    await insertMany(trx, 'chunked', rows(0, 7), 7);
    const afterFull = (await preparedInSession(trx)).filter((n) => !before.includes(n));
    assert.equal(afterFull.length, 1, `one named statement, got ${afterFull.join(', ')}`);
    assert.match(afterFull[0]!, /^hm_[0-9a-f]{24}$/);
    // The same shape again (two full chunks and a partial one): no new name, every row written.
    await insertMany(trx, 'chunked', rows(7, 17), 7);
    assert.deepEqual((await preparedInSession(trx)).filter((n) => !before.includes(n)), afterFull);
    assert.equal(Number((await trx('chunked').count({ n: '*' }))[0]!.n), 24);
    // Another table's full chunk: another text, another name (node-postgres refuses one name for two texts).
    await trx.schema.createTable('chunked_too', (t) => {
      t.integer('id').primary();
      t.string('v');
    });
    await insertMany(trx, 'chunked_too', rows(0, 7), 7);
    assert.equal((await preparedInSession(trx)).filter((n) => !before.includes(n)).length, 2);
  });
});

// One named statement whatever the batch size, prepared once per connection; its plan reads no table
// (an INSERT … ON CONFLICT finds each row through the primary key), so the generic plan PostgreSQL keeps
// cannot turn into a sequential scan as the table grows (src/store/certificates.ts, ISSUED_PG).
test('PostgreSQL: recording signed certificates is one statement prepared once whatever their number, and stays all-or-none', async () => {
  const now = Date.now();
  await pgDb('cas').insert({ name: 'prep-ca', key_uri: 'pkcs11:object=x', key_type: 'ec-p256', certificate: Buffer.from([0]), serial: '01', subject: 'CN=prep', ski: '00', not_before: now, not_after: now + 1e9, created_at: now, family: 'prep-ca', active_from: now });
  const store = createIssuanceStore(asStore(pgDb));
  const batch = (tag: string) =>
    Array.from({ length: ROWS_PER_STATEMENT }, (_, i) => ({ serial: `${tag}${i.toString(16).padStart(8, '0')}`, issuer: 'prep-ca', profile: 'device', identity: null, subject: `CN=${tag}-${i}`, not_before: now, not_after: now + 1e6, key_type: 'ec-p256', requested_by: 'test', created_at: now, tbs: new Uint8Array([1, 2, 3]) }));
  const first = batch('aa');
  const second = batch('bb');
  await pgDb.transaction(async (trx) => {
    await store.recordIntents(asTx(trx), [...first, ...second]);
    const prepared = await preparedInSession(trx);
    await store.recordIssued(first.map((c) => ({ serial: c.serial, der: new Uint8Array([4, 5]) })), now, asTx(trx));
    const recording = (await preparedInSession(trx)).filter((n) => !prepared.includes(n));
    assert.equal(recording.length, 1, 'recording prepared one statement');
    assert.deepEqual(new Uint8Array((await trx('certificates').where({ serial: first[0]!.serial }).first()).der), new Uint8Array([4, 5]));
    // A batch of another size: the same statement, nothing more prepared.
    const small = batch('cc').slice(0, 3);
    await store.recordIntents(asTx(trx), small);
    await store.recordIssued(small.map((c) => ({ serial: c.serial, der: new Uint8Array([7]) })), now, asTx(trx));
    assert.deepEqual((await preparedInSession(trx)).sort(), [...prepared, ...recording].sort());
    // Its plan scans no table: the rows are found by the conflict arbiter, the primary key.
    const plan = ((await trx.raw(`EXPLAIN EXECUTE ${recording[0]}('[]', 0)`)).rows as { 'QUERY PLAN': string }[]).map((r) => r['QUERY PLAN']).join('\n');
    assert.match(plan, /Conflict Arbiter Indexes: certificates_pkey/, plan);
    assert.doesNotMatch(plan, /Seq Scan on certificates|Index Scan|Bitmap/, plan);
    await trx('certificates').where({ serial: second[5]!.serial }).update({ status: 'failed' });
  });
  // The statement again, with one certificate that is no longer pending: it fails, and nothing changes.
  await assert.rejects(store.recordIssued(second.map((c) => ({ serial: c.serial, der: new Uint8Array([6]) })), now), /1 of 400 certificates were not pending/);
  // A serial with no intent at all is refused the same way, and leaves no row behind.
  await assert.rejects(store.recordIssued([{ serial: second[0]!.serial, der: new Uint8Array([6]) }, { serial: 'ffffffff', der: new Uint8Array([6]) }], now), /1 of 2 certificates were not pending/);
  assert.equal(await pgDb('certificates').where({ serial: 'ffffffff' }).first(), undefined);
  const counts = (await pgDb('certificates').where({ issuer: 'prep-ca' }).select('status').count({ n: '*' }).groupBy('status')) as { status: string; n: string }[];
  assert.deepEqual(Object.fromEntries(counts.map((c) => [c.status, Number(c.n)])), { active: 403, pending: 399, failed: 1 });
});
