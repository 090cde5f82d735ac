import { sql, type Handle } from './handle.js';
import { migrationSource } from './migrations/index.js';
import { storageFault } from './faults.js';
import { databaseFileGuard } from './db.js';

export { databaseFileGuard } from './db.js';

/** Readiness of the database, each check 'ok' or what is wrong. */
export interface StorageChecks {
  database: string;
  'database write': string;
  schema: string;
}

const describe = (e: unknown) => storageFault(e) ?? (e as Error)?.message ?? String(e);

/**
 * What /readyz asks of the database: the file is the one opened (SQLite), it answers, its schema is
 * this build's, and it takes a write (a row of the health table, at most once per `writeEveryMs`; the
 * answer in between is the last one).
 */
export function createStorageProbe(db_: Handle, instance: string, now: () => number, writeEveryMs = 5000) {
  const db = sql(db_);
  let lastWrite = { at: -Infinity, result: 'ok' };
  let latest: string | undefined;
  return async (): Promise<StorageChecks> => {
    const checks: StorageChecks = { database: 'ok', 'database write': 'ok', schema: 'ok' };
    const lost = databaseFileGuard(db_)?.lost();
    if (lost) return { database: `lost: ${lost}`, 'database write': 'not tried', schema: 'not tried' };
    try {
      latest ??= (await migrationSource.getMigrations([])).at(-1);
      const applied = (await db('knex_migrations').max({ name: 'name' }))[0]?.name as string | undefined;
      if (applied !== latest) checks.schema = `at ${applied ?? 'nothing'}, this build needs ${latest}`;
    } catch (e) {
      checks.database = `unavailable: ${describe(e)}`;
      return { ...checks, 'database write': 'not tried', schema: 'not tried' };
    }
    const at = now();
    if (at - lastWrite.at >= writeEveryMs) {
      try {
        await heartbeat(db_, instance, at);
        lastWrite = { at, result: 'ok' };
      } catch (e) {
        lastWrite = { at, result: `refused: ${describe(e)}` };
      }
    }
    checks['database write'] = lastWrite.result;
    return checks;
  };
}

/** This instance is alive at `at` (the status poll writes it; reservations of instances that stop are taken over). */
export const heartbeat = (handle: Handle, instance: string, at: number) => sql(handle)('health').insert({ instance, checked_at: at }).onConflict('instance').merge();

/** A clean stop: this instance holds nothing any more. */
export const forgetInstance = (handle: Handle, instance: string) => sql(handle)('health').where({ instance }).del();

/** When an instance last wrote its heartbeat, if it ever did. */
export async function lastHeartbeat(handle: Handle, instance: string): Promise<number | undefined> {
  const beat = (await sql(handle)('health').where({ instance }).first('checked_at')) as { checked_at: number } | undefined;
  return beat ? Number(beat.checked_at) : undefined;
}
