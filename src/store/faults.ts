/**
 * Storage faults, whatever the database: what a client is told (503 with the reason and Retry-After)
 * instead of a 500. SQLite's result codes (https://www.sqlite.org/rescode.html) and PostgreSQL's
 * SQLSTATE classes (https://www.postgresql.org/docs/current/errcodes-appendix.html) that say the
 * storage, not the request, is at fault.
 */

/** Thrown by Hallmark itself when the SQLite file it opened is no longer the one at its path. */
export class DatabaseLostError extends Error {
  readonly code = 'HALLMARK_DATABASE_LOST';
}

const SQLITE: Record<string, string> = {
  SQLITE_BUSY: 'locked by another process beyond the busy timeout',
  SQLITE_LOCKED: 'locked',
  SQLITE_FULL: 'disk full',
  SQLITE_READONLY: 'read-only',
  SQLITE_IOERR: 'I/O error',
  SQLITE_CORRUPT: 'database file corrupt',
  SQLITE_NOTADB: 'not a database file',
  SQLITE_CANTOPEN: 'cannot open the database file',
  SQLITE_PROTOCOL: 'locking protocol error',
  SQLITE_NOMEM: 'out of memory',
  SQLITE_PERM: 'permission denied',
};

/** PostgreSQL SQLSTATE (exact codes first, then the class of the first two characters). */
const POSTGRES: Record<string, string> = {
  '53100': 'disk full',
  '53200': 'out of memory',
  '53300': 'too many connections',
  '25006': 'read-only',
  '58030': 'I/O error',
  XX001: 'data corrupted',
  XX002: 'index corrupted',
  '57014': 'statement cancelled (timeout)',
  '55P03': 'lock not available',
  '57P01': 'server shutting down',
  '57P02': 'server crashed',
  '57P03': 'server starting up',
  '40P01': 'deadlock',
};
const POSTGRES_CLASSES: Record<string, string> = { '08': 'connection lost', '53': 'insufficient resources', '58': 'system error' };

const NETWORK = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'];

/** Why the storage failed, in a few words, or undefined when `err` is not a storage fault. */
export function storageFault(err: unknown): string | undefined {
  const e = err as { code?: unknown; name?: string; message?: string } | undefined;
  if (!e) return undefined;
  if (e instanceof DatabaseLostError) return e.message;
  const code = typeof e.code === 'string' ? e.code : '';
  const sqlite = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? /^(SQLITE_[A-Z]+)(_[A-Z]+)*:/.exec(e.message ?? '')?.[1];
  if (sqlite && SQLITE[sqlite]) return SQLITE[sqlite];
  if (/^[0-9A-Z]{5}$/.test(code)) return POSTGRES[code] ?? POSTGRES_CLASSES[code.slice(0, 2)];
  if (NETWORK.includes(code)) return 'connection lost';
  if (e.name === 'KnexTimeoutError') return 'no database connection within the timeout';
  if (/Connection terminated|connect ECONNREFUSED|Client has encountered a connection error/.test(e.message ?? '')) return 'connection lost';
  return undefined;
}

/** Seconds a client should wait before trying again after a storage fault. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;
