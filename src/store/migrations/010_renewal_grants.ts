import type { Knex } from 'knex';

/** renewal_grants: an operator let one certificate renew before its renewal window opens (used once). */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('renewal_grants', (t) => {
    t.string('serial', 64).primary();
    t.string('granted_by', 200).notNullable();
    t.bigInteger('granted_at').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('renewal_grants');
}
