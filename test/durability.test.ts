import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import knexFactory from 'knex';
import { openDatabase } from '../src/store/db.js';
import { postgresBackend, urlWithSchema } from './helpers/backends.js';

const run = promisify(execFile);

/**
 * A certificate is recorded before it is returned, and recorded means on disk: every COMMIT syncs the
 * WAL (synchronous = FULL, src/store/db.ts). With NORMAL, WAL mode syncs only at checkpoints and a
 * commit can be rolled back by a power loss, which no test can cut; so the syncs are counted instead,
 * with strace, in a process that commits COMMITS transactions on a database already made.
 */
test('every SQLite commit is synced to disk before it returns (synchronous = FULL)', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-durable-'));
  const db = await openDatabase({ home });
  try {
    const [{ synchronous }] = (await db.raw('PRAGMA synchronous')) as { synchronous: number }[];
    assert.equal(synchronous, 2, 'PRAGMA synchronous should be FULL (2)');
    const COMMITS = 20;
    const trace = path.join(home, 'syncs.trace');
    const writer = path.join(import.meta.dirname, 'helpers', 'audit-writer.js');
    await run('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, writer, home, String(COMMITS)]);
    const syncs = fs.readFileSync(trace, 'utf8').split('\n').filter((line) => /\b(fsync|fdatasync)\(/.test(line)).length;
    // Under NORMAL these 20 small commits sync nothing (no checkpoint is due): 0 here, measured.
    assert.ok(syncs >= COMMITS, `${syncs} syncs for ${COMMITS} commits`);
  } finally {
    await db.destroy();
    fs.rmSync(home, { recursive: true, force: true });
  }
});

/**
 * PostgreSQL's COMMIT waits for its WAL flush unless `synchronous_commit` is off; a server, a role or the
 * URL can set it off. Hallmark's sessions set it back to on (src/store/db.ts) and leave other values be.
 */
test('PostgreSQL: Hallmark commits with synchronous_commit on even where the server or URL says off', async () => {
  const backend = postgresBackend();
  const urlWith = (value: string) => urlWithSchema(backend, { synchronous_commit: value })!;
  const setting = async (db: { raw(sql: string): Promise<{ rows: { synchronous_commit: string }[] }> }) => (await db.raw('SHOW synchronous_commit')).rows[0]!.synchronous_commit;
  // The URL does turn it off for a plain connection (else this test could not fail).
  const plain = knexFactory({ client: 'pg', connection: urlWith('off') });
  try {
    assert.equal(await setting(plain), 'off');
  } finally {
    await plain.destroy();
  }
  try {
    for (const [asked, expected] of [['off', 'on'], ['local', 'local'], ['remote_apply', 'remote_apply']] as const) {
      const db = await openDatabase({ home: os.tmpdir(), url: urlWith(asked), schema: backend.schema });
      try {
        // Several pooled connections, each created through the pool: every one of them says so.
        const settings = await Promise.all(Array.from({ length: 4 }, () => db.transaction((trx) => setting(trx as never))));
        assert.deepEqual(settings, [expected, expected, expected, expected], `asked ${asked}`);
      } finally {
        await db.destroy();
      }
    }
  } finally {
    await backend.cleanup();
  }
});
