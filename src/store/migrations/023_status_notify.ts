import type { Knex } from 'knex';

/**
 * PostgreSQL: a statement that changes certificates' status (it sets status_changed_at: a revocation, a
 * hold, a release, a fleet-wide revocation) sends one NOTIFY on `hallmark_status`, its payload the
 * schema, delivered to every listening instance when the transaction commits. The instances then look
 * for the changes at once instead of waiting for their next status poll (store/status-notifications.ts).
 * Statement-level, so a revocation of thousands is one notification. Issuance never sets the column and
 * sends none, and must not: a transaction that notified takes, as it commits, the one lock that orders
 * all notifying commits of the server (PostgreSQL's PreCommit_Notify), which would put every issuance
 * behind every other (docs/operators.md, "no issuance takes a lock another issuance needs").
 * Status changes are rare beside issuance. SQLite has no NOTIFY; its instances (`serve --workers`) poll.
 */
// As store/db.ts's isPostgres, which a migration cannot import (db.ts imports the migrations).
const isPostgres = (db: Knex) => db.client.config.client === 'pg';

export async function up(db: Knex): Promise<void> {
  if (!isPostgres(db)) return;
  await db.raw(`CREATE FUNCTION hallmark_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hallmark_status', TG_TABLE_SCHEMA);
  RETURN NULL;
END $$`);
  await db.raw(`CREATE TRIGGER certificates_status_notify AFTER UPDATE OF status_changed_at ON certificates
  FOR EACH STATEMENT EXECUTE FUNCTION hallmark_status_changed()`);
}

export async function down(db: Knex): Promise<void> {
  if (!isPostgres(db)) return;
  await db.raw('DROP TRIGGER IF EXISTS certificates_status_notify ON certificates');
  await db.raw('DROP FUNCTION IF EXISTS hallmark_status_changed()');
}
