import { tryAdvisoryXactLock } from './advisory-lock.js';
import { isPostgres } from './db.js';
import type { StatusRow } from './certificates.js';
import { ROWS_PER_STATEMENT } from './insert-many.js';
import { inTransaction, sql, type Handle, type Store, type StoreTx } from './handle.js';
import { readSetting, writeSetting } from './settings.js';

/** A certificate the pre-signer looks at, with the times of its stored response (null: none). */
export interface PresignCandidate extends StatusRow {
  status_changed_at: number | null;
  created_at: number;
  next_update: number | null;
  signed_status_at: number | null;
}

export interface OcspResponseRow {
  serial: string;
  issuer: string;
  signed: Uint8Array;
  responder: string;
  status_changed_at: number;
  this_update: number;
  next_update: number;
  signed_at: number;
  /** The pre-signer's pass that wrote it (recordPresignPass): how instances load what is new. */
  written_in: number;
}

/** A response as the pre-signer hands it over; the pass's number is given as it is recorded. */
export type SignedResponse = Omit<OcspResponseRow, 'written_in'>;

// `c.status || ''`: no index may answer it (the planner would take the (status, not_after) index over a
// fleet's worth of rows and sort them; in serial order the primary key reads a page and stops).
const ISSUED = `c.status || '' IN ('active', 'revoked')`;
/**
 * What bounds the certificates read, stated on the joined side too (the rows are the same: a
 * certificate's response has its serial), so that PostgreSQL reads only the responses it needs:
 * - `after`: the sweep's position. The merge join then starts the responses' primary key there; without
 *   it, each page read that index from its first row up to `after` (202 ms a page halfway through a
 *   million, so the sweep slowed as it went: docs/performance.md).
 * - `serials`: the certificates whose status changed. Without it, the planner hashed the 500 certificates
 *   and read every response to probe them: a whole-table scan per batch of status changes (41 ms at
 *   100,000 responses, growing with the fleet; docs/issuance-performance.md).
 */
const candidateColumns = (handle: Handle, bound: { after?: string; serials?: string[] } = {}) =>
  sql(handle)('certificates as c')
    .leftJoin('ocsp_responses as r', (join) => {
      join.on('r.serial', '=', 'c.serial');
      if (bound.after !== undefined) join.andOnVal('r.serial', '>', bound.after);
      if (bound.serials !== undefined) join.andOnIn('r.serial', bound.serials);
    })
    .select('c.serial', 'c.issuer', 'c.status', 'c.revoked_at', 'c.revocation_reason', 'c.status_changed_at', 'c.created_at', 'r.next_update', { signed_status_at: 'r.status_changed_at' });

/** The sweep: issued, unexpired certificates after `after` in serial order, `limit` of them. */
export const presignSweepPageQuery = (handle: Handle, after: string, now: number, limit: number) =>
  candidateColumns(handle, { after }).where('c.serial', '>', after).whereRaw(ISSUED).where('c.not_after', '>', now).orderBy('c.serial').limit(limit);

export const presignSweepPage = (handle: Handle, after: string, now: number, limit: number): Promise<PresignCandidate[]> => presignSweepPageQuery(handle, after, now, limit);

/** Certificates recorded since `since` (creation order) that have no response yet. */
export const recentWithoutResponse = (handle: Handle, since: number, now: number, limit: number): Promise<PresignCandidate[]> =>
  candidateColumns(handle).where('c.created_at', '>', since).whereRaw(ISSUED).where('c.not_after', '>', now).whereNull('r.serial').orderBy('c.created_at').limit(limit);

/** These certificates, as the pre-signer sees them (their status just changed). */
export const presignCandidatesForQuery = (handle: Handle, serials: string[]) => candidateColumns(handle, { serials }).whereIn('c.serial', serials);

export const presignCandidatesFor = (handle: Handle, serials: string[]): Promise<PresignCandidate[]> => presignCandidatesForQuery(handle, serials);

const COLUMNS = ['serial', 'issuer', 'signed', 'responder', 'status_changed_at', 'this_update', 'next_update', 'signed_at', 'written_in'] as const;
/** How many pre-signing passes have been recorded: the number of the last one. */
const PASSES = 'ocsp_presign_passes';

/**
 * Records one pre-signing pass's responses under the next pass number, in one transaction with the
 * count (the caller's, on PostgreSQL: asPresigner's, which holds the pre-signer's lock; its own on
 * SQLite, held only for these writes). Passes are numbered in commit order, so instances load new
 * responses by number, each once (presigned.ts). A response replaces the stored one, but never one signed
 * from a newer status (a status read before a revocation committed must not overwrite the revoked answer
 * signed after it).
 */
export async function recordPresignPass(handle: Handle, given: SignedResponse[]): Promise<void> {
  if (given.length === 0) return;
  // One row per certificate: PostgreSQL refuses a statement that would upsert a row twice ("ON CONFLICT
  // DO UPDATE command cannot affect row a second time"), which would lose the whole pass.
  const bySerial = new Map<string, SignedResponse>();
  for (const row of given) if ((bySerial.get(row.serial)?.status_changed_at ?? -1) <= row.status_changed_at) bySerial.set(row.serial, row);
  const rows = [...bySerial.values()];
  if (!sql(handle).isTransaction) return inTransaction(handle as Store, (tx) => recordPresignPass(tx, rows));
  const pass = (await lastPresignPass(handle)) + 1;
  await writeSetting(handle, PASSES, String(pass));
  const db = sql(handle);
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    const values = chunk.map(() => `(${COLUMNS.map(() => '?').join(',')})`).join(',');
    const bindings = chunk.flatMap((r) => COLUMNS.map((c) => (c === 'written_in' ? pass : c === 'signed' ? Buffer.from(r.signed) : r[c])));
    await db.raw(
      `INSERT INTO ocsp_responses (${COLUMNS.join(',')}) VALUES ${values}
       ON CONFLICT (serial) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'serial').map((c) => `${c} = excluded.${c}`).join(', ')}
       WHERE ocsp_responses.status_changed_at <= excluded.status_changed_at`,
      bindings,
    );
  }
}

/** The number of the last pass recorded (0: none yet). Every response written in it or before is committed. */
export const lastPresignPass = async (handle: Handle): Promise<number> => Number((await readSetting(handle, PASSES)) ?? 0);

/**
 * Responses written in passes after (pass, serial), in that order: what an instance loads into memory as
 * it goes. `written_in >= pass` comes first so that both databases start the (written_in, serial) index
 * there (written only as an OR of the two cases, neither planner would: docs/performance.md).
 */
export const responsesWrittenAfterQuery = (handle: Handle, after: { pass: number; serial: string }, limit: number) =>
  sql(handle)('ocsp_responses')
    .select('*')
    .where('written_in', '>=', after.pass)
    .where((q) => q.where('written_in', '>', after.pass).orWhere('serial', '>', after.serial))
    .orderBy('written_in')
    .orderBy('serial')
    .limit(limit);

export const responsesWrittenAfter = (handle: Handle, after: { pass: number; serial: string }, limit: number): Promise<OcspResponseRow[]> => responsesWrittenAfterQuery(handle, after, limit);

/** Every response, a page at a time in serial order (an instance's first load). */
export const responsesAfterSerial = (handle: Handle, after: string, limit: number): Promise<OcspResponseRow[]> =>
  sql(handle)('ocsp_responses').select('*').where('serial', '>', after).orderBy('serial').limit(limit);

/** Responses no longer valid that nobody renewed (their certificate expired): removed. */
export const deleteResponsesExpiredBefore = async (handle: Handle, before: number): Promise<number> => Number(await sql(handle)('ocsp_responses').where('next_update', '<', before).delete());

export const countResponses = async (handle: Handle): Promise<number> => Number((await sql(handle)('ocsp_responses').count({ n: '*' }))[0]!.n);

/** A number of PostgreSQL's advisory-lock space that only the OCSP pre-signer uses (with the schema: advisory-lock.ts). */
const PRESIGNER_LOCK = 0x4f435350; // "OCSP"

/**
 * One pre-signing pass. On PostgreSQL, in a transaction holding the pre-signer's advisory lock, so one
 * instance signs at a time (another's pass returns undefined at once); on SQLite there is one process.
 */
export async function asPresigner<T>(store: Store, work: (handle: Handle) => Promise<T>): Promise<T | undefined> {
  const db = sql(store);
  if (!isPostgres(db)) return work(store);
  return db.transaction(async (trx) => {
    if (!(await tryAdvisoryXactLock(trx, PRESIGNER_LOCK))) return undefined;
    return work(trx as unknown as StoreTx);
  });
}
