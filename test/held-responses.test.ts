import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createHeldResponses, type HeldTimes } from '../src/protocols/ocsp/held-responses.js';

/**
 * The pre-signed set's table (rows in typed arrays, keys and bytes in a counted arena, its own hash
 * index) against a plain Map doing the same: every answer the same along a long random run of sets,
 * replacements, deletions and expiries (the index grown, and emptied slots' probe runs shifted back),
 * rows reused, and the arena's slabs given back when what they held is gone.
 */
test('held responses answer as a Map of records would, through replacement, deletion and expiry', () => {
  const held = createHeldResponses();
  const model = new Map<string, { bytes: Buffer; times: HeldTimes }>();
  const serials = Array.from({ length: 3_000 }, () => randomBytes(16).toString('hex'));
  let seed = 7;
  const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
  for (let step = 0; step < 60_000; step++) {
    const serial = serials[random(serials.length)]!;
    const op = random(10);
    if (op < 7) {
      const bytes = randomBytes(150 + random(200));
      const times = { issuer: random(2) ? 'issuing' : 'other', responder: `r${random(3)}`, statusChangedAt: random(1_000), thisUpdate: 1_000 + random(1_000), nextUpdate: 2_000 + random(1_000) };
      held.set(serial, bytes, times);
      model.set(serial, { bytes, times });
    } else if (op < 9) {
      held.delete(serial);
      model.delete(serial);
    } else if (step % 500 === 0) {
      const now = 2_000 + random(1_000);
      held.deleteExpired(now);
      for (const [s, v] of model) if (v.times.nextUpdate <= now) model.delete(s);
    }
    if (step % 10_000 === 0) {
      assert.equal(held.size(), model.size, `size at step ${step}`);
      for (const s of serials) assert.deepEqual(held.times(s), model.get(s)?.times, `${s} at step ${step}`);
    }
  }
  assert.equal(held.size(), model.size);
  for (const serial of serials) {
    const expected = model.get(serial);
    assert.deepEqual(held.times(serial), expected?.times, serial);
    if (!expected) continue;
    const { issuer, nextUpdate } = expected.times;
    assert.equal(held.valid(serial, issuer, nextUpdate), undefined, 'not valid at its nextUpdate');
    assert.equal(held.valid(serial, issuer === 'issuing' ? 'other' : 'issuing', nextUpdate - 1), undefined, 'not for another CA');
    const answer = held.valid(serial, issuer, nextUpdate - 1)!;
    assert.deepEqual(Buffer.from(answer.bytes), expected.bytes, serial);
    assert.equal(answer.responder, expected.times.responder);
    assert.equal(answer.thisUpdate, expected.times.thisUpdate);
  }
  // Everything let go: no slab is kept but the one being filled.
  for (const serial of serials) held.delete(serial);
  assert.equal(held.size(), 0);
  assert.equal(held.slabsHeld(), 1);
});

test('a response larger than a slab is held whole, and its slab given back with it', () => {
  const held = createHeldResponses();
  const big = randomBytes(100_000);
  const times = { issuer: 'issuing', responder: 'r', statusChangedAt: 0, thisUpdate: 1, nextUpdate: 10 };
  held.set('aa', randomBytes(300), times);
  held.set('bb', big, times);
  held.set('cc', randomBytes(300), times);
  assert.deepEqual(Buffer.from(held.valid('bb', 'issuing', 5)!.bytes), big);
  held.delete('bb');
  assert.equal(held.slabsHeld(), 2, 'the big slab dropped; the first (aa) and the current (cc) kept');
});
