import { createRequire } from 'node:module';
import { SqliteWithPreparedStatements } from './sqlite-statements.js';
import { DatabaseLostError } from './faults.js';
import type { FileGuard } from './file-guard.js';

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

/** Statements after which what was written must still be in the file at the database's path. */
const WRITES = /^\s*(insert|update|delete|replace|commit|end)\b/i;

export class HallmarkSqliteClient extends SqliteWithPreparedStatements {
  /** The database file's identity (file-guard.ts), set once the file is open. */
  fileGuard?: FileGuard;

  transaction(...args: unknown[]): unknown {
    return new ImmediateTransaction(this, ...args);
  }

  /** Nothing runs on a database file that is gone; a write is not done until the file is known to be the one opened. */
  override async _query(connection: never, obj: { sql?: string; method?: string }): Promise<never> {
    const lost = this.fileGuard?.lost();
    if (lost) throw new DatabaseLostError(lost);
    const result = await super._query(connection, obj as never);
    if (this.fileGuard && (obj.method === 'insert' || obj.method === 'update' || obj.method === 'del' || WRITES.test(obj.sql ?? ''))) this.fileGuard.verify();
    return result as never;
  }

  /** knex.destroy(): the guard stops watching with the pool. */
  override destroy(callback?: unknown): Promise<unknown> {
    this.fileGuard?.close();
    return super.destroy(callback);
  }

  /** Never a new connection to a path whose file is gone: SQLite would create an empty database there. */
  override async acquireRawConnection(): Promise<unknown> {
    const lost = this.fileGuard?.lost();
    if (lost) throw new DatabaseLostError(lost);
    return super.acquireRawConnection();
  }
}
