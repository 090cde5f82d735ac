import type { Knex } from 'knex';

/**
 * enrollment_tokens: a secret can be revoked before it is used (a device scrapped, a list of secrets
 * leaked), and secrets made for a production lot at once carry the lot, to list and revoke them.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('enrollment_tokens', (t) => {
    t.bigInteger('revoked_at').nullable();
    t.string('revoked_by', 128).nullable();
    t.string('lot', 128).nullable();
    t.index(['lot']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('enrollment_tokens', (t) => {
    t.dropIndex(['lot']);
    t.dropColumn('lot');
    t.dropColumn('revoked_by');
    t.dropColumn('revoked_at');
  });
}
