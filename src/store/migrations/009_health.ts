import type { Knex } from 'knex';

/**
 * health: one row per serving instance, written by its status poll (its heartbeat) and by /readyz,
 * which proves the database takes writes. devices.reserved_by: the instance whose request holds a
 * device's reservation, so that a reservation of a dead instance is released as soon as that is known
 * (its process gone from this host, or its heartbeat stopped), not after a fixed time.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('health', (t) => {
    t.string('instance', 200).primary();
    t.bigInteger('checked_at').notNullable();
  });
  await db.schema.alterTable('devices', (t) => {
    t.string('reserved_by', 200).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('devices', (t) => {
    t.dropColumn('reserved_by');
  });
  await db.schema.dropTableIfExists('health');
}
