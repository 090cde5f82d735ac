import type { Knex } from 'knex';

/**
 * Statistics on `status || ''` (PostgreSQL 14+ expression statistics), the form the pre-signer's sweep,
 * its "recent" query and the certificate list use so that no index answers the status condition
 * (store/ocsp-responses.ts). Without statistics the planner takes an expression's equality at a default
 * selectivity of 0.5%, while nearly every certificate is active or revoked. At ten million certificates
 * and a million pre-signed responses it then expected to read 200 times the rows a 2,000-row page needs,
 * and preferred a parallel merge join over all of ocsp_responses, JIT-compiled, for every page: 840 ms a
 * page, slower with each response signed (the pre-signing of a fleet fell from ~4,000 to ~1,000 a second
 * and kept falling). With them: a nested loop through both primary keys, 32 ms
 * (docs/performance.md, the 10-million run). ANALYZE (autovacuum) fills them. SQLite has no such thing,
 * and its planner took the primary key anyway.
 */
// As store/db.ts's isPostgres, which a migration cannot import (db.ts imports the migrations).
const isPostgres = (db: Knex) => db.client.config.client === 'pg';

export async function up(db: Knex): Promise<void> {
  if (!isPostgres(db)) return;
  // Statistics on expressions came with PostgreSQL 14; an older server plans as before (docs/operators.md, "Storage").
  const { rows } = (await db.raw(`SELECT current_setting('server_version_num')::int AS version`)) as { rows: { version: number }[] };
  if (rows[0]!.version >= 140000) await db.raw(`CREATE STATISTICS certificates_issued_status ON (status || '') FROM certificates`);
}

export async function down(db: Knex): Promise<void> {
  if (isPostgres(db)) await db.raw('DROP STATISTICS IF EXISTS certificates_issued_status');
}
