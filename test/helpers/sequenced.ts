import { createAuditLog } from '../../src/audit/log.js';
import { systemClock } from '../../src/base/clock.js';
import type { Store } from '../../src/store/handle.js';

/**
 * The store, once every entry waiting in audit_pending is chained into audit_events (what a serving
 * instance's sequencer does within a quarter second): for tests that read audit_events right after
 * the action that appended.
 */
export async function sequenced<S extends Store>(store: S): Promise<S> {
  await createAuditLog(store, systemClock).sequence();
  return store;
}
