import { sql, type Handle } from './handle.js';
import { isUniqueViolation } from './unique-violation.js';

/** Inserts a row whose key must be new; false (nothing written) when the key exists already. */
export async function insertOnce(handle: Handle, table: string, row: object): Promise<boolean> {
  try {
    await sql(handle)(table).insert(row);
    return true;
  } catch (e) {
    if (isUniqueViolation(e)) return false;
    throw e;
  }
}
