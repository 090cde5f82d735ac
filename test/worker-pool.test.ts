import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createWorkerPool } from '../src/workers/pool.js';

const script = new URL('./helpers/echo-worker.js', import.meta.url);

test('a pool answers in order across its chunks, with the context, and a failing chunk rejects', async () => {
  const pool = createWorkerPool<number, number>({ script, name: 'echo', size: 2 });
  try {
    const items = Array.from({ length: 101 }, (_, i) => i);
    assert.deepEqual(await pool.run(items, { add: 1 }), items.map((n) => n * 2 + 1));
    await assert.rejects(pool.run([1, -1, 2]), /negative: -1/);
    assert.deepEqual(await pool.run([5]), [10], 'still serving after a failed chunk');
    // Each worker names its OS thread (Linux), so that top -H and the benches tell it from Node's own threads.
    if (fs.existsSync('/proc/self/task')) {
      const names = fs.readdirSync('/proc/self/task').map((tid) => fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
      assert.equal(names.filter((n) => n === 'hm-echo').length, 2, `threads: ${names.join(', ')}`);
    }
  } finally {
    await pool.close();
  }
});

test('small batches: inline until the threads run, then to the threads — or inline always when asked', async () => {
  const handOff = createWorkerPool<number, number>({ script, name: 'echo-default', size: 1, inlineBelow: 4 });
  const keepSmall = createWorkerPool<number, number>({ script, name: 'echo-small', size: 1, inlineBelow: 4, inlineSmallAlways: true });
  try {
    for (const pool of [handOff, keepSmall]) {
      assert.equal(pool.inline(3), true, 'before the threads start');
      assert.equal(pool.inline(4), false, 'four or more always go to the threads');
      await pool.run([1, 2, 3, 4]);
    }
    assert.equal(handOff.inline(1), false, 'once running, even one item goes to the threads');
    assert.equal(keepSmall.inline(3), true, 'inlineSmallAlways keeps small batches on the calling thread');
    assert.equal(keepSmall.inline(4), false);
  } finally {
    await handOff.close();
    await keepSmall.close();
  }
});
