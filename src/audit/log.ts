import { hash } from 'node:crypto';
import type { Clock } from '../base/clock.js';
import { appendPendingAudit, sequencePendingAudit, type AuditHead, type AuditRow, type PendingAuditRow } from '../store/audit.js';
import { inTransaction, type Store, type StoreTx } from '../store/handle.js';

export type { AuditHead, AuditRow } from '../store/audit.js';

/** Who did what to which object, from where, and how it went. Never carries a secret. */
export interface AuditEvent {
  actor: string;
  action: string;
  target?: string;
  outcome: 'success' | 'failure' | 'pending';
  source?: string;
  details?: Record<string, unknown>;
}

export interface AuditLog {
  /** Appends in its own transaction. */
  record(event: AuditEvent): Promise<void>;
  /** Appends several events in order, in a transaction of their own. */
  recordMany(events: AuditEvent[]): Promise<void>;
  /** Appends inside the caller's transaction, so the event and the state change land together. */
  recordIn(tx: StoreTx, event: AuditEvent): Promise<void>;
  /** Appends several events in order inside the caller's transaction. */
  recordManyIn(tx: StoreTx, events: AuditEvent[]): Promise<void>;
  /** In-process observers (alert rules) see every event as it is appended. */
  observe(observer: (event: AuditEvent, at: Date) => void): void;
  /**
   * For a writer that appends in one statement of its own (store/pg-intents.ts, sqlite-intents.ts):
   * the rows to insert into audit_pending; call `appended` once they are committed.
   */
  pendingRows(events: AuditEvent[]): { rows: PendingAuditRow[]; at: number; events: AuditEvent[] };
  appended(append: { at: number; events: AuditEvent[] }): void;
  /**
   * Chains every entry waiting in audit_pending onto the log; resolves to how many this call sequenced.
   * Readers that must see everything run it first: it waits for a pass another instance is making.
   * The timed sequencer (audit/sequencer.ts) passes `skipIfBusy`: another instance is doing the work;
   * and `minAgeMs`: no pass while the oldest entry waiting is younger than that.
   */
  sequence(options?: { skipIfBusy?: boolean; minAgeMs?: number }): Promise<number>;
}

/** JSON with object keys sorted and undefined members left out: the form entries are hashed in. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

/** The entry's fields in canonical (sorted) order: every entry has exactly these. */
const ENTRY_KEYS = ['action', 'actor', 'at', 'details', 'outcome', 'seq', 'source', 'target'] as const;

/**
 * canonical(content) for an entry, written field by field: the same string (test/audit.test.ts
 * checks it against canonical), without sorting the keys of every entry again — each issued
 * certificate appends two entries, so this runs thousands of times a second.
 */
function canonicalEntry(content: Record<string, unknown>): string {
  let out = '{';
  for (const key of ENTRY_KEYS) {
    const value = content[key];
    if (value === undefined) continue;
    if (value !== null && typeof value === 'object') return canonical(content);
    out += `${out.length > 1 ? ',' : ''}"${key}":${JSON.stringify(value)}`;
  }
  for (const key in content) if (!(ENTRY_KEYS as readonly string[]).includes(key) && content[key] !== undefined) return canonical(content);
  return `${out}}`;
}

/** hash = SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of the entry): editing, removing or reordering breaks it. */
export function entryHash(row: Omit<AuditRow, 'hash'>): string {
  const { prev_hash, ...content } = row;
  return hash('sha256', `${prev_hash}\n${canonicalEntry(content)}`, 'hex');
}

/** Pending entries chained on from `head`, in their order, and the head they leave. */
export function chainOnto(head: AuditHead, pending: PendingAuditRow[]): { rows: AuditRow[]; to: AuditHead } {
  let seq = Number(head.seq);
  let prev = head.hash;
  const rows: AuditRow[] = pending.map((entry) => {
    const row: Omit<AuditRow, 'hash'> = { seq: ++seq, ...entry, prev_hash: prev };
    prev = entryHash(row);
    return { ...row, hash: prev };
  });
  return { rows, to: { seq, hash: prev } };
}

const pendingRow = (event: AuditEvent, at: number): PendingAuditRow => ({
  at,
  actor: event.actor,
  action: event.action,
  target: event.target ?? null,
  outcome: event.outcome,
  source: event.source ?? null,
  details: event.details ? canonical(event.details) : null,
});

/** Entries a sequencing pass takes at most (one transaction). */
const SEQUENCE_BATCH = 2000;

/**
 * The tamper-evident log. Appending is an insert into audit_pending in the caller's transaction: no
 * head to lock, so issuances on every process and instance append side by side. The chain (seq,
 * prev_hash, hash) is made by `sequence`, in batches, by one sequencer at a time (docs/security-model.md,
 * "Audit log").
 */
export function createAuditLog(store: Store, clock: Clock): AuditLog {
  const observers: ((event: AuditEvent, at: Date) => void)[] = [];
  const notify = (events: AuditEvent[], at: number) => {
    for (const event of events) for (const observe of observers) observe(event, new Date(at));
  };
  async function recordManyIn(tx: StoreTx, events: AuditEvent[]): Promise<void> {
    if (!events.length) return;
    const at = clock.now().getTime();
    await appendPendingAudit(
      tx,
      events.map((e) => pendingRow(e, at)),
    );
    notify(events, at);
  }
  const recordIn = (tx: StoreTx, event: AuditEvent) => recordManyIn(tx, [event]);
  // One pass at a time in this process; passes of other instances skip while one runs (store/audit.ts).
  let running: Promise<number> | undefined;
  async function sequenceAll(wait: boolean, minAgeMs?: number): Promise<number> {
    let total = 0;
    for (;;) {
      // The age is asked of the first pass only: once it runs, it takes everything waiting.
      const n = await sequencePendingAudit(store, SEQUENCE_BATCH, chainOnto, wait, minAgeMs === undefined || total ? undefined : { now: clock.now().getTime(), minAgeMs });
      total += n;
      if (n < SEQUENCE_BATCH) return total;
    }
  }
  return {
    recordIn,
    recordManyIn,
    observe: (observer) => void observers.push(observer),
    record: (event) => inTransaction(store, (tx) => recordIn(tx, event)),
    recordMany: (events) => inTransaction(store, (tx) => recordManyIn(tx, events)),
    pendingRows(events) {
      const at = clock.now().getTime();
      return { rows: events.map((e) => pendingRow(e, at)), at, events };
    },
    appended(append) {
      notify(append.events, append.at);
    },
    async sequence(options = {}) {
      // A caller arriving while a pass runs waits for it, then runs its own: what it appended before
      // calling may have been committed after that pass read the pending rows.
      while (running) await running.catch(() => undefined);
      running = sequenceAll(!options.skipIfBusy, options.minAgeMs);
      try {
        return await running;
      } finally {
        running = undefined;
      }
    },
  };
}
