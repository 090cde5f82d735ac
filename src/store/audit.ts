import { isPostgres } from './db.js';
import { insertMany } from './insert-many.js';
import { together } from './together.js';
import { sql, sqlTx, type Handle, type StoreTx } from './handle.js';
import { whereStartsWith } from './prefix.js';

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
  /** Newest first, before this sequence number (the next page of a newest-first reading). */
  before?: number;
  newest?: boolean;
  limit: number;
  /** Actions starting with this (`certificate` finds certificate.issue, certificate.revoke, …). */
  action?: string;
  actor?: string;
  /** Entries at or after, and before, these times (ms). */
  since?: number;
  until?: number;
}

/** Entries for a reader: after a sequence number in order, or newest first; by action prefix, actor and time. */
export function listAuditEntries(handle: Handle, q: AuditQuery): Promise<AuditRow[]> {
  const rows = sql(handle)('audit_events').where('seq', '>', q.after ?? 0).orderBy('seq', q.newest ? 'desc' : 'asc').limit(q.limit);
  if (q.before !== undefined) rows.where('seq', '<', q.before);
  if (q.action) whereStartsWith(rows, 'action', q.action);
  if (q.actor) rows.where({ actor: q.actor });
  if (q.since !== undefined) rows.where('at', '>=', q.since);
  if (q.until !== undefined) rows.where('at', '<', q.until);
  return rows;
}

/**
 * What became of the certificates these pending issuance entries announced: `success` once the
 * certificate is recorded (active or revoked since), `failure` when it failed, else still pending.
 */
export async function issuanceOutcomes(handle: Handle, serials: string[]): Promise<Map<string, 'success' | 'failure' | 'pending'>> {
  if (!serials.length) return new Map();
  const rows = (await sql(handle)('certificates').select('serial', 'status').whereIn('serial', serials)) as { serial: string; status: string }[];
  return new Map(rows.map((r) => [r.serial, r.status === 'failed' ? 'failure' : r.status === 'pending' ? 'pending' : 'success']));
}

/**
 * Names for the actors people read: an API key by its station or its label, a client certificate by
 * its station or identity, an enrollment secret by its device. Actors that name no such credential
 * are left out.
 */
export async function actorNames(handle: Handle, actors: string[]): Promise<Map<string, string>> {
  const db = sql(handle);
  const keyIds = [...new Set(actors.filter((a) => a.startsWith('apikey:')).map((a) => a.slice(7)))];
  const certSerials = [...new Set(actors.filter((a) => a.startsWith('certificate:')).map((a) => a.slice(12)))];
  const tokenActors = actors.filter((a) => /^(est|rest):token:/.test(a));
  const names = new Map<string, string>();
  if (tokenActors.length) {
    const ids = [...new Set(tokenActors.map((a) => a.split(':')[2]!))];
    const tokens = (await db('enrollment_tokens').select('id', 'device').whereIn('id', ids)) as { id: string; device: string }[];
    for (const actor of tokenActors) {
      const token = tokens.find((t) => t.id === actor.split(':')[2]);
      if (token) names.set(actor, `device ${token.device} (one-time secret)`);
    }
  }
  if (keyIds.length) {
    const stations = (await db('stations').select('name', 'api_key_id').whereIn('api_key_id', keyIds)) as { name: string; api_key_id: string }[];
    const keys = (await db('api_keys').select('id', 'label', 'role').whereIn('id', keyIds)) as { id: string; label: string | null; role: string }[];
    for (const k of keys) names.set(`apikey:${k.id}`, k.label ? `${k.role} key "${k.label}"` : `${k.role} key ${k.id.slice(0, 8)}`);
    for (const st of stations) names.set(`apikey:${st.api_key_id}`, `station ${st.name}`);
  }
  if (certSerials.length) {
    const stations = (await db('stations').select('name', 'cert_serial').whereIn('cert_serial', certSerials)) as { name: string; cert_serial: string }[];
    const certs = (await db('certificates').select('serial', 'identity', 'profile').whereIn('serial', certSerials)) as { serial: string; identity: string | null; profile: string }[];
    for (const c of certs) if (c.identity) names.set(`certificate:${c.serial}`, `${c.profile} ${c.identity}`);
    for (const st of stations) names.set(`certificate:${st.cert_serial}`, `station ${st.name}`);
  }
  return names;
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
