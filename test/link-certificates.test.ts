import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isPostgres, openDatabase, type Db } from '../src/store/db.js';
import { activeLinkCertificates, linkCertificatesQuery } from '../src/store/certificates.js';
import { BACKENDS } from './helpers/backends.js';

/**
 * EST cacerts reads the root link certificates on every request (public, unauthenticated): through
 * the partial index of migration 007, never a scan of every certificate issued.
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

async function plan(db: Db): Promise<string> {
  const query = linkCertificatesQuery(db).toSQL().toNative();
  if (!isPostgres(db)) {
    const rows = (await db.raw(`EXPLAIN QUERY PLAN ${query.sql}`)) as { detail: string }[];
    return rows.map((r) => r.detail).join('\n');
  }
  // Whether the index can serve the query at all: with sequential scans priced out, PostgreSQL uses
  // it if its predicate matches (on a table this small it would otherwise rightly scan).
  return db.transaction(async (trx) => {
    await trx.raw('SET LOCAL enable_seqscan = off');
    const { rows } = (await trx.raw(`EXPLAIN ${query.sql}`)) as { rows: { 'QUERY PLAN': string }[] };
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

for (const make of BACKENDS) {
  test(`${make().name}: active link certificates come from the partial index`, async () => {
    const backend = make();
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-links-'));
    const db = await openDatabase({ home, url: backend.url, schema: backend.schema });
    try {
      await db('cas').insert({ name: 'root', key_uri: 'pkcs11:object=root', key_type: 'ec-p256', certificate: Buffer.from('root'), serial: '01', subject: 'CN=root', ski: '00', not_before: NOW - 1, not_after: NOW + 1e10, created_at: NOW });
      const devices = Array.from({ length: 300 }, (_, i) => row(`d${i}`, 'device', 'active', NOW + 86_400_000));
      for (let i = 0; i < devices.length; i += 100) await db('certificates').insert(devices.slice(i, i + 100));
      await db('certificates').insert([
        row('l-valid', 'link', 'active', NOW + 1000),
        row('l-expired', 'link', 'active', NOW - 1),
        row('l-revoked', 'link', 'revoked', NOW + 1000),
      ]);
      const links = await activeLinkCertificates(db, NOW);
      assert.deepEqual(links.map((d) => Buffer.from(d).toString()), ['l-valid']);
      assert.match(await plan(db), /certificates_links\b/);
    } finally {
      await db.destroy();
      await backend.cleanup();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
}
