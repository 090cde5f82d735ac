import { advisoryXactLock, tryAdvisoryXactLock } from './advisory-lock.js';
import { isPostgres } from './db.js';
import { insertMany } from './insert-many.js';
import { sql, sqlTx, type Handle, type StoreTx } from './handle.js';
import { whereStartsWith } from './prefix.js';

/** One entry of the audit chain as stored: as appended, with its place and hash (audit/log.ts computes `hash`). */
export interface AuditRow extends PendingAuditRow {
  seq: number;
  prev_hash: string;
  hash: string;
}

/** The last entry's sequence number and hash: where the next entry chains on. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** An entry as appended, before the sequencer gives it its place (seq) and hash in the chain. */
export interface PendingAuditRow {
  at: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  source: string | null;
  details: string | null;
}

export interface CheckpointRow {
  seq: number;
  hash: string;
  at: number;
  key_uri: string;
  signature: Buffer;
}

const headOf = (row: { seq: number | string; hash: string }): AuditHead => ({ seq: Number(row.seq), hash: row.hash });

/**
 * Appends entries inside the caller's transaction, unsequenced: an insert and nothing else, no row
 * that every appender locks. Their place in the chain comes from the sequencer.
 */
export async function appendPendingAudit(tx: StoreTx, rows: PendingAuditRow[]): Promise<void> {
  const trx = sqlTx(tx);
  // Within SQLite's and PostgreSQL's bound-parameter limits (7 columns a row).
  await insertMany(trx, 'audit_pending', rows as unknown as Record<string, unknown>[], 500);
}

/** A number of PostgreSQL's advisory-lock space that only the audit sequencer uses (with the schema: advisory-lock.ts). */
const SEQUENCER_LOCK = 0x48414c4d; // "HALM"
const DELETE_CHUNK = 500;

/**
 * One sequencing pass: up to `limit` pending entries, oldest first, chained onto the head by `chain`,
 * written to audit_events, removed from audit_pending, and the head moved — one transaction, so a crash
 * leaves them all pending or all sequenced. On PostgreSQL one instance sequences at a time (an
 * advisory lock: a timed pass skips while another runs, a reader's pass waits for it); the head row is locked as well, so two
 * sequencers could never fork the chain. Returns how many entries it sequenced (0: none waiting, or
 * another instance is sequencing).
 */
export async function sequencePendingAudit(
  handle: Handle,
  limit: number,
  chain: (head: AuditHead, pending: PendingAuditRow[]) => { rows: AuditRow[]; to: AuditHead },
  /** Wait for another instance's pass to end rather than skip (a reader that must see everything). */
  wait = false,
  /**
   * A timed pass: skip while the oldest entry waiting is younger than `minAgeMs` at `now` (ms; the entry
   * carries its appender's clock). Such entries are about to be taken by a pass another instance is due
   * to make, so several instances together make about as many passes as one would. An entry dated in
   * the future (an appender whose clock runs ahead) is due at once: a skewed clock never holds the chain up.
   */
  youngest?: { now: number; minAgeMs: number },
): Promise<number> {
  // A plain read first: an idle pass takes no write transaction (on SQLite that is the database's lock).
  const oldest = (await sql(handle)('audit_pending').select('id', 'at').orderBy('id').limit(1).first()) as { at: number | string } | undefined;
  if (!oldest) return 0;
  if (youngest) {
    const age = youngest.now - Number(oldest.at);
    if (age >= 0 && age < youngest.minAgeMs) return 0;
  }
  return sql(handle).transaction(async (trx) => {
    const pg = isPostgres(trx);
    if (pg) {
      if (wait) await advisoryXactLock(trx, SEQUENCER_LOCK);
      else if (!(await tryAdvisoryXactLock(trx, SEQUENCER_LOCK))) return 0;
    }
    // PostgreSQL takes the batch out in one statement (DELETE … RETURNING; the order is restored by id);
    // SQLite reads it, then deletes it below. Either way inside this transaction: all or nothing.
    const pending = (
      pg
        ? ((await trx.raw('DELETE FROM audit_pending WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT ?) RETURNING *', [limit])).rows as (PendingAuditRow & { id: number | string })[]).sort((a, b) => Number(a.id) - Number(b.id))
        : ((await trx('audit_pending').select('*').orderBy('id').limit(limit)) as (PendingAuditRow & { id: number | string })[])
    );
    if (!pending.length) return 0;
    // SQLite's write transactions are IMMEDIATE (sqlite-client.ts): the database is locked already.
    const headQuery = trx('audit_head').where({ id: 1 }).first();
    const head = headOf(await (pg ? headQuery.forUpdate() : headQuery));
    const { rows, to } = chain(
      head,
      pending.map(({ id: _id, ...row }) => ({ ...row, at: Number(row.at) })),
    );
    await insertMany(trx, 'audit_events', rows as unknown as Record<string, unknown>[], 500);
    if (!pg) {
      const ids = pending.map((p) => p.id);
      for (let i = 0; i < ids.length; i += DELETE_CHUNK) await trx('audit_pending').whereIn('id', ids.slice(i, i + DELETE_CHUNK)).delete();
    }
    await trx('audit_head').where({ id: 1 }).update(to);
    return pending.length;
  });
}

/** How many entries wait for the sequencer, and since when (ms), for health and verification. */
export async function pendingAuditState(handle: Handle): Promise<{ count: number; oldestAt: number | null }> {
  const row = (await sql(handle)('audit_pending').count({ n: '*' }).min({ oldest: 'at' }).first()) as { n: number | string; oldest: number | string | null };
  return { count: Number(row.n), oldestAt: row.oldest === null ? null : Number(row.oldest) };
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
