import type { Knex } from 'knex';

/**
 * SCEP (RFC 8894, docs/scep.md): one row per transactionID (§3.2.1.1: unique per enrollment), so a
 * replayed PKCSReq is refused and a client's CertPoll finds its request: state issued (the certificate
 * in `serial`), pending (held for an operator: the request as decrypted in `request`, the held
 * enrollment in `held_request`, the one-time secret in `secret_id`), failed or rejected.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('scep_transactions', (t) => {
    t.string('transaction_id', 128).primary();
    t.string('label', 63).notNullable();
    t.string('device', 128);
    t.string('message_type', 4).notNullable();
    t.string('state', 12).notNullable();
    t.string('serial', 42);
    t.string('secret_id', 32);
    t.string('held_request', 32);
    t.binary('request');
    t.bigInteger('created_at').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('scep_transactions');
}
