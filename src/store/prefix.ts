import type { Knex } from 'knex';

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Rows whose `column` starts with `prefix`, exactly: LIKE narrows through the column's index, and
 * substr makes the match exact on both databases (SQLite's LIKE ignores ASCII case, PostgreSQL's does not).
 */
export const whereStartsWith = (q: Knex.QueryBuilder, column: string, prefix: string): Knex.QueryBuilder =>
  q.whereRaw(`?? LIKE ? ESCAPE '\\' AND substr(??, 1, ?) = ?`, [column, `${escapeLike(prefix)}%`, column, prefix.length, prefix]);
