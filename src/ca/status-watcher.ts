import type { Clock } from '../base/clock.js';
import type { Store } from '../store/handle.js';
import { statusChangesAfter } from '../store/certificates.js';

type StatusChange = { issuer: string; serial: string; at: number };

/**
 * Finds certificates whose status changed since the last look, wherever the change was made (another
 * instance, the CLI), so caches can drop what they hold about them. A change this instance made and
 * already acted on is `noted` and not reported again: acting twice would drop answers held since.
 */
export function createStatusWatcher(store: Store, clock: Clock, onChange: (change: StatusChange) => void) {
  // Look a little behind the newest change seen: clocks of instances differ slightly.
  const OVERLAP = 5_000;
  let since = clock.now().getTime() - OVERLAP;
  // Changes already reported or acted on, by serial; kept while the window can still return them.
  const seen = new Map<string, number>();
  return {
    noted(change: StatusChange): void {
      seen.set(change.serial, change.at);
    },
    async poll(): Promise<void> {
      const rows = await statusChangesAfter(store, since - OVERLAP, 10_000);
      for (const row of rows) {
        const at = Number(row.status_changed_at);
        if (seen.get(row.serial) === at) continue; // each change once, though the window overlaps
        seen.set(row.serial, at);
        onChange({ issuer: row.issuer, serial: row.serial, at });
      }
      if (!rows.length) return;
      since = Math.max(since, Number(rows[rows.length - 1]!.status_changed_at));
      for (const [serial, at] of seen) if (at < since - OVERLAP) seen.delete(serial); // never returned again
    },
  };
}
