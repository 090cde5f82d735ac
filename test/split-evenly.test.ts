import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitEvenly } from '../src/base/split-evenly.js';

test('splitEvenly: contiguous slices in order, sizes within one of each other, none empty while parts ≤ items', () => {
  const items = Array.from({ length: 40 }, (_, i) => i);
  assert.deepEqual(splitEvenly(items, 3).map((s) => s.length), [14, 13, 13]);
  assert.deepEqual(splitEvenly(items, 3).flat(), items);
  // Five items over four workers: no worker gets an empty chunk (ceil-sized slices gave 2, 2, 1, 0).
  assert.deepEqual(splitEvenly([1, 2, 3, 4, 5], 4), [[1, 2], [3], [4], [5]]);
  assert.deepEqual(splitEvenly([1, 2], 1), [[1, 2]]);
  for (let n = 1; n <= 50; n++) {
    for (let parts = 1; parts <= n; parts++) {
      const slices = splitEvenly(Array.from({ length: n }, (_, i) => i), parts);
      const sizes = slices.map((s) => s.length);
      assert.equal(slices.length, parts);
      assert.ok(Math.min(...sizes) >= 1 && Math.max(...sizes) - Math.min(...sizes) <= 1, `${n} over ${parts}: ${sizes}`);
      assert.deepEqual(slices.flat(), Array.from({ length: n }, (_, i) => i));
    }
  }
});
