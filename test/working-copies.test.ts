import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkingCopies, RECHECK_MS, type WorkingCopyOps } from '../src/keys/pkcs11/working-copies.js';

/**
 * The bookkeeping of working copies, over plain values standing for object handles (the token itself
 * is exercised in keys.test.ts): when the token is asked again, and what a changed answer does.
 */
function tokenOf() {
  const state = { stored: 'key-1' as string | undefined, copies: 0, destroyed: [] as string[], refuseCopy: false, finds: 0 };
  const ops: WorkingCopyOps<string> = {
    findStored: () => (state.finds++, state.stored),
    same: (a, b) => a === b,
    copy(stored) {
      if (state.refuseCopy) throw Object.assign(new Error('CKR_ACTION_PROHIBITED'), { code: 0x1b });
      return `copy-${++state.copies}-of-${stored}`;
    },
    destroy: (copy) => void state.destroyed.push(copy),
  };
  return { state, ops };
}

test('a copy is used without asking the token for RECHECK_MS, then checked again', () => {
  let now = 0;
  const copies = createWorkingCopies<string>(() => now);
  const { state, ops } = tokenOf();
  assert.equal(copies.fresh('k'), undefined, 'nothing held yet');
  assert.equal(copies.check('k', ops), 'copy-1-of-key-1');
  now += RECHECK_MS - 1;
  assert.equal(copies.fresh('k'), 'copy-1-of-key-1');
  now += 1;
  assert.equal(copies.fresh('k'), undefined, 'due for a check');
  assert.equal(copies.check('k', ops), 'copy-1-of-key-1', 'the same stored key: the same copy');
  assert.equal(state.finds, 2);
  assert.equal(state.copies, 1);
});

test('a stored key gone at the check: its copy is destroyed and nothing signs', () => {
  let now = 0;
  const copies = createWorkingCopies<string>(() => now);
  const { state, ops } = tokenOf();
  copies.check('k', ops);
  state.stored = undefined;
  now += RECHECK_MS;
  assert.equal(copies.fresh('k'), undefined);
  assert.equal(copies.check('k', ops), undefined);
  assert.deepEqual(state.destroyed, ['copy-1-of-key-1']);
  assert.equal(copies.fresh('k'), undefined, 'forgotten');
});

test('a key made again under the same name is copied anew, the old copy destroyed', () => {
  let now = 0;
  const copies = createWorkingCopies<string>(() => now);
  const { state, ops } = tokenOf();
  copies.check('k', ops);
  state.stored = 'key-2';
  now += RECHECK_MS;
  assert.equal(copies.check('k', ops), 'copy-2-of-key-2');
  assert.deepEqual(state.destroyed, ['copy-1-of-key-1']);
});

test('a module that refuses the copy signs with the stored key; drop and clear forget', () => {
  const copies = createWorkingCopies<string>(() => 0);
  const { state, ops } = tokenOf();
  state.refuseCopy = true;
  assert.equal(copies.check('k', ops), 'key-1');
  copies.drop('k', ops);
  assert.deepEqual(state.destroyed, [], 'the stored key is never destroyed by dropping');
  state.refuseCopy = false;
  assert.equal(copies.check('k', ops), 'copy-1-of-key-1');
  copies.drop('k', ops);
  assert.deepEqual(state.destroyed, ['copy-1-of-key-1']);
  copies.check('k', ops);
  copies.clear();
  assert.equal(copies.fresh('k'), undefined);
});
