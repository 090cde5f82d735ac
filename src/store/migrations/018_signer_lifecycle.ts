import type { Knex } from 'knex';

/**
 * Signer rollover, retirement and revocation (docs/firmware-signing.md, "Signer lifecycle").
 *
 * - signers.profile: the profile its certificates are made under (the product line it may sign for).
 * - signers.status: active (signs), retired (for good: certificate revoked cessationOfOperation, key
 *   destroyed) or revoked (key compromised: certificate revoked, key destroyed; a rollover gives the
 *   signer a new key). signers.generation counts the signer's keys.
 * - signer_keys: the signer's earlier keys, one row each, moved here by a rollover. A key replaced in
 *   a rollover stays verifiable (its certificate not revoked) until `verifiable_until`; then its
 *   certificate is revoked as superseded. Its key signs nothing after the rollover and is destroyed then.
 * - releases.signer_serial: the certificate whose key signed the release (null while pending), so that
 *   a release keeps answering with its own chain after the signer rolls over.
 * - releases rejected: a pending release a second person refused (or whose signer was retired or
 *   revoked before approval): status rejected, by whom, when and why. A rejected release holds back no
 *   later version (rollback check) and is never signed.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('signers', (t) => {
    t.string('status', 8).notNullable().defaultTo('active');
    t.integer('generation').notNullable().defaultTo(1);
    t.bigInteger('status_changed_at');
    // The profile its certificates are made under (its product line, key types, validity).
    t.string('profile', 63);
  });
  await db.schema.createTable('signer_keys', (t) => {
    t.string('serial', 42).primary();
    t.string('signer', 63).notNullable().references('name').inTable('signers');
    t.integer('generation').notNullable();
    t.string('ca', 63).notNullable();
    t.string('key_uri', 255).notNullable();
    t.string('key_type', 16).notNullable();
    t.binary('certificate').notNullable();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    // overlap: verifiable until then; superseded: certificate revoked as superseded after the overlap;
    // revoked: replaced after a compromise (its certificate was revoked before the rollover).
    t.string('state', 12).notNullable();
    t.bigInteger('replaced_at').notNullable();
    t.bigInteger('verifiable_until');
    t.unique(['signer', 'generation']);
    t.index(['state', 'verifiable_until']);
  });
  await db.schema.alterTable('releases', (t) => {
    t.string('signer_serial', 42);
    t.string('rejected_by', 255);
    t.bigInteger('rejected_at');
    t.text('rejection_reason');
  });
  await db.raw(`UPDATE signers SET profile = (SELECT profile FROM certificates WHERE certificates.serial = signers.serial)`);
  // Every release signed so far was signed by its signer's one key.
  await db.raw(`UPDATE releases SET signer_serial = (SELECT serial FROM signers WHERE signers.name = releases.signer) WHERE status = 'signed'`);
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('releases', (t) => {
    for (const column of ['rejection_reason', 'rejected_at', 'rejected_by', 'signer_serial']) t.dropColumn(column);
  });
  await db.schema.dropTable('signer_keys');
  await db.schema.alterTable('signers', (t) => {
    t.dropColumn('profile');
    t.dropColumn('status_changed_at');
    t.dropColumn('generation');
    t.dropColumn('status');
  });
}
