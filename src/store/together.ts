import type { Knex } from 'knex';
import { isPostgres } from './db.js';
import type { Handle } from './handle.js';

/**
 * Independent statements of one transaction. On SQLite they are sent at once, so that they cost one
 * round trip instead of one each (under load every round trip waits a turn of a busy event loop), and
 * all are waited for before the first failure is reported: the caller's ROLLBACK must never overtake
 * a statement still on its way, or that statement would run after it, outside the transaction
 * (node-sqlite3 runs a connection's statements in parallel mode). On PostgreSQL they run one after
 * another: node-postgres answers one query at a time per connection anyway, and queueing a second
 * while one runs is deprecated (it warns, and pg 9 refuses).
 */
export async function together(db: Knex | Knex.Transaction | Handle, statements: (() => PromiseLike<unknown>)[]): Promise<void> {
  if (isPostgres(db as Knex)) {
    for (const statement of statements) await statement();
    return;
  }
  const outcomes = await Promise.allSettled(statements.map((statement) => statement()));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
}
