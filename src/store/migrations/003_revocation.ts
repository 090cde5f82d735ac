import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  // Set on every revocation and hold release, so other instances can find what changed since they looked.
  await db.schema.alterTable('certificates', (t) => {
    t.bigInteger('status_changed_at').nullable();
    t.index(['status_changed_at']);
    // CRL generation reads revoked entries per issuer in serial order, a page at a time.
    t.index(['issuer', 'status', 'serial']);
  });
  // Every CRL signed is kept; serving picks the highest number per issuer.
  await db.schema.createTable('crls', (t) => {
    t.string('issuer', 63).notNullable().references('name').inTable('cas');
    t.bigInteger('number').notNullable();
    t.bigInteger('this_update').notNullable();
    t.bigInteger('next_update').notNullable();
    t.integer('entries').notNullable();
    t.binary('der').notNullable();
    t.bigInteger('created_at').notNullable();
    t.primary(['issuer', 'number']);
  });
  // CRL numbers are reserved here, one increment at a time, so they only ever grow (RFC 5280 §5.2.3).
  await db.schema.createTable('crl_numbers', (t) => {
    t.string('issuer', 63).primary();
    t.bigInteger('last_number').notNullable();
  });
  // Delegated OCSP responders (RFC 6960 §4.2.2.2): a key on the token and a certificate per CA.
  await db.schema.createTable('ocsp_responders', (t) => {
    t.string('serial', 42).primary();
    t.string('ca', 63).notNullable().references('name').inTable('cas');
    t.string('key_uri', 512).notNullable();
    t.binary('certificate').notNullable();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['ca', 'not_after']);
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['ocsp_responders', 'crl_numbers', 'crls']) await db.schema.dropTableIfExists(table);
}
