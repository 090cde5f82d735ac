import type { Knex } from 'knex';

/**
 * TPM-attested enrollment (docs/tpm-attestation.md).
 *
 * - tpm_challenges: one row per challenge Hallmark hands out (credential activation against the EK,
 *   a nonce for TPM2_Certify): what it was made for (identity, profile, who asked), the TPM public
 *   areas it binds, the SHA-256 of the secret only the TPM can recover, and when it was answered (a
 *   challenge answers once, right or wrong, and expires after `attestation.challengeSeconds`).
 * - tpm_bindings: one TPM (its EK, by the SHA-256 of its public key) binds to one identity; re-provisioning
 *   the device releases it.
 * - devices.ek_id: the EK a factory identity was attested with.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('tpm_challenges', (t) => {
    t.string('id', 32).primary();
    t.string('identity', 128).notNullable();
    t.string('profile', 63).notNullable();
    // token:<id> (a device with its one-time secret) or station:<name>.
    t.string('requester', 160).notNullable();
    t.string('nonce', 128).notNullable();
    t.string('secret_sha256', 64).notNullable();
    t.string('ek_id', 64).notNullable();
    t.binary('ek_certificate');
    t.binary('ek_public').notNullable();
    t.binary('ak_public').notNullable();
    t.binary('key_public').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('answered_at');
    t.index(['expires_at']);
  });
  await db.schema.createTable('tpm_bindings', (t) => {
    t.string('ek_id', 64).primary();
    t.string('identity', 128).notNullable();
    t.string('ek_certificate_serial', 64);
    t.string('ek_issuer', 512);
    t.string('manufacturer', 64);
    t.string('certificate_serial', 42);
    t.bigInteger('bound_at').notNullable();
    t.index(['identity']);
  });
  await db.schema.alterTable('devices', (t) => {
    t.string('ek_id', 64);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('devices', (t) => t.dropColumn('ek_id'));
  await db.schema.dropTable('tpm_bindings');
  await db.schema.dropTable('tpm_challenges');
}
