import type { Clock } from '../base/clock.js';
import type { Store } from '../store/handle.js';
import { statusChangesAfter } from '../store/certificates.js';

/**
 * Finds certificates whose status changed since the last look, wherever the change was made (this
 * instance, another one, the CLI), so caches can drop what they hold about them.
 */
export function createStatusWatcher(store: Store, clock: Clock, onChange: (change: { issuer: string; serial: string; at: number }) => void) {
  // Look a little behind the newest change seen: clocks of instances differ slightly.
  const OVERLAP = 5_000;
  let since = clock.now().getTime() - OVERLAP;
  let seen = new Map<string, number>();
  return async function poll(): Promise<void> {
    const rows = await statusChangesAfter(store, since - OVERLAP, 10_000);
    const next = new Map<string, number>();
    for (const row of rows) {
      const at = Number(row.status_changed_at);
      next.set(row.serial, at);
      if (seen.get(row.serial) !== at) onChange({ issuer: row.issuer, serial: row.serial, at }); // each change once, though the window overlaps
    }
    seen = next;
    if (rows.length) since = Math.max(since, Number(rows[rows.length - 1]!.status_changed_at));
  };
}
