import { hash } from 'node:crypto';
import type { Clock } from '../base/clock.js';
import { appendAuditRows, lockAuditHead, readAuditHead, type AuditAppend, type AuditHead, type AuditRow } from '../store/audit.js';
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
  /** Appends several events in order inside the caller's transaction, taking the head lock once. */
  recordManyIn(tx: StoreTx, events: AuditEvent[]): Promise<void>;
  /** In-process observers (alert rules) see every event as it is appended. */
  observe(observer: (event: AuditEvent, at: Date) => void): void;
  /**
   * For a writer that appends in one statement of its own (store/pg-intents.ts): the entries chained
   * from the head this process last wrote (read when it knows none), and where they take the head.
   * The writer must move the head only if it is still `from`; then call `appended`, else `headMoved`.
   */
  prepareAppend(events: AuditEvent[]): Promise<PreparedAppend>;
  appended(append: PreparedAppend): void;
  headMoved(): void;
}

export interface PreparedAppend extends AuditAppend {
  events: AuditEvent[];
  at: number;
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

/** The entries for `events` chained on from `head`, and the head they leave. */
function chain(events: AuditEvent[], head: AuditHead, at: number): { rows: AuditRow[]; to: AuditHead } {
  let seq = Number(head.seq);
  let prev = head.hash;
  const rows: AuditRow[] = events.map((event) => {
    const row: Omit<AuditRow, 'hash'> = {
      seq: ++seq,
      at,
      actor: event.actor,
      action: event.action,
      target: event.target ?? null,
      outcome: event.outcome,
      source: event.source ?? null,
      details: event.details ? canonical(event.details) : null,
      prev_hash: prev,
    };
    prev = entryHash(row);
    return { ...row, hash: prev };
  });
  return { rows, to: { seq, hash: prev } };
}

export function createAuditLog(store: Store, clock: Clock): AuditLog {
  const observers: ((event: AuditEvent, at: Date) => void)[] = [];
  const notify = (events: AuditEvent[], at: number) => {
    for (const event of events) for (const observe of observers) observe(event, new Date(at));
  };
  // The head as this process last wrote it through prepareAppend (others may have moved it since).
  let knownHead: AuditHead | undefined;
  async function recordManyIn(tx: StoreTx, events: AuditEvent[]): Promise<void> {
    if (!events.length) return;
    const head = await lockAuditHead(tx);
    const at = clock.now().getTime();
    const { rows, to } = chain(events, head, at);
    // This moves the head (once the caller commits): the next prepareAppend reads it rather than
    // trying from a head known to be stale.
    knownHead = undefined;
    await appendAuditRows(tx, rows, to);
    notify(events, at);
  }
  const recordIn = (tx: StoreTx, event: AuditEvent) => recordManyIn(tx, [event]);
  return {
    recordIn,
    recordManyIn,
    observe: (observer) => void observers.push(observer),
    record: (event) => inTransaction(store, (tx) => recordIn(tx, event)),
    recordMany: (events) => inTransaction(store, (tx) => recordManyIn(tx, events)),
    async prepareAppend(events) {
      const from = knownHead ?? (await readAuditHead(store));
      const at = clock.now().getTime();
      return { events, ...chain(events, from, at), at, from };
    },
    appended(append) {
      knownHead = append.to;
      notify(append.events, append.at);
    },
    headMoved() {
      knownHead = undefined;
    },
  };
}
