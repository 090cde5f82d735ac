import type { AuditEvent, AuditLog } from './log.js';

/** How long identical denials are folded into one row. */
const WINDOW_MS = 60_000;
/** Distinct denials tracked at once; past this the oldest windows are written out early. */
const MAX_TRACKED = 10_000;

export interface DenialAudit {
  /** Writes the first of identical denials in a window; counts the rest (written by `sweep`). */
  record(event: AuditEvent): Promise<void>;
  /** Writes one row for each finished window (every window, when closing) that had repeats, with their count. */
  sweep(closing?: boolean): Promise<void>;
}

/**
 * Denials (authentication failures, refused permissions) are audited, but a client repeating one
 * cannot fill the log: the first of identical ones (same actor, action, source and reason; the target
 * may vary) in a minute is written at once, the rest become one row with `repeated: n` when the
 * minute is over (docs/security-model.md, "Authentication failures").
 */
export function createDenialAudit(audit: AuditLog, now: () => number): DenialAudit {
  const windows = new Map<string, { event: AuditEvent; start: number; repeated: number; targets: Set<string> }>();
  const keyOf = (e: AuditEvent) => JSON.stringify([e.actor, e.action, e.source ?? null, e.details?.reason ?? null, e.details?.permission ?? null]);
  const summary = (w: { event: AuditEvent; start: number; repeated: number; targets: Set<string> }, end: number): AuditEvent => ({
    ...w.event,
    details: { ...w.event.details, repeated: w.repeated, since: new Date(w.start).toISOString(), until: new Date(end).toISOString(), targets: [...w.targets].slice(0, 20) },
  });
  const writeOut = async (finished: { event: AuditEvent; start: number; repeated: number; targets: Set<string> }[], at: number) => {
    const rows = finished.filter((w) => w.repeated > 0).map((w) => summary(w, at));
    if (rows.length) await audit.recordMany(rows);
  };
  return {
    async record(event) {
      const at = now();
      const key = keyOf(event);
      const current = windows.get(key);
      if (current && at < current.start + WINDOW_MS) {
        current.repeated++;
        if (event.target && current.targets.size < 20) current.targets.add(event.target);
        return;
      }
      windows.delete(key);
      const finished = current ? [current] : [];
      if (windows.size >= MAX_TRACKED) {
        const oldest = windows.keys().next().value!;
        finished.push(windows.get(oldest)!);
        windows.delete(oldest);
      }
      windows.set(key, { event, start: at, repeated: 0, targets: new Set() });
      await writeOut(finished, at);
      await audit.record(event);
    },
    async sweep(closing = false) {
      const at = now();
      const finished: { event: AuditEvent; start: number; repeated: number; targets: Set<string> }[] = [];
      for (const [key, w] of windows) {
        if (!closing && at < w.start + WINDOW_MS) continue;
        windows.delete(key);
        finished.push(w);
      }
      await writeOut(finished, at);
    },
  };
}
