import type { Knex } from 'knex';

/** Times are epoch milliseconds (BIGINT) so that both databases compare them the same way. */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('cas', (t) => {
    t.string('name', 63).primary();
    t.string('parent', 63).nullable().references('name').inTable('cas');
    t.string('key_uri', 512).notNullable();
    t.string('key_type', 16).notNullable();
    t.binary('certificate').notNullable();
    t.string('serial', 42).notNullable();
    t.string('subject', 1024).notNullable();
    t.string('ski', 64).notNullable();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    t.string('status', 16).notNullable().defaultTo('active');
    t.bigInteger('created_at').notNullable();
  });

  // One row per certificate from the moment its serial is reserved (status 'pending', the intent),
  // so that a crash between signing and recording never leaves an issued certificate unknown.
  await db.schema.createTable('certificates', (t) => {
    t.string('serial', 42).primary();
    t.string('issuer', 63).notNullable().references('name').inTable('cas');
    t.string('profile', 63).notNullable();
    t.string('identity', 128).nullable();
    t.string('subject', 1024).notNullable();
    t.string('status', 16).notNullable();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    t.binary('tbs').nullable();
    t.binary('der').nullable();
    t.string('key_type', 16).notNullable();
    t.string('requested_by', 128).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('issued_at').nullable();
    t.bigInteger('revoked_at').nullable();
    t.string('revocation_reason', 32).nullable();
    t.bigInteger('invalidity_date').nullable();
    t.index(['identity']);
    t.index(['status', 'not_after']);
    t.index(['issuer', 'status']);
  });

  await db.schema.createTable('api_keys', (t) => {
    t.string('id', 32).primary();
    t.string('role', 16).notNullable();
    t.text('scopes').nullable();
    t.string('secret_hash', 64).notNullable();
    t.string('label', 128).nullable();
    t.string('created_by', 128).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').nullable();
    t.bigInteger('revoked_at').nullable();
    t.bigInteger('last_used_at').nullable();
  });

  // Hash-chained: each entry's hash covers the previous entry's hash and its own content.
  await db.schema.createTable('audit_events', (t) => {
    t.bigInteger('seq').primary();
    t.bigInteger('at').notNullable();
    t.string('actor', 128).notNullable();
    t.string('action', 64).notNullable();
    t.string('target', 256).nullable();
    t.string('outcome', 16).notNullable();
    t.string('source', 64).nullable();
    t.text('details').nullable();
    t.string('prev_hash', 64).notNullable();
    t.string('hash', 64).notNullable();
    t.index(['action']);
    t.index(['at']);
  });
  // A single row that every audit append locks, so the chain stays linear across instances.
  await db.schema.createTable('audit_head', (t) => {
    t.integer('id').primary();
    t.bigInteger('seq').notNullable();
    t.string('hash', 64).notNullable();
  });
  await db('audit_head').insert({ id: 1, seq: 0, hash: '0'.repeat(64) });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['audit_head', 'audit_events', 'api_keys', 'certificates', 'cas']) await db.schema.dropTableIfExists(table);
}
