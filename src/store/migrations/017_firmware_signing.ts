import type { Knex } from 'knex';

/**
 * Firmware signing (docs/firmware-signing.md). `signers`: named signing keys on the token, each with a
 * certificate from a CA: code-signing (`purpose` firmware, the `firmware-signer` profile) or the
 * time-stamping authority's (`purpose` tsa, the `tsa` profile). `releases`: one record per signed
 * artifact, written before the signature is returned: who asked, the digest, product, channel, version,
 * signer, format and the signature itself. One record per (digest, signer, format, product, channel):
 * asking again answers the same record (the same image promoted to another channel is a record of its own). Versions per (product, channel) only rise (rollback protection) unless overridden.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('signers', (t) => {
    t.string('name', 63).primary();
    t.string('ca', 63).notNullable();
    t.string('key_uri', 255).notNullable();
    t.string('key_type', 16).notNullable();
    t.string('purpose', 16).notNullable().defaultTo('firmware');
    // Two-person rule: a release signs only after a second, different principal approves it.
    t.boolean('two_person').notNullable().defaultTo(false);
    t.string('serial', 42).notNullable();
    t.binary('certificate').notNullable();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    t.string('created_by', 255).notNullable();
    t.bigInteger('created_at').notNullable();
  });
  await db.schema.createTable('releases', (t) => {
    t.increments('id').primary();
    t.string('signer', 63).notNullable().references('name').inTable('signers');
    t.string('product', 63).notNullable();
    t.string('channel', 63).notNullable();
    t.string('version', 63).notNullable();
    t.string('digest_algorithm', 8).notNullable();
    t.string('digest', 128).notNullable();
    t.string('format', 8).notNullable();
    // A CMS signature carrying a time-stamp token over its value (RFC 3161 appendix A).
    t.boolean('timestamped').notNullable().defaultTo(false);
    // pending (waiting for a second person's approval: no signature yet) or signed.
    t.string('status', 8).notNullable();
    t.binary('signature');
    t.text('metadata').notNullable();
    t.text('override_reason');
    t.string('requested_by', 255).notNullable();
    t.string('approved_by', 255);
    t.bigInteger('approved_at');
    t.bigInteger('created_at').notNullable();
    t.unique(['digest', 'digest_algorithm', 'signer', 'format', 'product', 'channel']);
    t.index(['product', 'channel']);
  });
  // RFC 3161 time-stamps handed out: serials are unique by the primary key, and what was stamped is kept.
  await db.schema.createTable('timestamps', (t) => {
    t.string('serial', 42).primary();
    t.bigInteger('gen_time').notNullable();
    t.string('hash_algorithm', 8).notNullable();
    t.string('imprint', 128).notNullable();
    t.string('signer', 63).notNullable();
    t.string('source', 64);
    t.index(['gen_time']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('timestamps');
  await db.schema.dropTable('releases');
  await db.schema.dropTable('signers');
}
