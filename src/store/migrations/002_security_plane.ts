import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  // Operators log in with a password and a TOTP code; the TOTP seed is sealed under a token key.
  await db.schema.createTable('operators', (t) => {
    t.string('name', 64).primary();
    t.string('role', 16).notNullable();
    t.string('password_hash', 256).notNullable();
    t.binary('totp_sealed').notNullable();
    t.bigInteger('totp_last_step').notNullable().defaultTo(0);
    t.string('created_by', 128).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('disabled_at').nullable();
  });
  await db.schema.createTable('sessions', (t) => {
    t.string('id', 32).primary();
    t.string('operator', 64).notNullable().references('name').inTable('operators');
    t.string('secret_hash', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_seen_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('revoked_at').nullable();
    t.string('source', 64).nullable();
  });
  // Chain heads signed with a token key: a rewrite of the whole log after a checkpoint is detected.
  await db.schema.createTable('audit_checkpoints', (t) => {
    t.bigInteger('seq').primary();
    t.string('hash', 64).notNullable();
    t.bigInteger('at').notNullable();
    t.string('key_uri', 512).notNullable();
    t.binary('signature').notNullable();
  });
  await db.schema.createTable('settings', (t) => {
    t.string('name', 64).primary();
    t.text('value').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['settings', 'audit_checkpoints', 'sessions', 'operators']) await db.schema.dropTableIfExists(table);
}
