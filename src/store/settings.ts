import { isUniqueViolation } from './unique-violation.js';
import { sql, type Handle } from './handle.js';

/** Small named values shared by instances: recorded digests, claims on periodic jobs. */

export const readSetting = async (handle: Handle, name: string): Promise<string | undefined> => ((await sql(handle)('settings').where({ name }).first()) as { value: string } | undefined)?.value;

export const writeSetting = async (handle: Handle, name: string, value: string): Promise<void> =>
  void (await sql(handle)('settings').insert({ name, value }).onConflict('name').merge());

/**
 * Claims a periodic job for this instant across instances: the row's value moves forward only for
 * the one instance whose compare-and-set succeeds, so several instances run it once. The very first
 * claim records the time and runs the job only when `fireOnFirst`.
 */
export async function claimPeriod(handle: Handle, name: string, period: number, now: number, fireOnFirst: boolean): Promise<boolean> {
  const db = sql(handle);
  const row = await db('settings').where({ name }).first();
  if (!row) {
    try {
      await db('settings').insert({ name, value: String(now) });
    } catch (e) {
      if (isUniqueViolation(e)) return false; // another instance got there first
      throw e;
    }
    return fireOnFirst;
  }
  if (Number(row.value) + period > now) return false;
  return (await db('settings').where({ name, value: row.value }).update({ value: String(now) })) === 1;
}
