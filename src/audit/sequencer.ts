import type { AuditLog } from './log.js';

/** How often a serving instance looks for entries to chain. */
export const SEQUENCE_INTERVAL_MS = 250;
/**
 * A timed pass waits until the oldest entry has waited this long. With one instance that changes
 * nothing under load (every look finds entries a whole interval old); with several, a look just after
 * another instance's pass finds only younger entries and stands down, so n instances make about as many
 * passes as one instead of n times as many, each a transaction of eight statements (measured:
 * docs/issuance-performance.md, "Scale-out: a fair warm-up, and the recording prepared"). The bound on an
 * entry's wait: the look after the one that first sees it, two intervals, plus the pass (about half a
 * second). An entry carries its appender's time: a clock behind makes it look older (chained sooner),
 * one ahead makes it look as if from the future, which is chained at once (store/audit.ts).
 */
export const SEQUENCE_MIN_AGE_MS = 200;

/**
 * Runs the audit log's sequencing pass on every serving instance, every SEQUENCE_INTERVAL_MS once the
 * oldest entry waiting is SEQUENCE_MIN_AGE_MS old. Several instances may run it: on PostgreSQL one pass
 * runs at a time (the others skip), on SQLite the write lock orders them; each pass chains every pending
 * entry onto the head, so an entry appended anywhere is in the chain within half a second while any
 * instance serves. `stop` runs a last pass.
 */
export function startAuditSequencer(audit: AuditLog, log: (line: string) => void, intervalMs = SEQUENCE_INTERVAL_MS) {
  let busy = false;
  let failing = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await audit.sequence({ skipIfBusy: true, minAgeMs: SEQUENCE_MIN_AGE_MS });
      if (failing) log('audit sequencing resumed');
      failing = false;
    } catch (e) {
      // The entries stay pending (nothing is lost); say so once, not every tick.
      if (!failing) log(`audit sequencing failed, entries wait in audit_pending: ${(e as Error).message}`);
      failing = true;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return {
    async stop(): Promise<void> {
      clearInterval(timer);
      await audit.sequence().catch(() => undefined);
    },
  };
}
