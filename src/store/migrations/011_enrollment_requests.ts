import type { Knex } from 'knex';

/**
 * enrollment_requests: enrollments held for an operator's approval (RFC 7030 §4.2.3, a label with
 * `manualApproval`). One row per device, label and key: the device repeats its request until it is
 * approved (then issued) or rejected.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('enrollment_requests', (t) => {
    t.string('id', 32).primary();
    t.string('label', 63).notNullable();
    t.string('device', 128).notNullable();
    t.string('key_id', 64).notNullable();
    t.string('subject', 512).notNullable();
    t.string('requested_by', 200).notNullable();
    t.string('source', 64).nullable();
    t.string('status', 16).notNullable();
    t.bigInteger('requested_at').notNullable();
    t.string('decided_by', 200).nullable();
    t.bigInteger('decided_at').nullable();
    t.string('reason', 512).nullable();
    t.string('certificate_serial', 64).nullable();
    t.unique(['label', 'device', 'key_id']);
    t.index(['status', 'requested_at']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('enrollment_requests');
}
