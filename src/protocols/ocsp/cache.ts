import type { Clock } from '../../base/clock.js';
import type { OcspAnswer } from './responder.js';

interface Entry {
  answer: OcspAnswer;
  /** Re-sign from here on: shortly before nextUpdate. */
  refreshAt: number;
}

/**
 * Signed responses by the exact request bytes, so a cached answer costs a map lookup and no parsing.
 * A status change drops every cached response about that certificate at once; the next request signs
 * a fresh one. Bounded: the oldest entries go first.
 */
export function createOcspCache(clock: Clock, options: { refreshBeforeMs: number; maxEntries: number }) {
  const entries = new Map<string, Entry>();
  const bySubject = new Map<string, Set<string>>();
  // A response signed from a status read before an invalidation must not be cached after it.
  let epoch = 0;
  let forgottenBefore = 0;
  const invalidatedAt = new Map<string, number>();

  const drop = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    for (const subject of entry.answer.subjects) bySubject.get(subject)?.delete(key);
  };

  const dropAbout = (ca: string, serial: string) => {
    const keys = bySubject.get(`${ca}:${serial}`);
    if (!keys) return;
    bySubject.delete(`${ca}:${serial}`);
    for (const key of keys) drop(key);
  };

  return {
    get(key: string): OcspAnswer | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (clock.now().getTime() >= entry.refreshAt) {
        drop(key);
        return undefined;
      }
      return entry.answer;
    },
    /** The epoch to pass to `set` for an answer whose status is about to be read. */
    epoch: () => epoch,
    set(key: string, answer: OcspAnswer, startedAtEpoch: number): void {
      if (!answer.cacheable || !answer.nextUpdate) return;
      if (startedAtEpoch < forgottenBefore || answer.subjects.some((s) => (invalidatedAt.get(s) ?? -1) > startedAtEpoch)) return;
      drop(key);
      if (entries.size >= options.maxEntries) drop(entries.keys().next().value!);
      entries.set(key, { answer, refreshAt: answer.nextUpdate.getTime() - options.refreshBeforeMs });
      for (const subject of answer.subjects) {
        let keys = bySubject.get(subject);
        if (!keys) bySubject.set(subject, (keys = new Set()));
        keys.add(key);
      }
    },
    invalidate(ca: string, serial: string): void {
      invalidatedAt.set(`${ca}:${serial}`, ++epoch);
      if (invalidatedAt.size > 100_000) {
        invalidatedAt.clear();
        forgottenBefore = epoch;
      }
      dropAbout(ca, serial);
    },
    /**
     * A newer pre-signed answer about the certificate is held: live answers cached for requests it
     * answers are dropped so it is served (their status was as current; nothing changed status).
     */
    superseded(ca: string, serial: string): void {
      const keys = bySubject.get(`${ca}:${serial}`);
      if (keys) for (const key of keys) if (entries.get(key)?.answer.presignable) drop(key);
    },
    size: () => entries.size,
  };
}

export type OcspCache = ReturnType<typeof createOcspCache>;
