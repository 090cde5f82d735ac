import { asTx, sql, sqlTx, type Handle, type StoreTx } from './handle.js';
import type { Knex } from 'knex';
import { isPostgres } from './db.js';
import { insertMany, ROWS_PER_STATEMENT } from './insert-many.js';
import { together } from './together.js';
import { recordIntentsWithAudit as recordIntentsWithAuditPg } from './pg-intents.js';
import { recordIntentsWithAuditSqlite } from './sqlite-intents.js';
import type { PendingAuditRow } from './audit.js';
import { byteaText, nameOfText } from './pg-prepared.js';
import { bindKeys, type KeyBinding, type KeyRefusal } from './public-keys.js';

export type CertificateStatus = 'pending' | 'active' | 'revoked' | 'failed';

export interface CertificateRow {
  serial: string;
  issuer: string;
  profile: string;
  identity: string | null;
  subject: string;
  status: CertificateStatus;
  not_before: number;
  not_after: number;
  tbs: Buffer | null;
  der: Buffer | null;
  key_type: string;
  requested_by: string;
  created_at: number;
  issued_at: number | null;
  revoked_at: number | null;
  revocation_reason: string | null;
  invalidity_date: number | null;
  status_changed_at?: number | null;
  superseded_by?: string | null;
  superseded_at?: number | null;
  /** The CRL shard its distribution point names (ca/crl-scope.ts); null: the CA's whole CRL. */
  crl_shard?: number | null;
}

export type CertificateIntent = Pick<
  CertificateRow,
  'serial' | 'issuer' | 'profile' | 'identity' | 'subject' | 'not_before' | 'not_after' | 'key_type' | 'requested_by' | 'created_at' | 'crl_shard'
> & { tbs: Uint8Array };

/** An intent with the public key it certifies (store/public-keys.ts). */
export type KeyedIntent = CertificateIntent & { key_id: string };
/** An audit entry with the key of the intent it tells of, or null when it tells of none (a lint failure). */
export type KeyedAuditRow = PendingAuditRow & { key_id: string | null };
/** What single issuances record in one trip: the keys' bindings, the intents and their audit entries. */
export interface KeyedIntents {
  bindings: KeyBinding[];
  intents: KeyedIntent[];
  entries: KeyedAuditRow[];
  now: number;
}

/** What issuance needs from storage: reserve + record the intents, then record the outcomes. */
export interface IssuanceStore {
  /** Inserts the pending rows; a serial already taken throws (the caller draws others). */
  recordIntents(tx: StoreTx, intents: CertificateIntent[]): Promise<void>;
  /**
   * Every one must have been pending; otherwise nothing is recorded and it throws. Inside `trx` when
   * given (the caller records more with them), else atomically on its own.
   */
  recordIssued(certificates: { serial: string; der: Uint8Array }[], issuedAt: number, tx?: StoreTx): Promise<void>;
  recordFailed(serials: string[]): Promise<void>;
  /**
   * Binds each key to its identity and records the intents with their audit entries (unsequenced): one
   * statement on PostgreSQL (pg-intents.ts), the binding then one script on SQLite (sqlite-intents.ts).
   * A key bound to another identity, or compromised, keeps its intents and their entries out; those
   * refusals are returned.
   */
  recordIntentsWithAudit(record: KeyedIntents): Promise<KeyRefusal[]>;
  /** Binds each public key to its identity (first come keeps it); the refused ones (store/public-keys.ts). */
  bindKeys(bindings: KeyBinding[], now: number): Promise<KeyRefusal[]>;
  /** One transaction for what must land together with the certificates' rows. */
  transaction<T>(work: (tx: StoreTx) => Promise<T>): Promise<T>;
}

const CHUNK = ROWS_PER_STATEMENT;

export interface CertificateFilter {
  status?: 'active' | 'revoked' | 'expired' | 'pending' | 'failed';
  identity?: string;
  issuer?: string;
  /** Active certificates whose notAfter falls within this many days. */
  expiringWithinDays?: number;
  limit?: number;
  offset?: number;
}

export type StatusRow = Pick<CertificateRow, 'serial' | 'issuer' | 'status' | 'revoked_at' | 'revocation_reason'>;

export interface CertificateQueries {
  get(serial: string): Promise<CertificateRow | undefined>;
  /** What OCSP answers from, for many certificates in one read (those found). */
  statuses(serials: string[]): Promise<StatusRow[]>;
  list(filter: CertificateFilter, now: Date): Promise<CertificateRow[]>;
  /** The list's query, not run (its plan is checked in tests). */
  listQuery(filter: CertificateFilter, now: Date): Knex.QueryBuilder;
}

/**
 * PostgreSQL: the outcomes as one statement whatever their number, rows as a JSON parameter made into
 * the table's row type, sent under one name (pg-prepared.ts): one short text, prepared once per
 * connection, with nothing to parse or plan per batch (parsing and planning the UPDATE … FROM form was
 * 0.4 of the 0.86 ms PostgreSQL spent recording a batch of one; docs/issuance-performance.md).
 *
 * It is an INSERT … ON CONFLICT (serial) DO UPDATE so that its plan cannot depend on the table: each row
 * is found through the primary key, the conflict arbiter, never through a scan the planner chose. A
 * prepared UPDATE … FROM keeps the generic plan made on its sixth run, and on a table still small that
 * is a sequential scan, kept as the table grows. Nor is the status index ever walked: every certificate
 * recorded leaves its 'pending' entry in that index, dead, until VACUUM (measured: 20,000 factory
 * certificates made each EST batch's UPDATE 6–12 ms when the planner took it).
 *
 * All or none: a row is updated only while its intent is pending; a serial with no intent would be
 * inserted as 'unrecorded' (it never is: hallmark_refuse, migration 024, fails the statement first, and
 * its empty issuer is no CA). Unless every row was recorded, the statement fails and changes nothing.
 */
export const ISSUED_PG = `WITH v AS (SELECT serial, der FROM jsonb_populate_recordset(NULL::certificates, ?::jsonb)),
recorded AS (
  INSERT INTO certificates AS c (serial, issuer, profile, subject, status, not_before, not_after, key_type, requested_by, created_at, der, issued_at)
  SELECT serial, '', '', '', 'unrecorded', 0, 0, '', '', 0, der, ?::bigint FROM v
  ON CONFLICT (serial) DO UPDATE SET status = 'active', der = EXCLUDED.der, tbs = NULL, issued_at = EXCLUDED.issued_at
  WHERE c.status = 'pending'
  RETURNING c.status
), counted AS (
  SELECT (SELECT count(*) FROM recorded WHERE status = 'active') AS recorded, (SELECT count(*) FROM v) AS wanted
)
SELECT CASE WHEN recorded = wanted THEN recorded
  ELSE hallmark_refuse(format('%s of %s certificates were not pending when their signatures arrived; none was recorded', wanted - recorded, wanted)) END AS recorded
FROM counted`;
const ISSUED_PG_NAME = nameOfText(ISSUED_PG);

export function createIssuanceStore(db_: Handle): IssuanceStore {
  const db = sql(db_);
  // node-postgres sends a Buffer untyped: inside CASE it must be told it is bytea.
  const blob = isPostgres(db) ? '?::bytea' : '?';
  const updateIssued = async (q: Knex | Knex.Transaction, chunk: { serial: string; der: Uint8Array }[], issuedAt: number): Promise<number> => {
    if (isPostgres(db)) {
      const rows = JSON.stringify(chunk.map((c) => ({ serial: c.serial, der: byteaText(c.der) })));
      const result = (await q.raw(ISSUED_PG, [rows, issuedAt]).options({ name: ISSUED_PG_NAME })) as { rows: { recorded: string }[] };
      return Number(result.rows[0]!.recorded);
    }
    const cases = chunk.map(() => `WHEN ? THEN ${blob}`).join(' ');
    const bindings = chunk.flatMap((c) => [c.serial, Buffer.from(c.der)]);
    // The certificate contains the TBS: keep one copy.
    const serials = chunk.map((c) => c.serial);
    // All or none: the statement changes nothing unless every one of them is still pending.
    return q('certificates')
      .whereIn('serial', serials)
      .where({ status: 'pending' })
      .whereRaw(`(select count(*) from certificates where serial in (${serials.map(() => '?').join(',')}) and status = 'pending') = ?`, [...serials, serials.length])
      .update({ status: 'active', der: q.raw(`CASE serial ${cases} END`, bindings), tbs: null, issued_at: issuedAt });
  };
  return {
    async recordIntents(tx, intents) {
      const rows = intents.map((intent) => ({ ...intent, tbs: Buffer.from(intent.tbs), status: 'pending' }));
      await insertMany(sqlTx(tx), 'certificates', rows, CHUNK);
    },
    async recordIssued(certificates, issuedAt, tx) {
      const trx = tx && sqlTx(tx);
      const record = async (q: Knex | Knex.Transaction, chunk: typeof certificates) => {
        const updated = await updateIssued(q, chunk, issuedAt);
        if (updated !== chunk.length) {
          const [{ n }] = await q('certificates').whereIn('serial', chunk.map((c) => c.serial)).where({ status: 'pending' }).count({ n: '*' });
          throw new Error(`${chunk.length - Number(n)} of ${chunk.length} certificates were not pending when their signatures arrived; none was recorded`);
        }
      };
      // One statement is atomic on its own (and all-or-none, above); BEGIN and COMMIT would be two more
      // round trips, which under load each wait a full turn of a busy event loop. Several share a transaction.
      const chunks = (q: Knex | Knex.Transaction) => together(q, Array.from({ length: Math.ceil(certificates.length / CHUNK) }, (_, i) => () => record(q, certificates.slice(i * CHUNK, (i + 1) * CHUNK))));
      if (trx) return chunks(trx);
      if (certificates.length <= CHUNK) return record(db, certificates);
      await db.transaction(chunks);
    },
    bindKeys: (bindings, now) => bindKeys(db_, bindings, now),
    transaction: (work) => db.transaction((trx) => work(asTx(trx))),
    recordIntentsWithAudit: (record) => (isPostgres(db) ? recordIntentsWithAuditPg : recordIntentsWithAuditSqlite)(db_, record),
    async recordFailed(serials) {
      for (let i = 0; i < serials.length; i += CHUNK) await db('certificates').whereIn('serial', serials.slice(i, i + CHUNK)).where({ status: 'pending' }).update({ status: 'failed' });
    },
  };
}

export function createCertificateQueries(db_: Handle): CertificateQueries {
  const db = sql(db_);
  return {
    async get(serial) {
      return db('certificates').where({ serial }).first();
    },
    async statuses(serials) {
      return serials.length ? db('certificates').select('serial', 'issuer', 'status', 'revoked_at', 'revocation_reason').whereIn('serial', serials) : [];
    },
    async list(filter, now) {
      return (await this.listQuery(filter, now)) as CertificateRow[];
    },
    listQuery(filter, now) {
      // Newest first through migration 007's (created_at DESC, serial) index, reading `limit` rows.
      // Filters that match most certificates (active, an issuer) are written so that no index can
      // serve them (`column || ''`): given one, the planner walked every active certificate of the
      // CA and sorted them (1.1–1.5 s at a million on SQLite, holding its one connection). Rare
      // statuses, an identity and expiry windows keep their indexes.
      const q = db('certificates').select('*').orderBy('created_at', 'desc').orderBy('serial');
      const t = now.getTime();
      if (filter.status === 'active') q.whereRaw(`status || '' = 'active'`).where('not_after', '>', t);
      else if (filter.status === 'expired') q.whereIn('status', ['active']).where('not_after', '<=', t);
      else if (filter.status) q.where({ status: filter.status });
      if (filter.identity) q.where({ identity: filter.identity });
      if (filter.issuer) q.whereRaw(`issuer || '' = ?`, [filter.issuer]);
      if (filter.expiringWithinDays !== undefined) {
        q.where({ status: 'active' }).where('not_after', '>', t).where('not_after', '<=', t + filter.expiringWithinDays * 86_400_000);
      }
      q.limit(filter.limit ?? 1000).offset(filter.offset ?? 0);
      return q;
    },
  };
}

/** Profiles Hallmark issues to itself, a few certificates each. */
export type InternalProfile = 'link' | 'ocsp-signer' | 'tls-server';
// Word for word the WHERE of migration 007's partial index: SQLite's planner matches the query's text.
const INTERNAL_PROFILES = `profile IN ('link', 'ocsp-signer', 'tls-server')`;

/**
 * Every certificate of an internal profile (its plan is checked in tests). Nothing else is asked of
 * the database: given status and notAfter too, SQLite's planner would rather walk the (status,
 * not_after) index, i.e. every active certificate.
 */
export const internalCertificatesQuery = (handle: Handle, profile: InternalProfile) => sql(handle)('certificates').select('*').whereRaw(INTERNAL_PROFILES).where({ profile });

export const findCertificate = (handle: Handle, serial: string): Promise<CertificateRow | undefined> => sql(handle)('certificates').where({ serial }).first();

/** The certificates of an internal profile valid at `now`, latest notAfter first. */
export async function activeInternalCertificates(db_: Handle, profile: InternalProfile, now: number): Promise<CertificateRow[]> {
  const rows = (await internalCertificatesQuery(db_, profile)) as CertificateRow[];
  return rows.filter((r) => r.status === 'active' && Number(r.not_after) > now).sort((a, b) => Number(b.not_after) - Number(a.not_after));
}

/**
 * A certificate of `issuer` (of one CRL shard of it, when `shard` is a number) revoked or released at
 * or after `since`, if any (its plan is checked in tests).
 */
export const statusChangedSinceQuery = (handle: Handle, issuer: string, since: number, shard: number | null = null) => {
  const query = sql(handle)('certificates').select('serial').where({ issuer }).where('status_changed_at', '>=', since);
  return (shard === null ? query : query.where({ crl_shard: shard })).limit(1);
};

/**
 * Whether a certificate of `issuer` changed status at or after `since` (a CRL made before then is
 * stale). Asked every poll, so through migration 007's partial index of status changes: a lookup, not
 * a read of every certificate the CA issued.
 */
export async function statusChangedSince(db_: Handle, issuer: string, since: number, shard: number | null = null): Promise<boolean> {
  return (await statusChangedSinceQuery(db_, issuer, since, shard)).length > 0;
}

/**
 * Renewed certificates still active whose grace period ended by `cutoff`, a thousand at a time (its
 * plan is checked in tests). `superseded_by IS NOT NULL` is word for word the WHERE of migration 007's
 * partial index of renewed certificates: SQLite's planner matches the query's text.
 */
export const supersededDueQuery = (handle: Handle, cutoff: number) => sql(handle)('certificates').select('serial').whereRaw('superseded_by IS NOT NULL').where({ status: 'active' }).where('superseded_at', '<=', cutoff).limit(1000);

/** Marks a certificate replaced by another (renewal, re-issue). */
export const markSuperseded = async (handle: Handle, serial: string, by: string, at: number): Promise<void> =>
  void (await sql(handle)('certificates').where({ serial }).update({ superseded_by: by, superseded_at: at }));

/** Certificates recorded as a whole, signed elsewhere: link certificates between root generations. */
export const insertIssuedCertificates = async (tx: StoreTx, rows: Record<string, unknown>[]): Promise<void> => {
  for (const row of rows) await sqlTx(tx)('certificates').insert(row);
};

export interface Revocation {
  revoked_at: number | null;
  revocation_reason: string;
  invalidity_date: number | null;
  status_changed_at: number;
}

/** Revokes a certificate still in the status the caller saw (compare-and-set: of two revocations, one wins). */
export const revokeIfStatus = async (tx: StoreTx, serial: string, seen: string, revocation: Revocation): Promise<boolean> =>
  (await sqlTx(tx)('certificates').where({ serial, status: seen }).update({ status: 'revoked', ...revocation })) === 1;

/** A certificate on hold becomes active again (RFC 5280 §5.3.1, removeFromCRL). */
export const releaseFromHold = async (tx: StoreTx, serial: string, at: number): Promise<void> =>
  void (await sqlTx(tx)('certificates').where({ serial, status: 'revoked' }).update({ status: 'active', revoked_at: null, revocation_reason: null, invalidity_date: null, status_changed_at: at }));

/** Whether `issuer` has an active certificate that has not expired. */
export const hasLiveCertificates = async (handle: Handle, issuer: string, now: number): Promise<boolean> =>
  Boolean(await sql(handle)('certificates').where({ issuer, status: 'active' }).where('not_after', '>', now).first('serial'));

/** Status changes after `since`, oldest first, at most `limit` (what caches must forget). */
export const statusChangesAfter = (handle: Handle, since: number, limit: number): Promise<{ serial: string; issuer: string; status_changed_at: number }[]> =>
  sql(handle)('certificates').select('serial', 'issuer', 'status_changed_at').where('status_changed_at', '>', since).orderBy('status_changed_at').limit(limit);

export interface PendingIntent {
  serial: string;
  issuer: string;
  profile: string;
  identity: string | null;
  created_at: number;
}

/** Intents recorded before `cutoff` that never became certificates, at most `limit`. */
export const pendingIntentsBefore = (handle: Handle, cutoff: number, limit: number): Promise<PendingIntent[]> =>
  sql(handle)('certificates').select('serial', 'issuer', 'profile', 'identity', 'created_at').where({ status: 'pending' }).where('created_at', '<', cutoff).limit(limit);

/** Marks these intents failed if they are still pending (compare-and-set); returns those it marked. */
export async function failPendingIntents(tx: StoreTx, serials: string[]): Promise<string[]> {
  const trx = sqlTx(tx);
  const still = ((await trx('certificates').select('serial').whereIn('serial', serials).where({ status: 'pending' })) as { serial: string }[]).map((r) => r.serial);
  if (still.length) await trx('certificates').whereIn('serial', still).where({ status: 'pending' }).update({ status: 'failed' });
  return still;
}

/**
 * Certificates of a revoked CA that still need a replacement. Not those bound to a key on the token:
 * responders, links, the time-stamping authority, the CMP responder and the SCEP RA are made anew; a firmware signer is replaced by a
 * new signer (docs/firmware-signing.md).
 */
const toReissue = (handle: Handle, issuer: string, now: number) =>
  sql(handle)('certificates').where({ issuer, status: 'active' }).whereNull('superseded_by').where('not_after', '>', now).whereNotIn('profile', ['ocsp-signer', 'link', 'tsa', 'cmp-responder', 'scep-ra', 'firmware-signer']);

export const countToReissue = async (handle: Handle, issuer: string, now: number): Promise<number> => Number((await toReissue(handle, issuer, now).count({ n: '*' }))[0]!.n);

/** The next certificates to re-issue in serial order, skipping those that failed. */
export const nextToReissue = (handle: Handle, issuer: string, now: number, skip: string[], limit: number): Promise<Pick<CertificateRow, 'serial' | 'der' | 'profile' | 'identity'>[]> =>
  toReissue(handle, issuer, now).select('serial', 'der', 'profile', 'identity').whereNotIn('serial', skip).orderBy('serial').limit(limit);
