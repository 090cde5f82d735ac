import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBatcher } from '../src/workers/batcher.js';

/** A batcher whose flush records each batch and answers every item with itself doubled (a negative one with an error). */
function recording(options: Parameters<typeof createBatcher>[1]) {
  const batches: number[][] = [];
  const batcher = createBatcher<number, number>(async (items) => {
    batches.push(items);
    return items.map((n) => (n < 0 ? new Error(`negative: ${n}`) : n * 2));
  }, options);
  return { batches, batcher };
}

test('requests made in the same turn go as one batch, each answered with its own result or error', async () => {
  const { batches, batcher } = recording({ concurrency: 1 });
  const results = await Promise.allSettled([1, -2, 3].map((n) => batcher.submit(n)));
  assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), [2, 'negative: -2', 6]);
  assert.deepEqual(batches, [[1, -2, 3]]);
});

test('one batch in flight at a time (concurrency 1): what arrives meanwhile waits, and goes as the next batch', async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const batcher = createBatcher<number, number>(
    async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items.map((n) => n * 2);
    },
    { concurrency: 1 },
  );
  const first = Promise.all([1, 2, 3, 4].map((n) => batcher.submit(n)));
  while (batches.length === 0) await new Promise(setImmediate);
  const second = Promise.all([5, 6].map((n) => batcher.submit(n)));
  for (let i = 0; i < 5; i++) await new Promise(setImmediate);
  assert.deepEqual(batches, [[1, 2, 3, 4]], 'the second batch waits for the first');
  release();
  assert.deepEqual(await Promise.all([first, second]), [[2, 4, 6, 8], [10, 12]]);
  assert.deepEqual(batches, [[1, 2, 3, 4], [5, 6]]);
});
