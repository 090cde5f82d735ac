import { createRequire } from 'node:module';
import { SqliteWithPreparedStatements } from './sqlite-statements.js';

/**
 * The SQLite client Hallmark opens: statements kept prepared (sqlite-statements.ts), and every
 * transaction begun with `BEGIN IMMEDIATE`.
 *
 * `hallmark serve` and the CLI are separate processes writing one file. knex begins with a plain
 * (deferred) `BEGIN`, so a transaction that reads before it writes (the audit log reads its head, then
 * appends) holds a read snapshot when it asks for the write lock; if another process wrote meanwhile,
 * SQLite answers SQLITE_BUSY at once and does not call the busy handler, since waiting could deadlock
 * (https://www.sqlite.org/lang_transaction.html, "Read transactions versus write transactions"). Two
 * processes appending audit events lost about a third of their transactions that way. Taking the
 * write lock at BEGIN makes a second writer wait there, under `busy_timeout`, instead.
 */
const require = createRequire(import.meta.url);
// knex has no exports map; its SQLite transaction is a CommonJS class.
const KnexSqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction.js') as new (...args: unknown[]) => {
  query(connection: unknown, sql: string): Promise<unknown>;
};

class ImmediateTransaction extends KnexSqliteTransaction {
  /** Called for the outermost transaction only; nested ones are savepoints inside it. */
  begin(connection: unknown): Promise<unknown> {
    return this.query(connection, 'BEGIN IMMEDIATE;');
  }
}

export class HallmarkSqliteClient extends SqliteWithPreparedStatements {
  transaction(...args: unknown[]): unknown {
    return new ImmediateTransaction(this, ...args);
  }
}
