import { tryAdvisoryXactLock } from './advisory-lock.js';
import { isPostgres } from './db.js';
import type { StatusRow } from './certificates.js';
import { ROWS_PER_STATEMENT } from './insert-many.js';
import { sql, type Handle, type Store, type StoreTx } from './handle.js';

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
}

// `c.status || ''`: no index may answer it (the planner would take the (status, not_after) index over a
// fleet's worth of rows and sort them; in serial order the primary key reads a page and stops).
const ISSUED = `c.status || '' IN ('active', 'revoked')`;
/**
 * `after`: the sweep's position, stated on the joined side too. A certificate's response has its serial,
 * so the rows are the same; but PostgreSQL's merge join can then start the responses' primary key there.
 * Without it, each page read that index from its first row up to `after` (202 ms a page halfway through
 * a million, so the sweep slowed as it went: docs/performance.md).
 */
const candidateColumns = (handle: Handle, after?: string) =>
  sql(handle)('certificates as c')
    .leftJoin('ocsp_responses as r', (join) => {
      join.on('r.serial', '=', 'c.serial');
      if (after !== undefined) join.andOnVal('r.serial', '>', after);
    })
    .select('c.serial', 'c.issuer', 'c.status', 'c.revoked_at', 'c.revocation_reason', 'c.status_changed_at', 'c.created_at', 'r.next_update', { signed_status_at: 'r.status_changed_at' });

/** The sweep: issued, unexpired certificates after `after` in serial order, `limit` of them. */
export const presignSweepPageQuery = (handle: Handle, after: string, now: number, limit: number) =>
  candidateColumns(handle, after).where('c.serial', '>', after).whereRaw(ISSUED).where('c.not_after', '>', now).orderBy('c.serial').limit(limit);

export const presignSweepPage = (handle: Handle, after: string, now: number, limit: number): Promise<PresignCandidate[]> => presignSweepPageQuery(handle, after, now, limit);

/** Certificates recorded since `since` (creation order) that have no response yet. */
export const recentWithoutResponse = (handle: Handle, since: number, now: number, limit: number): Promise<PresignCandidate[]> =>
  candidateColumns(handle).where('c.created_at', '>', since).whereRaw(ISSUED).where('c.not_after', '>', now).whereNull('r.serial').orderBy('c.created_at').limit(limit);

/** These certificates, as the pre-signer sees them (their status just changed). */
export const presignCandidatesFor = (handle: Handle, serials: string[]): Promise<PresignCandidate[]> => candidateColumns(handle).whereIn('c.serial', serials);

const COLUMNS = ['serial', 'issuer', 'signed', 'responder', 'status_changed_at', 'this_update', 'next_update', 'signed_at'] as const;

/**
 * Writes responses, replacing older ones; never one signed from an older status than the stored one
 * (a status read before a revocation committed must not overwrite the revoked answer signed after it).
 */
export async function storeResponses(handle: Handle, rows: OcspResponseRow[]): Promise<void> {
  const db = sql(handle);
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    const values = chunk.map(() => `(${COLUMNS.map(() => '?').join(',')})`).join(',');
    const bindings = chunk.flatMap((r) => COLUMNS.map((c) => (c === 'signed' ? Buffer.from(r.signed) : r[c])));
    await db.raw(
      `INSERT INTO ocsp_responses (${COLUMNS.join(',')}) VALUES ${values}
       ON CONFLICT (serial) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'serial').map((c) => `${c} = excluded.${c}`).join(', ')}
       WHERE ocsp_responses.status_changed_at <= excluded.status_changed_at`,
      bindings,
    );
  }
}

/**
 * Responses signed after (at, serial), in that order (what an instance loads into memory as it goes).
 * `signed_at >= at` comes first so that both databases start the (signed_at, serial) index there. Written
 * only as `signed_at > at OR (signed_at = at AND serial > s)`, neither could: SQLite scanned the whole
 * index, PostgreSQL walked it from the start, filtering (570 ms a page at 560,000 responses, every poll
 * of every instance, so the pre-signing of ten million slowed as it went: docs/performance.md).
 */
export const responsesSignedAfterQuery = (handle: Handle, after: { at: number; serial: string }, limit: number) =>
  sql(handle)('ocsp_responses')
    .select('*')
    .where('signed_at', '>=', after.at)
    .where((q) => q.where('signed_at', '>', after.at).orWhere('serial', '>', after.serial))
    .orderBy('signed_at')
    .orderBy('serial')
    .limit(limit);

export const responsesSignedAfter = (handle: Handle, after: { at: number; serial: string }, limit: number): Promise<OcspResponseRow[]> => responsesSignedAfterQuery(handle, after, limit);

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
