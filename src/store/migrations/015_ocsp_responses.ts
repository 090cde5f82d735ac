import type { Knex } from 'knex';

/**
 * ocsp_responses: one pre-produced OCSP response per certificate (RFC 6960 §4.2.2.1, RFC 5019), shared by
 * every instance. `signed` is the BasicOCSPResponse without its certs (ResponseData, algorithm, signature);
 * `responder` names the responder certificate that goes with it. `status_changed_at` is the certificate's
 * at signing time (0 when it had never changed): a response whose value differs from the certificate's
 * is stale. `signed_at` is how instances load what is new; `next_update` what is due.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('ocsp_responses', (t) => {
    t.string('serial', 42).primary();
    t.string('issuer', 63).notNullable();
    t.binary('signed').notNullable();
    t.string('responder', 42).notNullable();
    t.bigInteger('status_changed_at').notNullable();
    t.bigInteger('this_update').notNullable();
    t.bigInteger('next_update').notNullable();
    t.bigInteger('signed_at').notNullable();
    t.index(['signed_at', 'serial']);
    t.index(['next_update']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('ocsp_responses');
}
