import type { Knex } from 'knex';

/**
 * CMP (RFC 9483, docs/cmp.md).
 *
 * - enrollment_tokens.sealed_secret: a one-time secret made for CMP (`hallmark token create --cmp`) is
 *   also kept sealed under the token's AES key (never in clear): a PasswordBasedMac is checked with the
 *   secret itself, not its hash. Secrets for EST keep their hash only.
 * - cmp_transactions: one row per transactionID (RFC 9810 §5.1.1: unique per transaction), kept so a
 *   replayed or reused transactionID is refused, and a certificate waits for its certConf: state
 *   waiting (certificate issued, not yet confirmed; revoked when not confirmed by `confirm_by`),
 *   confirmed, rejected (the client said no: revoked), done (nothing to confirm), polling (held for an
 *   operator's approval: the request as sent is kept in `request`, the held enrollment in
 *   `held_request`, and the client polls, RFC 9483 §4.4).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('enrollment_tokens', (t) => {
    t.binary('sealed_secret');
  });
  await db.schema.createTable('cmp_transactions', (t) => {
    t.string('transaction_id', 128).primary();
    t.string('label', 63).notNullable();
    t.string('sender', 255).notNullable();
    t.string('request_type', 8).notNullable();
    // The client's senderNonce of its last message and ours of the last answer (replay, RFC 9810 §5.1.1).
    t.string('client_nonce', 128);
    t.string('server_nonce', 128);
    t.string('state', 12).notNullable();
    t.string('serial', 42);
    t.string('cert_hash', 128);
    // How the request was protected: mac (a one-time secret, its id in secret_id) or signature.
    t.string('protection', 12).notNullable();
    t.string('secret_id', 32);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('confirm_by');
    t.binary('request');
    t.string('held_request', 32);
    t.index(['state', 'confirm_by']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('cmp_transactions');
  await db.schema.alterTable('enrollment_tokens', (t) => t.dropColumn('sealed_secret'));
}
