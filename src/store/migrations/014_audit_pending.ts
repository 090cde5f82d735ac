import type { Knex } from 'knex';

/**
 * audit_pending: audit entries appended without taking the chain's head (no lock shared by every
 * issuance, on any instance); the sequencer (audit/sequencer.ts) moves them into audit_events in
 * batches, chaining each onto the head. `id` orders them within a batch.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('audit_pending', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('at').notNullable();
    t.string('actor', 128).notNullable();
    t.string('action', 64).notNullable();
    t.string('target', 256).nullable();
    t.string('outcome', 16).notNullable();
    t.string('source', 64).nullable();
    t.text('details').nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('audit_pending');
}
