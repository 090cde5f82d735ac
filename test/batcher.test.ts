import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBatcher } from '../src/workers/batcher.js';

/** A batcher whose flush records each batch and answers every item with itself doubled. */
function recording(options: Parameters<typeof createBatcher>[1]) {
  const batches: number[][] = [];
  const batcher = createBatcher<number, number>(async (items) => {
    batches.push(items);
    return items.map((n) => n * 2);
  }, options);
  return { batches, batcher };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise(setImmediate);
};

test('requests made in the same turn go as one batch, each answered with its own result', async () => {
  const { batches, batcher } = recording({ concurrency: 1 });
  assert.deepEqual(await Promise.all([1, 2, 3].map((n) => batcher.submit(n))), [2, 4, 6]);
  assert.deepEqual(batches, [[1, 2, 3]]);
});

test('holdMs: a lone request never waits; after a batch of four, the next waits for four (or for the hold to end)', async () => {
  // A hold far longer than the test: only the count can have started these batches.
  const { batches, batcher } = recording({ concurrency: 1, holdMs: 60_000 });
  const started = performance.now();
  assert.equal(await batcher.submit(1), 2);
  assert.ok(performance.now() - started < 5_000, 'the first request, alone, is not held');
  // The last batch carried one, so one is enough again.
  assert.equal(await batcher.submit(2), 4);
  await Promise.all([10, 11, 12, 13].map((n) => batcher.submit(n)));
  assert.deepEqual(batches.at(-1), [10, 11, 12, 13]);

  const early = batcher.submit(20);
  await turns(5);
  assert.equal(batches.length, 3, 'one waiting where the last batch carried four: held');
  const rest = [21, 22, 23].map((n) => batcher.submit(n));
  assert.deepEqual(await Promise.all([early, ...rest]), [40, 42, 44, 46]);
  assert.deepEqual(batches.at(-1), [20, 21, 22, 23], 'they went together once four waited');
});

test('holdMs: the hold ends after holdMs, and the batch goes with what is there', async () => {
  const { batches, batcher } = recording({ concurrency: 1, holdMs: 300 });
  await Promise.all([1, 2, 3, 4].map((n) => batcher.submit(n)));
  const started = performance.now();
  assert.equal(await batcher.submit(5), 10);
  assert.ok(performance.now() - started >= 250, 'held for about holdMs');
  assert.deepEqual(batches, [[1, 2, 3, 4], [5]]);
  // And the batch of one sets the next expectation: a lone request goes at once.
  const again = performance.now();
  await batcher.submit(6);
  assert.ok(performance.now() - again < 250, 'not held');
});

test('without holdMs, a batch starts with whatever waits (the batches alternate under steady load)', async () => {
  const { batches, batcher } = recording({ concurrency: 1 });
  await Promise.all([1, 2, 3, 4].map((n) => batcher.submit(n)));
  await batcher.submit(5);
  assert.deepEqual(batches, [[1, 2, 3, 4], [5]]);
});
