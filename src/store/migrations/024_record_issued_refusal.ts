import type { Knex } from 'knex';

/**
 * PostgreSQL: `hallmark_refuse(message)` raises an error with that message, so that one statement can
 * undo its own writes when a check on them fails. Recording signed certificates uses it
 * (store/certificates.ts, ISSUED_PG): the statement updates each intent found pending and, when any was
 * not, fails as a whole, so nothing is recorded unless everything is. SQLite records them with a
 * condition in the UPDATE itself and needs no such thing.
 */
// As store/db.ts's isPostgres, which a migration cannot import (db.ts imports the migrations).
const isPostgres = (db: Knex) => db.client.config.client === 'pg';

export async function up(db: Knex): Promise<void> {
  if (!isPostgres(db)) return;
  await db.raw(`CREATE FUNCTION hallmark_refuse(message text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION USING MESSAGE = message;
END $$`);
}

export async function down(db: Knex): Promise<void> {
  if (isPostgres(db)) await db.raw('DROP FUNCTION IF EXISTS hallmark_refuse(text)');
}
