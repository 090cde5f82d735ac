/**
 * Signing keys used through a session-object copy made inside the token (C_CopyObject with CKA_TOKEN
 * false), not through the stored token object. The copy keeps the original's CKA_SENSITIVE and
 * CKA_EXTRACTABLE (PKCS#11 v2.40 §4.9: the one may only become true, the other only false; C_CopyObject,
 * §5.7), so nothing leaves the token.
 * Why: SoftHSM's file-backed object store re-reads a token object's file, and the token's generation
 * file, under file locks on every access, ~25 system calls a signature (a third of its CPU per
 * signature on this project's machine); a session object lives in the module's memory.
 *
 * A copy outlives nothing it should not: it is used for at most RECHECK_MS before the token is asked
 * again whether the stored key still exists and is the same object, so a key destroyed by another
 * process (`hallmark signer retire`, an operator's tool) stops signing here within that bound, and a
 * key re-created under the same name is copied anew. A module that refuses the copy, or makes a token
 * object of it, is used through the stored object as before.
 */
export const RECHECK_MS = 1000;

/** What one thread's PKCS#11 binding does for the copies (graphene on the main thread, pkcs11js in a worker). */
export interface WorkingCopyOps<K> {
  /** The stored key (CKA_TOKEN true), undefined when there is none. */
  findStored(): K | undefined;
  /** The same object? (Its handle, compared.) */
  same(a: K, b: K): boolean;
  /** A session-object copy, undefined when the module will not make one. */
  copy(stored: K): K | undefined;
  destroy(copy: K): void;
}

interface Held<K> {
  stored: K;
  /** What signs: the copy, or the stored object itself where no copy could be made. */
  signing: K;
  checkedAt: number;
}

export function createWorkingCopies<K>(now: () => number = Date.now) {
  const held = new Map<string, Held<K>>();

  function drop(name: string, ops: WorkingCopyOps<K>): void {
    const entry = held.get(name);
    held.delete(name);
    if (!entry || entry.signing === entry.stored) return;
    try {
      ops.destroy(entry.signing);
    } catch {
      // Gone already (its session closed): nothing to destroy.
    }
  }

  return {
    /** The key to sign with when it was checked against the token less than RECHECK_MS ago. */
    fresh(name: string): K | undefined {
      const entry = held.get(name);
      return entry && now() - entry.checkedAt < RECHECK_MS ? entry.signing : undefined;
    },
    /** Checks the token and returns the key to sign with; undefined when the token holds no such key. */
    check(name: string, ops: WorkingCopyOps<K>): K | undefined {
      const stored = ops.findStored();
      const entry = held.get(name);
      if (entry && stored && ops.same(entry.stored, stored)) {
        entry.checkedAt = now();
        return entry.signing;
      }
      drop(name, ops);
      if (!stored) return undefined;
      let copy: K | undefined;
      try {
        copy = ops.copy(stored);
      } catch {
        copy = undefined; // CKR_ACTION_PROHIBITED (CKA_COPYABLE false), CKR_FUNCTION_NOT_SUPPORTED, …
      }
      held.set(name, { stored, signing: copy ?? stored, checkedAt: now() });
      return copy ?? stored;
    },
    /** Forgets one key, destroying its copy. */
    drop,
    /** Forgets every key without destroying anything (their sessions are gone). */
    clear(): void {
      held.clear();
    },
  };
}
