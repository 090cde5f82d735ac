import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { openDatabase, type Db } from '../../src/store/db.js';
import { randomName } from './hsm.js';

/** PostgreSQL for tests: this machine's server (trust auth, database `test`) unless overridden. */
export const TEST_POSTGRES_URL = process.env.HALLMARK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** DATABASE_URL for the process under test (undefined: SQLite under HALLMARK_HOME). */
  url?: string;
  /** PostgreSQL schema this test owns (search_path), dropped by cleanup. */
  schema?: string;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  return { name: 'sqlite', cleanup: async () => {} };
}

/** A schema of its own on the shared server, so parallel test files never see each other's rows. */
export function postgresBackend(): Backend {
  const schema = randomName('hm_test_');
  return {
    name: 'postgres',
    url: TEST_POSTGRES_URL,
    schema,
    async cleanup() {
      const db = knexFactory({ client: 'pg', connection: TEST_POSTGRES_URL });
      try {
        await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      } finally {
        await db.destroy();
      }
    },
  };
}

export const BACKENDS = [sqliteBackend, postgresBackend];

/**
 * A database of its own on `backend`, migrated, in a temporary home named from `prefix`; closed, its
 * schema dropped and the home removed after `work`, whatever it does.
 */
export async function withTemporaryDatabase(backend: Backend, prefix: string, work: (db: Db) => Promise<void>): Promise<void> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const db = await openDatabase({ home, url: backend.url, schema: backend.schema });
  try {
    await work(db);
  } finally {
    await db.destroy();
    await backend.cleanup();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/**
 * A DATABASE_URL that selects the schema for processes (CLI, serve) through libpq's options, with any
 * other session settings given (`{ synchronous_commit: 'off' }` becomes `-c synchronous_commit=off`).
 */
export function urlWithSchema(backend: Backend, settings: Record<string, string> = {}): string | undefined {
  if (!backend.url) return undefined;
  const url = new URL(backend.url);
  const options = Object.entries({ search_path: backend.schema!, ...settings }).map(([name, value]) => `-c ${name}=${value}`);
  url.searchParams.set('options', options.join(' '));
  return url.toString();
}
