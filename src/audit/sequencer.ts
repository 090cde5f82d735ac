import type { AuditLog } from './log.js';

/** How often a serving instance chains what was appended: the bound on an entry's wait, with the pass itself. */
export const SEQUENCE_INTERVAL_MS = 250;

/**
 * Runs the audit log's sequencing pass on every serving instance, every SEQUENCE_INTERVAL_MS. Several
 * instances may run it: on PostgreSQL one pass runs at a time (the others skip), on SQLite the write
 * lock orders them; each pass chains every pending entry onto the head, so an entry appended anywhere
 * is in the chain within about a quarter second while any instance serves. `stop` runs a last pass.
 */
export function startAuditSequencer(audit: AuditLog, log: (line: string) => void, intervalMs = SEQUENCE_INTERVAL_MS) {
  let busy = false;
  let failing = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await audit.sequence({ skipIfBusy: true });
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
