import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  // One-time EST enrollment secrets, stored as SHA-256, consumed by the enrollment they allow.
  await db.schema.createTable('enrollment_tokens', (t) => {
    t.string('id', 32).primary();
    t.string('device', 128).notNullable();
    t.string('label', 63).nullable();
    t.string('secret_hash', 64).notNullable();
    t.string('created_by', 128).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at').nullable();
    t.string('used_for', 42).nullable();
    t.index(['device']);
  });
  // A renewal supersedes the old certificate; policy may revoke it after a grace period.
  await db.schema.alterTable('certificates', (t) => {
    t.string('superseded_by', 42).nullable();
    t.bigInteger('superseded_at').nullable();
    t.index(['superseded_at']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('enrollment_tokens');
}
