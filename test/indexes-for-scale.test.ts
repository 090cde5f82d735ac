import { asStore } from '../src/store/handle.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPostgres, type Db } from '../src/store/db.js';
import type { Knex } from 'knex';
import { changedPageQuery, revokedPageQuery } from '../src/store/crls.js';
import { activeInternalCertificates, createCertificateQueries, createIssuanceStore, ISSUED_PG, internalCertificatesQuery, statusChangedSince, statusChangedSinceQuery, supersededDueQuery } from '../src/store/certificates.js';
import { BACKENDS, postgresBackend, withTemporaryDatabase, type Backend } from './helpers/backends.js';
import { actionCountQuery } from '../src/store/audit.js';
import { presignCandidatesFor, presignCandidatesForQuery, presignSweepPage, presignSweepPageQuery, responsesWrittenAfter, responsesWrittenAfterQuery } from '../src/store/ocsp-responses.js';

/**
 * Questions asked often whose answers are a handful of rows among millions, through the indexes of
 * migration 007, never a scan of every certificate issued or every audit event written: the certificates Hallmark issues
 * itself (root links for EST cacerts, public, on every request; responders and the HTTPS certificate
 * for the console), whether a CA's certificates changed status since its latest CRL (every poll), renewed
 * certificates due for revocation, and the hourly summary's counts of recent audit events.
 */
const NOW = 1_800_000_000_000;
const row = (serial: string, profile: string, status: string, notAfter: number) => ({
  serial,
  issuer: 'root',
  profile,
  identity: null,
  subject: `CN=${serial}`,
  status,
  not_before: NOW - 86_400_000,
  not_after: notAfter,
  key_type: 'ec-p256',
  requested_by: 'test',
  created_at: NOW,
  der: Buffer.from(serial),
});

/** A temporary database on `backend` (helpers/backends.ts) with the root CA the rows name. */
const withDatabase = (backend: Backend, prefix: string, work: (db: Db) => Promise<void>): Promise<void> =>
  withTemporaryDatabase(backend, prefix, async (db) => {
    await db('cas').insert({ name: 'root', key_uri: 'pkcs11:object=root', key_type: 'ec-p256', certificate: Buffer.from('root'), serial: '01', subject: 'CN=root', ski: '00', not_before: NOW - 1, not_after: NOW + 1e10, created_at: NOW });
    await work(db);
  });

async function plan(db: Db, builder: Knex.QueryBuilder, pgSettings: string[] = []): Promise<string> {
  const query = builder.toSQL().toNative();
  if (!isPostgres(db)) {
    const rows = (await db.raw(`EXPLAIN QUERY PLAN ${query.sql}`, query.bindings)) as { detail: string }[];
    return rows.map((r) => r.detail).join('\n');
  }
  // Whether the index can serve the query at all: with sequential scans priced out, PostgreSQL uses
  // it if its predicate matches (on a table this small it would otherwise rightly scan).
  return db.transaction(async (trx) => {
    await trx.raw('SET LOCAL enable_seqscan = off');
    for (const setting of pgSettings) await trx.raw(`SET LOCAL ${setting}`);
    // EXPLAIN takes no parameters: the values are written in (numbers and a CA name of the test's).
    const sql = query.sql.replace(/\$(\d+)/g, (_, i: string) => {
      const value = query.bindings[Number(i) - 1];
      return typeof value === 'number' ? String(value) : `'${String(value)}'`;
    });
    const { rows } = (await trx.raw(`EXPLAIN ${sql}`)) as { rows: { 'QUERY PLAN': string }[] };
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

for (const make of BACKENDS) {
  test(`${make().name}: frequent questions are answered through indexes`, async () => {
    await withDatabase(make(), 'hm-links-', async (db) => {
      const devices = Array.from({ length: 300 }, (_, i) => row(`d${i}`, 'device', 'active', NOW + 86_400_000));
      for (let i = 0; i < devices.length; i += 100) await db('certificates').insert(devices.slice(i, i + 100));
      await db('certificates').insert([
        row('l-valid', 'link', 'active', NOW + 1000),
        row('l-expired', 'link', 'active', NOW - 1),
        row('l-revoked', 'link', 'revoked', NOW + 1000),
      ]);
      const links = await activeInternalCertificates(asStore(db), 'link', NOW);
      assert.deepEqual(links.map((r) => Buffer.from(r.der!).toString()), ['l-valid']);
      for (const profile of ['link', 'ocsp-signer', 'tls-server'] as const) assert.match(await plan(db, internalCertificatesQuery(asStore(db), profile)), /certificates_internal\b/);
      await db('certificates').insert([row('r-old', 'ocsp-signer', 'active', NOW + 10), row('r-new', 'ocsp-signer', 'active', NOW + 20), row('r-revoked', 'ocsp-signer', 'revoked', NOW + 30)]);
      assert.deepEqual((await activeInternalCertificates(asStore(db), 'ocsp-signer', NOW)).map((r) => r.serial), ['r-new', 'r-old']);

      // Status changes: a revocation at NOW - 10, then the question asked before and after it.
      await db('certificates').where({ serial: 'd7' }).update({ status: 'revoked', status_changed_at: NOW - 10 });
      assert.equal(await statusChangedSince(asStore(db), 'root', NOW - 20), true);
      assert.equal(await statusChangedSince(asStore(db), 'root', NOW - 10), true);
      assert.equal(await statusChangedSince(asStore(db), 'root', NOW - 9), false);
      assert.equal(await statusChangedSince(asStore(db), 'other', NOW - 20), false);
      assert.match(await plan(db, statusChangedSinceQuery(asStore(db), 'root', NOW - 20)), /certificates_status_changes\b/);
      assert.match(await plan(db, statusChangedSinceQuery(asStore(db), 'root', NOW - 20, 3)), /certificates_status_changes\b/);

      // CRL shards: a shard's revoked certificates through the partial index of revoked rows (migration
      // 016), a delta's changes through the index of status changes.
      await db('certificates').where({ serial: 'd7' }).update({ crl_shard: 3 });
      assert.deepEqual((await revokedPageQuery(asStore(db), 'root', NOW, 3, '')).map((r: { serial: string }) => r.serial), ['d7']);
      assert.deepEqual(await revokedPageQuery(asStore(db), 'root', NOW, 2, ''), []);
      assert.match(await plan(db, revokedPageQuery(asStore(db), 'root', NOW, 3, '')), /certificates_revoked_by_shard\b/);
      assert.deepEqual((await changedPageQuery(asStore(db), 'root', NOW - 20, NOW, 3, '')).map((r: { serial: string }) => r.serial), ['d7']);
      assert.match(await plan(db, changedPageQuery(asStore(db), 'root', NOW - 20, NOW, 3, '')), /certificates_status_changes\b/);

      // Renewed certificates still active, due for revocation once their grace period is over.
      await db('certificates').where({ serial: 'd8' }).update({ superseded_by: 'd9', superseded_at: NOW - 100 });
      await db('certificates').where({ serial: 'd7' }).update({ superseded_by: 'd6', superseded_at: NOW - 100 }); // revoked already
      assert.deepEqual(await supersededDueQuery(asStore(db), NOW), [{ serial: 'd8' }]);
      assert.deepEqual(await supersededDueQuery(asStore(db), NOW - 101), []);
      assert.match(await plan(db, supersededDueQuery(asStore(db), NOW)), /certificates_superseded\b/);

      // Certificate lists, newest first, read through the (created_at DESC, serial) index whatever the
      // common filters; the plan of the list as the REST API and the CLI run it. On SQLite, whose
      // planner goes by rules here; PostgreSQL's goes by statistics, which a table this small does not
      // have (with a million rows, analysed, it read each of these lists in 2–3 ms: docs/operators.md, "Storage").
      const queries = createCertificateQueries(asStore(db));
      if (!isPostgres(db)) {
        for (const filter of [{ limit: 100 }, { status: 'active' as const, limit: 100 }, { issuer: 'root', limit: 100 }]) {
          assert.match(await plan(db, queries.listQuery(filter, new Date(NOW))), /certificates_newest\b/, JSON.stringify(filter));
        }
      }
      await db('certificates').insert([1, 2, 3, 4].map((i) => ({ ...row(`new-${i}`, 'device', i === 4 ? 'revoked' : 'active', NOW + 1000), created_at: NOW + i })));
      assert.deepEqual((await queries.list({ status: 'active', issuer: 'root', limit: 2 }, new Date(NOW))).map((r) => r.serial), ['new-3', 'new-2']);
      assert.deepEqual((await queries.list({ limit: 2 }, new Date(NOW))).map((r) => r.serial), ['new-4', 'new-3']);

      // An instance's look for responses written since its last: a range of the (written_in, serial) index
      // from the cursor on, not a walk of every response written before it.
      const response = (serial: string, pass: number) => ({ serial, issuer: 'root', signed: Buffer.from(serial), responder: 'r', status_changed_at: 0, this_update: NOW, next_update: NOW + 3_600_000, signed_at: NOW, written_in: pass });
      await db('ocsp_responses').insert([response('d1', 7), response('d2', 8), response('d3', 8), response('d4', 9), response('d5', 10)]);
      assert.deepEqual((await responsesWrittenAfter(asStore(db), { pass: 8, serial: 'd2' }, 10)).map((r) => r.serial), ['d3', 'd4', 'd5']);
      assert.deepEqual((await responsesWrittenAfter(asStore(db), { pass: 8, serial: 'd3' }, 1)).map((r) => r.serial), ['d4']);
      assert.deepEqual((await responsesWrittenAfter(asStore(db), { pass: 6, serial: '' }, 10)).map((r) => r.serial), ['d1', 'd2', 'd3', 'd4', 'd5']);
      const writtenAfter = await plan(db, responsesWrittenAfterQuery(asStore(db), { pass: 8, serial: 'd2' }, 10));
      assert.match(writtenAfter, isPostgres(db) ? /Index Cond: \(written_in >= / : /SEARCH ocsp_responses USING INDEX ocsp_responses_written_in_serial_index \(written_in>\?\)/, writtenAfter);

      // The pre-signer's sweep: a page of certificates after a serial, with their responses' times. Where
      // PostgreSQL joins by merging (as it does at a million), both primary keys start at the page.
      const sweep = async (after: string, limit: number) => (await presignSweepPage(asStore(db), after, NOW, limit)).map((c) => [c.serial, c.next_update === null ? null : Number(c.next_update)]);
      assert.deepEqual(await sweep('d3', 3), [['d30', null], ['d31', null], ['d32', null]]);
      assert.deepEqual(await sweep('d4', 2), [['d40', null], ['d41', null]]);
      assert.deepEqual(await sweep('d39', 2), [['d4', NOW + 3_600_000], ['d40', null]]);
      if (isPostgres(db)) {
        const merged = await plan(db, presignSweepPageQuery(asStore(db), 'd3', NOW, 3), ['enable_nestloop = off', 'enable_hashjoin = off']);
        assert.match(merged, /Scan (using|on) ocsp_responses_pkey[^\n]*\n\s+Index Cond: \(\(serial\)::text > 'd3'::text\)/, merged);
      }

      // The certificates whose status changed, with their responses: the responses read by serial, not
      // all of them hashed or merged whole to probe a batch of 500 (whatever join PostgreSQL picks).
      assert.deepEqual((await presignCandidatesFor(asStore(db), ['d4', 'd40'])).map((c) => [c.serial, c.next_update === null ? null : Number(c.next_update)]).sort(), [['d4', NOW + 3_600_000], ['d40', null]]);
      if (isPostgres(db)) {
        for (const join of [['enable_nestloop = off', 'enable_mergejoin = off'], ['enable_nestloop = off', 'enable_hashjoin = off']]) {
          const changed = await plan(db, presignCandidatesForQuery(asStore(db), ['d4', 'd40']), join);
          assert.match(changed, /Scan (using|on) ocsp_responses_pkey[^\n]*\n\s+Index Cond: \(\(serial\)::text = ANY/, changed);
        }
      }

      // The hourly summary's counts of recent audit events, by action and time.
      assert.match(await plan(db, actionCountQuery(asStore(db), NOW - 3_600_000, ['certificate.issue'], 'pending')), /audit_events_action_at_index/);
      assert.match(await plan(db, actionCountQuery(asStore(db), NOW - 3_600_000, ['auth.failure', 'auth.denied'])), /audit_events_action_at_index/);
    });
  });
}

/**
 * PostgreSQL leaves an updated row's old index entries behind, dead, until VACUUM: every certificate
 * recorded leaves a 'pending' entry in the (status, not_after) index. Recording a batch must find its
 * rows by serial, or each batch walks every certificate recorded since the last vacuum (measured: 3×
 * PostgreSQL's CPU per EST enrollment after 20,000 factory certificates; docs/issuance-performance.md).
 */
test('postgres: recording issued certificates finds them by serial, not through the status index', async () => {
  await withDatabase(postgresBackend(), 'hm-issued-', async (db) => {
    const store = createIssuanceStore(asStore(db));
    const pending = (serial: string) => ({ ...row(serial, 'device', 'pending', NOW + 86_400_000), der: null, tbs: Buffer.from(`tbs ${serial}`) });
    const earlier = Array.from({ length: 300 }, (_, i) => `e${i}`);
    for (let i = 0; i < earlier.length; i += 100) await db('certificates').insert(earlier.slice(i, i + 100).map(pending));
    await store.recordIssued(earlier.map((serial) => ({ serial, der: Buffer.from(`der ${serial}`) })), NOW);
    await db('certificates').insert(['n1', 'n2'].map(pending));

    // The plan finds the rows through the conflict arbiter, the primary key: no scan of certificates,
    // so never the status index, whatever the planner would price.
    const rows = JSON.stringify([{ serial: 'n1', der: '\\x01' }, { serial: 'n2', der: '\\x02' }]);
    const { rows: plan } = (await db.raw(`EXPLAIN ${ISSUED_PG}`, [rows, NOW])) as { rows: { 'QUERY PLAN': string }[] };
    const statement = plan.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(statement, /Conflict Arbiter Indexes: certificates_pkey/, statement);
    assert.doesNotMatch(statement, /certificates_status_not_after_index|Scan on certificates|Scan using/, statement);

    await store.recordIssued([{ serial: 'n1', der: Buffer.from('der n1') }, { serial: 'n2', der: Buffer.from('der n2') }], NOW);
    const recorded = await db('certificates').whereIn('serial', ['n1', 'n2', 'e0']).orderBy('serial').select('serial', 'status', 'tbs');
    assert.deepEqual(recorded.map((r) => [r.serial, r.status, r.tbs]), [['e0', 'active', null], ['n1', 'active', null], ['n2', 'active', null]]);
    // All or none, as before: a batch with a certificate no longer pending records nothing.
    await db('certificates').insert([pending('n3')]);
    await assert.rejects(store.recordIssued([{ serial: 'n3', der: Buffer.from('x') }, { serial: 'n1', der: Buffer.from('x') }], NOW), /1 of 2 certificates were not pending/);
    assert.equal((await db('certificates').where({ serial: 'n3' }).first()).status, 'pending');
  });
});

test('postgres: the planner knows nearly every certificate is issued (statistics on status || \'\'), so the pre-signer sweeps through the primary keys', async () => {
  await withDatabase(postgresBackend(), 'hm-issued-stats-', async (db) => {
    const serials = Array.from({ length: 5000 }, (_, i) => `c${String(i).padStart(5, '0')}`);
    for (let i = 0; i < serials.length; i += 500) await db('certificates').insert(serials.slice(i, i + 500).map((s, j) => row(s, 'device', (i + j) % 30 === 0 ? 'revoked' : 'active', NOW + 86_400_000)));
    await db.raw('ANALYZE certificates');
    // The condition the pre-signer's sweep, its recent query and the certificate list write so that no
    // index answers it (store/ocsp-responses.ts). Without statistics the planner guesses 0.5% per value.
    const { rows } = (await db.raw(`EXPLAIN (FORMAT JSON) SELECT serial FROM certificates c WHERE c.status || '' IN ('active', 'revoked')`)) as { rows: { 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }[] };
    const estimated = rows[0]!['QUERY PLAN'][0].Plan['Plan Rows'];
    assert.ok(estimated >= serials.length * 0.9, `the planner expects ${estimated} of ${serials.length} certificates to be issued`);
  });
});
