import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import knexFactory from 'knex';
import { makeTestHome } from './helpers/hsm.js';
import { postgresBackend, TEST_POSTGRES_URL } from './helpers/backends.js';
import { configCopy, startInProcess } from './helpers/in-process.js';
import { until } from './helpers/until.js';

// A poll left running after close() goes on writing into a store its owner is closing or dropping
// (bench:fleet saw "relation health does not exist"). The poll is held up on a table nothing in close()
// touches (crls, read by the CRL refresh at the end of each poll), so close() has no other reason to wait.
test('close() returns only after the poll under way has finished (PostgreSQL)', async () => {
  const home = await makeTestHome(['closing']);
  const backend = postgresBackend();
  const holder = knexFactory({ client: 'pg', connection: TEST_POSTGRES_URL, pool: { min: 1, max: 2 } });
  let hm: Awaited<ReturnType<typeof startInProcess>> | undefined;
  try {
    const configFile = configCopy(path.join(home.home, 'config'), (c) => {
      c.revocation.ocsp.pollSeconds = 1;
    });
    hm = await startInProcess(home, backend, 'closing', { configFile });
    // Backends waiting on a lock of crls; with `blocker`, only those that this test's lock holds up (other
    // test files run beside this one, each in a schema of its own with a crls of its own).
    const blockedOnCrls = async (blocker?: number) =>
      ((await holder.raw(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%"crls"%'${blocker === undefined ? '' : ' AND ? = ANY(pg_blocking_pids(pid))'}`, blocker === undefined ? [] : [blocker])).rows[0].n as number) > 0;

    let closedAt: number | undefined;
    let closing: Promise<void> | undefined;
    await holder.transaction(async (trx) => {
      await trx.raw('LOCK TABLE ??.crls IN ACCESS EXCLUSIVE MODE', [backend.schema!]);
      const blocker = (await trx.raw('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      await until('a poll waiting on the crls lock', () => blockedOnCrls(blocker), 15_000);
      closing = hm!.running.close().then(() => void (closedAt = Date.now()));
      // Everything else close() does is done well within this; only the held poll keeps it open.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(closedAt, undefined, 'close() returned while a poll was still under way');
    });
    const released = Date.now();
    await closing;
    assert.ok(closedAt! >= released, 'close() returned after the poll could go on');
    assert.equal(await blockedOnCrls(), false);
  } finally {
    await hm?.ctx.close();
    await holder.destroy();
    await backend.cleanup();
    home.cleanup();
  }
});
