import fs from 'node:fs';
import path from 'node:path';
import { createPrivateDatabaseFile, keepHomePrivate, SQLITE_FILE } from './private-home.js';
import { guardDatabaseFile, type FileGuard } from './file-guard.js';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from './migrations/index.js';
import { HallmarkSqliteClient } from './sqlite-client.js';
import { asStore, sql, type Handle, type Store } from './handle.js';

// BIGINT columns hold epoch milliseconds, well inside Number's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export type Db = Knex;

/**
 * knex's own warnings (a connection that could not be made and is retried, say) go to stderr: stdout
 * carries the CLI's output, JSON lines under --json, which a stray line would break.
 */
const KNEX_LOG: Knex.Config['log'] = {
  warn: (message: unknown) => void process.stderr.write(`knex: ${String(message)}\n`),
  error: (message: unknown) => void process.stderr.write(`knex: ${String(message)}\n`),
  deprecate: (method: string, alternative: string) => void process.stderr.write(`knex: ${method} is deprecated, use ${alternative}\n`),
  debug: () => undefined,
};

export interface DatabaseOptions {
  /** `postgres://…`; unset means SQLite in `home`. */
  url?: string;
  home: string;
  /** PostgreSQL schema to work in (created when missing); tests use one each. */
  schema?: string;
}

export const isPostgres = (db: Db) => db.client.config.client === 'pg';

/**
 * Set on every SQLite connection. WAL lets the CLI read while `serve` writes; busy_timeout makes a second
 * writer wait at BEGIN IMMEDIATE. synchronous = FULL: every COMMIT syncs the WAL before it returns. With
 * NORMAL, WAL is synced only at checkpoints, and a commit "might roll back following a power loss or
 * system crash" (SQLite, PRAGMA synchronous): a certificate already handed to a device would vanish from
 * the CA's records.
 */
// busy_timeout first: setting the journal mode reads the database, and another process holding it (a
// restart while the CLI writes) would otherwise fail the connection at once with SQLITE_BUSY.
const SQLITE_PRAGMAS = 'PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;';

interface PgConnection {
  query(sql: string, callback: (e: Error | null, result?: { rows: { setting: string }[] }) => void): void;
}

/**
 * A certificate is on disk before it is returned: PostgreSQL's COMMIT waits for its WAL flush unless
 * `synchronous_commit` is off, which a server (or a role, or the URL's `options`) may set for speed,
 * losing the last commits to a crash of its machine. Hallmark's sessions then set it back to on. Other
 * values (local, remote_write, on, remote_apply) all flush locally and are left as the operator chose.
 */
function commitDurably(conn: PgConnection, done: (e: Error | null, c: unknown) => void): void {
  conn.query("SELECT current_setting('synchronous_commit') AS setting", (e, result) => {
    if (e) return done(e, conn);
    if (result?.rows[0]?.setting !== 'off') return done(null, conn);
    conn.query('SET synchronous_commit = on', (setError) => done(setError, conn));
  });
}

/** Opens the database and brings its schema up to date (numbered migrations). */
export async function openDatabase(options: DatabaseOptions): Promise<Db> {
  let db: Db;
  if (options.url) {
    // The database is elsewhere; the home still holds the TLS key and the token.
    if (fs.existsSync(options.home)) keepHomePrivate(options.home);
    db = knexFactory({
      client: 'pg',
      connection: options.url,
      searchPath: options.schema ? [options.schema] : undefined,
      pool: { min: 0, max: 10, afterCreate: commitDurably },
      log: KNEX_LOG,
    });
    if (options.schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [options.schema]);
  } else {
    keepHomePrivate(options.home);
    const filename = createPrivateDatabaseFile(options.home);
    db = knexFactory({
      // knex's sqlite3 client, keeping each statement prepared and beginning transactions IMMEDIATE (sqlite-client.ts).
      client: HallmarkSqliteClient as unknown as typeof Knex.Client,
      connection: { filename },
      useNullAsDefault: true,
      log: KNEX_LOG,
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: { exec(sql: string, cb: (e: Error | null) => void): void }, done: (e: Error | null, c: unknown) => void) =>
          conn.exec(SQLITE_PRAGMAS, (e) => done(e, conn)),
      },
    });
  }
  try {
    await db.migrate.latest({ migrationSource });
  } catch (e) {
    await db.destroy();
    throw new Error(`cannot prepare the database (${options.url ? 'PostgreSQL' : 'SQLite'}): ${(e as Error).message}`);
  }
  if (!options.url) {
    // From here on, the file at the path must stay the one opened (file-guard.ts).
    const guard = guardDatabaseFile(path.join(options.home, SQLITE_FILE));
    (db.client as HallmarkSqliteClient).fileGuard = guard;
  }
  return db;
}

/** The database as the rest of Hallmark holds it (handle.ts). */
export const openStore = async (options: DatabaseOptions): Promise<Store> => asStore(await openDatabase(options));

/** The SQLite file's guard (undefined on PostgreSQL): readiness and the lost-database alert read it. */
export const databaseFileGuard = (handle: Handle): FileGuard | undefined => (sql(handle).client as Partial<HallmarkSqliteClient>).fileGuard;
