import type { Knex } from 'knex';

/**
 * EST cacerts, public and unauthenticated, lists the root link certificates still valid on every
 * request (RFC 7030 §4.1.3). Without an index that was a scan of every certificate issued: 12.8 ms of
 * CPU a request on SQLite at 40,000 certificates. A partial index holds the few link rows only, so
 * issuing device certificates maintains nothing more. Both SQLite and PostgreSQL have partial indexes.
 */
export async function up(db: Knex): Promise<void> {
  await db.raw(`CREATE INDEX certificates_links ON certificates (profile) WHERE profile = 'link'`);
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX certificates_links');
}
