import type { Knex } from 'knex';

/**
 * certificate_last_seen: when a relying party last asked OCSP about a certificate (the device was
 * presenting it somewhere), written in batches by each instance, at most once per certificate per batch.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('certificate_last_seen', (t) => {
    t.string('serial', 64).primary();
    t.bigInteger('ocsp_at').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('certificate_last_seen');
}
