import type { Knex } from 'knex';

/**
 * public_keys: one public key, one identity (docs/security-model.md, "Issuance policy"). The key id is a hash of the
 * key's canonical form (store/public-keys.ts), so a key re-encoded differently is still the same key;
 * the primary key makes the binding atomic across instances: the first identity to bind a key keeps it.
 * A key whose certificate was revoked for keyCompromise is marked, and refused for ever.
 *
 * auth_blocks: blocks raised by repeated authentication failures (per credential, per address and
 * credential, per address for unidentified attempts), so that every instance enforces them and
 * `hallmark security blocks` can list and lift them.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('public_keys', (t) => {
    t.string('key_id', 64).primary();
    t.string('identity', 300).notNullable();
    t.bigInteger('bound_at').notNullable();
    t.bigInteger('compromised_at').nullable();
    t.string('compromised_serial', 64).nullable();
  });
  await db.schema.createTable('auth_blocks', (t) => {
    t.string('id', 32).primary();
    t.string('scope', 16).notNullable();
    t.string('source', 100).nullable();
    t.string('credential', 200).nullable();
    t.integer('failures').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('until').notNullable();
    t.bigInteger('lifted_at').nullable();
    t.string('lifted_by', 200).nullable();
    t.index(['until']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('auth_blocks');
  await db.schema.dropTableIfExists('public_keys');
}
