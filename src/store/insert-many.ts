import type { Knex } from 'knex';
import { namedWhenFull, nameOfText } from './pg-prepared.js';

/**
 * Multi-row INSERT with the SQL written once per table, column list and row count, then reused: the
 * hot issuance path inserts thousands of rows a second, and knex's query builder spent more time
 * compiling those statements (quoting every column of every row) than the database spent on them.
 * Values are still bound parameters; missing values are NULL. Same statement on SQLite and PostgreSQL
 * (knex turns `?` into `$n` for pg).
 */
const statements = new Map<string, { sql: string; name?: string }>();

/**
 * Rows (or keys of an IN list) per statement on the batch paths: with the widest of those rows
 * (devices, 13 columns) well inside SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
 */
export const ROWS_PER_STATEMENT = 400;

function statement(table: string, columns: string[], rowCount: number, tail: string): { sql: string; name?: string } {
  const key = `${table}\0${columns.join('\0')}\0${rowCount}\0${tail}`;
  let entry = statements.get(key);
  if (!entry) {
    const row = `(${columns.map(() => '?').join(',')})`;
    entry = { sql: `insert into "${table}" (${columns.map((c) => `"${c}"`).join(',')}) values ${Array.from({ length: rowCount }, () => row).join(',')}${tail}` };
    if (statements.size > 256) statements.clear();
    statements.set(key, entry);
  }
  return entry;
}

/**
 * Inserts `rows` into `table`, `perStatement` rows at a time (keep rows × columns under 32,766 for SQLite).
 * `onConflict`, when given, is the statement's ON CONFLICT clause (an upsert; same syntax on both databases).
 */
export async function insertMany(db: Knex | Knex.Transaction, table: string, rows: Record<string, unknown>[], perStatement: number, onConflict = ''): Promise<void> {
  if (!rows.length) return;
  const columnSet = new Set<string>();
  for (const row of rows) for (const column in row) columnSet.add(column);
  const columns = [...columnSet];
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const bindings: unknown[] = new Array(chunk.length * columns.length);
    let b = 0;
    for (const row of chunk) for (const column of columns) bindings[b++] = row[column] ?? null;
    const entry = statement(table, columns, chunk.length, onConflict && ` ${onConflict}`);
    // Full chunks go as a named (prepared) statement on PostgreSQL: see pg-prepared.ts.
    await namedWhenFull(db, db.raw(entry.sql, bindings as Knex.RawBinding[]), chunk.length, perStatement, () => (entry.name ??= nameOfText(entry.sql)));
  }
}
