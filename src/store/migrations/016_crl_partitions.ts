import type { Knex } from 'knex';

/**
 * Partitioned and delta CRLs (RFC 5280 §5.2.5, §5.2.4).
 *
 * - certificates.crl_shard: the shard a certificate's CRL distribution point names, chosen at issuance
 *   (null: the CA's whole CRL). A shard's CRL reads its revoked certificates through a partial index
 *   that holds revoked rows only, so issuance pays nothing for it; the WHERE is repeated word for word
 *   by the query (store/crls.ts), which is how SQLite's planner matches a partial index.
 * - crls.shard (-1: the whole CRL) and crls.base_number (a delta CRL's base, null for a complete CRL):
 *   every CRL of a CA, complete or delta, whole or shard, draws its number from the CA's one sequence
 *   (crl_numbers), so (issuer, number) stays the key.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('certificates', (t) => {
    t.integer('crl_shard').nullable();
  });
  await db.raw(`CREATE INDEX certificates_revoked_by_shard ON certificates (issuer, crl_shard, serial) WHERE status = 'revoked'`);
  await db.schema.alterTable('crls', (t) => {
    t.integer('shard').notNullable().defaultTo(-1);
    t.bigInteger('base_number').nullable();
    t.index(['issuer', 'shard', 'number']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX certificates_revoked_by_shard');
  await db.schema.alterTable('crls', (t) => {
    t.dropIndex(['issuer', 'shard', 'number']);
    t.dropColumn('base_number');
    t.dropColumn('shard');
  });
  await db.schema.alterTable('certificates', (t) => t.dropColumn('crl_shard'));
}
