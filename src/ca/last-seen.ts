import type { Store } from '../store/handle.js';
import type { Clock } from '../base/clock.js';
import { recordOcspSeen } from '../store/last-seen.js';

/**
 * "Last seen by OCSP" for the device inventory: the OCSP path notes the certificates each answer
 * covered (cached or not) in memory, and the instance writes them in batches on its poll, so that a
 * storm of status checks costs one row per certificate per batch, never a write per request. Bounded:
 * when `maxPending` certificates wait, a batch is written at once.
 */
export function createLastSeenTracker(store: Store, clock: Clock, log: (line: string) => void, maxPending = 50_000) {
  let pending = new Map<string, number>();
  let writing: Promise<void> = Promise.resolve();

  function flush(): Promise<void> {
    if (!pending.size) return writing;
    const batch = [...pending];
    pending = new Map();
    // One batch at a time; a failed write is only a late "last seen", never a failed OCSP answer.
    writing = writing.then(() => recordOcspSeen(store, batch)).catch((e) => log(`last-seen update skipped: ${(e as Error).message}`));
    return writing;
  }

  return {
    /** `subjects` as OCSP answers name them: `<ca>:<serial>`. */
    note(subjects: readonly string[]): void {
      if (!subjects.length) return;
      const now = clock.now().getTime();
      for (const subject of subjects) pending.set(subject.slice(subject.indexOf(':') + 1), now);
      if (pending.size >= maxPending) void flush();
    },
    flush,
  };
}
