import { isPostgres } from './db.js';
import { insertMany } from './insert-many.js';
import { together } from './together.js';
import { sql, sqlTx, type Handle, type StoreTx } from './handle.js';

/** One entry of the audit chain as stored (audit/log.ts computes `hash`). */
export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  source: string | null;
  details: string | null;
  prev_hash: string;
  hash: string;
}

/** The last entry's sequence number and hash: where the next entry chains on. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** Entries chained from `from` that take the head to `to` (a writer that appends in one statement of its own). */
export interface AuditAppend {
  rows: AuditRow[];
  from: AuditHead;
  to: AuditHead;
}

export interface CheckpointRow {
  seq: number;
  hash: string;
  at: number;
  key_uri: string;
  signature: Buffer;
}

const headOf = (row: { seq: number | string; hash: string }): AuditHead => ({ seq: Number(row.seq), hash: row.hash });

/** The head, locked until the transaction ends: concurrent appenders (other instances too) queue here, keeping one chain. */
export async function lockAuditHead(tx: StoreTx): Promise<AuditHead> {
  const trx = sqlTx(tx);
  const query = trx('audit_head').where({ id: 1 }).first();
  // SQLite's write transactions are IMMEDIATE (sqlite-client.ts): the database is locked already.
  return headOf(await (isPostgres(trx) ? query.forUpdate() : query));
}

/** Appends chained entries and moves the head to `to`, inside the caller's transaction. */
export async function appendAuditRows(tx: StoreTx, rows: AuditRow[], to: AuditHead): Promise<void> {
  const trx = sqlTx(tx);
  // Within SQLite's and PostgreSQL's bound-parameter limits (10 columns a row).
  await together(trx, [() => insertMany(trx, 'audit_events', rows as unknown as Record<string, unknown>[], 500), () => trx('audit_head').where({ id: 1 }).update(to)]);
}

export const readAuditHead = async (handle: Handle): Promise<AuditHead> => headOf(await sql(handle)('audit_head').select('seq', 'hash').where({ id: 1 }).first());

/** Entries after `after` in order, at most `limit` (a page of a walk over the whole chain). */
export const auditPage = (handle: Handle, after: number, limit: number): Promise<AuditRow[]> => sql(handle)('audit_events').where('seq', '>', after).orderBy('seq').limit(limit);

export interface AuditQuery {
  after?: number;
  newest?: boolean;
  limit: number;
  action?: string;
  actor?: string;
}

/** Entries for a reader: after a sequence number in order, or newest first; one action or actor. */
export function listAuditEntries(handle: Handle, q: AuditQuery): Promise<AuditRow[]> {
  const rows = sql(handle)('audit_events').where('seq', '>', q.after ?? 0).orderBy('seq', q.newest ? 'desc' : 'asc').limit(q.limit);
  if (q.action) rows.where({ action: q.action });
  if (q.actor) rows.where({ actor: q.actor });
  return rows;
}

export const auditCheckpoints = (handle: Handle): Promise<CheckpointRow[]> => sql(handle)('audit_checkpoints').select('*').orderBy('seq');

export const hasCheckpointAt = async (handle: Handle, seq: number): Promise<boolean> => Boolean(await sql(handle)('audit_checkpoints').where({ seq }).first());

/** Stores a checkpoint; one already written at that entry (by another instance) wins. */
export const saveCheckpoint = async (handle: Handle, row: CheckpointRow): Promise<void> => void (await sql(handle)('audit_checkpoints').insert(row).onConflict('seq').ignore());

/** Events of these actions since `since` (its plan is checked in tests: the (action, at) index). */
export function actionCountQuery(handle: Handle, since: number, actions: string[], outcome?: string) {
  const q = sql(handle)('audit_events').where('at', '>', since).whereIn('action', actions);
  if (outcome) q.where({ outcome });
  return q.count({ n: '*' });
}
