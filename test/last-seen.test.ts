import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asStore } from '../src/store/handle.js';
import { lastOcspSeen, recordOcspSeen } from '../src/store/last-seen.js';
import { BACKENDS, withTemporaryDatabase } from './helpers/backends.js';

/**
 * "Last seen by OCSP" is written by every instance in batches, at different moments: a row only moves
 * forward in time, whatever order the batches land in, and a batch larger than one statement lands whole.
 */
for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  test(`last seen by OCSP only moves forward, in batches of any size (${backend.name})`, () =>
    withTemporaryDatabase(backend, 'last-seen-', async (db) => {
      const store = asStore(db);
      const serials = Array.from({ length: 1_000 }, (_, i) => `1${i.toString(16).padStart(31, '0')}`);
      await recordOcspSeen(store, serials.map((s) => [s, 2_000]));
      assert.equal(Number((await db('certificate_last_seen').count({ n: '*' }).first())!.n), 1_000, 'every row of a batch of three statements');
      // An instance that flushes later with an older sighting does not move the row back.
      await recordOcspSeen(store, [[serials[0]!, 1_000], [serials[1]!, 3_000]]);
      assert.equal(await lastOcspSeen(store, [serials[0]!]), 2_000);
      assert.equal(await lastOcspSeen(store, [serials[1]!]), 3_000);
      assert.equal(await lastOcspSeen(store, serials), 3_000);
      assert.equal(await lastOcspSeen(store, ['2'.repeat(32)]), null);
    }),
  );
}
