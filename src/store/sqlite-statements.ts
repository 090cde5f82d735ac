import { createRequire } from 'node:module';

/**
 * knex's SQLite client, with each connection keeping its prepared statements.
 *
 * knex runs every query through node-sqlite3's `Database#run`/`#all`, which prepares a new statement,
 * runs it and finalizes it: three trips to libuv's thread pool, each of which must wait for a turn of
 * the event loop to come back. Under load (an HTTPS server parsing requests on the same loop) a trip
 * costs most of a millisecond, and a transaction of four statements took 10 ms for a dozen rows.
 * Here a statement is prepared once per SQL text and connection, and reused: one trip per query (bind
 * and step are one work item), and no re-compilation of the multi-row INSERTs the issuance path sends
 * (`insert-many.ts` writes one SQL text per shape, so the same texts come back).
 *
 * Safe to reuse because node-sqlite3 resets a statement before binding it again (statement.cc,
 * `Work_Run`/`Work_All`), queues the runs of one statement one after another, and `run`/`all` step to
 * SQLITE_DONE, so a cached statement holds no lock between uses. A statement that failed is dropped
 * (finalized) rather than trusted again. The cache is bounded per connection (least recently used
 * out), since multi-row statements differ by row count.
 */
const require = createRequire(import.meta.url);
// knex has no exports map; its SQLite dialect is a CommonJS class.
const KnexSqlite3 = require('knex/lib/dialects/sqlite3/index.js') as new (config: unknown) => { destroyRawConnection(connection: unknown): Promise<void>; acquireRawConnection(): Promise<unknown>; destroy(callback?: unknown): Promise<unknown> };

interface Statement {
  run(bindings: unknown, callback: (this: { lastID: number; changes: number }, err: Error | null) => void): void;
  all(bindings: unknown, callback: (err: Error | null, rows: unknown[]) => void): void;
  finalize(callback?: () => void): void;
}

interface Connection {
  prepare(sql: string, callback: (err: Error | null) => void): Statement;
  [cache]?: Map<string, Prepared>;
}

/**
 * A statement and the callers waiting for it to be prepared: when preparing fails, node-sqlite3
 * drops the calls queued on the statement without calling them back (statement.cc, CleanQueue), so
 * they are told here.
 */
interface Prepared {
  statement: Statement;
  waiting: Set<(err: Error) => void> | null;
}

interface QueryObject {
  sql?: string;
  bindings?: unknown[];
  method?: string;
  returning?: unknown;
  response?: unknown;
  context?: { lastID: number; changes: number };
}

const cache = Symbol('prepared statements');

/** Statements kept per connection: every shape of the hot path, with room to spare. */
export const STATEMENTS_PER_CONNECTION = 200;

function preparedFor(connection: Connection, sql: string): Prepared {
  const statements = (connection[cache] ??= new Map());
  let entry = statements.get(sql);
  if (entry) {
    // Most recently used last: a Map keeps insertion order.
    statements.delete(sql);
  } else {
    const prepared: Prepared = { statement: undefined as unknown as Statement, waiting: new Set() };
    prepared.statement = connection.prepare(sql, (err) => {
      const waiting = prepared.waiting!;
      prepared.waiting = null;
      if (!err) return;
      if (statements.get(sql) === prepared) statements.delete(sql);
      for (const fail of waiting) fail(err);
    });
    entry = prepared;
    if (statements.size >= STATEMENTS_PER_CONNECTION) {
      const [oldest, old] = statements.entries().next().value!;
      statements.delete(oldest);
      // Queued behind any call still waiting on it (node-sqlite3 runs a statement's calls in order).
      old.statement.finalize();
    }
  }
  statements.set(sql, entry);
  return entry;
}

function forget(connection: Connection, sql: string, entry: Prepared): void {
  if (connection[cache]?.get(sql) === entry) connection[cache].delete(sql);
  entry.statement.finalize();
}

/** The statements `connection` holds prepared (tests). */
export const preparedStatementCount = (connection: unknown): number => (connection as Connection)[cache]?.size ?? 0;

export class SqliteWithPreparedStatements extends KnexSqlite3 {
  /**
   * SQLite refuses to close a connection that still has statements (node-sqlite3 calls sqlite3_close,
   * which then fails; knex swallows the error and the file stays open, WAL and all): they are finalized
   * first. No query runs on a connection being destroyed, so every statement held is prepared.
   */
  override async destroyRawConnection(connection: unknown): Promise<void> {
    const held = (connection as Connection)[cache];
    const statements = [...(held?.values() ?? [])];
    held?.clear();
    await Promise.all(statements.map((entry) => (entry.waiting ? entry.statement.finalize() : new Promise<void>((resolve) => entry.statement.finalize(resolve)))));
    return super.destroyRawConnection(connection);
  }

  /** Same contract as knex's: resolves `obj` with `response` (rows or nothing) and `context` (lastID, changes). */
  _query(connection: Connection, obj: QueryObject): Promise<QueryObject> {
    const { sql } = obj;
    if (!sql) return Promise.reject(new Error('The query is empty'));
    // knex's choice of call: statements that return rows are read to the end with `all`.
    const returnsRows = !((obj.method === 'insert' || obj.method === 'update') && !obj.returning) && obj.method !== 'counter' && obj.method !== 'del';
    return new Promise((resolve, reject) => {
      const entry = preparedFor(connection, sql);
      const { statement, waiting } = entry;
      waiting?.add(reject);
      if (returnsRows) {
        statement.all(obj.bindings, (err, rows) => {
          waiting?.delete(reject);
          if (err) {
            forget(connection, sql, entry);
            return reject(err);
          }
          obj.response = rows;
          obj.context = { lastID: 0, changes: 0 };
          resolve(obj);
        });
      } else {
        statement.run(obj.bindings, function (err) {
          waiting?.delete(reject);
          if (err) {
            forget(connection, sql, entry);
            return reject(err);
          }
          // Copied now: the statement object's fields are overwritten by its next run.
          obj.context = { lastID: this.lastID, changes: this.changes };
          resolve(obj);
        });
      }
    });
  }
}
