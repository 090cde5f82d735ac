import { migrationSource } from './migrations/index.js';
import { storageFault } from './faults.js';
import type { Db } from './db.js';
import { databaseFileGuard } from './db.js';

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
export function createStorageProbe(db: Db, instance: string, now: () => number, writeEveryMs = 5000) {
  let lastWrite = { at: -Infinity, result: 'ok' };
  let latest: string | undefined;
  return async (): Promise<StorageChecks> => {
    const checks: StorageChecks = { database: 'ok', 'database write': 'ok', schema: 'ok' };
    const lost = databaseFileGuard(db)?.lost();
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
        await heartbeat(db, instance, at);
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
export const heartbeat = (db: Db, instance: string, at: number) => db('health').insert({ instance, checked_at: at }).onConflict('instance').merge();

/** A clean stop: this instance holds nothing any more. */
export const forgetInstance = (db: Db, instance: string) => db('health').where({ instance }).del();
