import { statusChangedSince } from './certificates.js';
import { sql, type Handle } from './handle.js';
import type { CrlEntry } from '../x509/crl-builder.js';
import { REASON_CODES, REMOVE_FROM_CRL, type ReasonName } from '../x509/revocation-reasons.js';

export interface CrlRow {
  issuer: string;
  number: number;
  this_update: number;
  next_update: number;
  entries: number;
  der: Buffer;
  created_at: number;
  /** The shard this CRL covers; -1 (WHOLE) for every certificate of the issuer. */
  shard: number;
  /** A delta CRL's base (the complete CRL it updates); null for a complete CRL. */
  base_number: number | null;
}

/** crls.shard of a CRL that covers every certificate of its issuer. */
export const WHOLE = -1;

export type CrlKindName = 'complete' | 'delta';

const PAGE = 10_000;
/** Complete and delta CRLs kept per scope; serving only ever needs the newest of each. */
const HISTORY = 10;

const shardColumn = (shard: number | null) => shard ?? WHOLE;

const entryOf = (r: { serial: string; revoked_at: number | string; revocation_reason: string | null; invalidity_date: number | string | null }): CrlEntry => ({
  serial: r.serial,
  revokedAt: new Date(Number(r.revoked_at)),
  reasonCode: REASON_CODES[r.revocation_reason as ReasonName] ?? 0,
  invalidityDate: r.invalidity_date === null ? undefined : new Date(Number(r.invalidity_date)),
});

export function createCrlStore(db_: Handle) {
  const db = sql(db_);
  const ofKind = (kind: CrlKindName) => (kind === 'complete' ? 'base_number IS NULL' : 'base_number IS NOT NULL');
  return {
    /**
     * Next CRL number for `issuer`: an increment in its own transaction, so numbers only grow. Complete
     * and delta CRLs of every scope share the sequence (RFC 5280 §5.2.3 asks it of a scope's complete
     * and delta CRLs).
     */
    async reserveNumber(issuer: string): Promise<bigint> {
      return db.transaction(async (trx) => {
        await trx('crl_numbers').insert({ issuer, last_number: 0 }).onConflict('issuer').ignore();
        // The increment locks the row until commit: concurrent reservations queue, never share a number.
        await trx('crl_numbers').where({ issuer }).increment('last_number', 1);
        const row = await trx('crl_numbers').where({ issuer }).first();
        return BigInt(row.last_number);
      });
    },

    /**
     * Revoked, unexpired certificates of `issuer` (of one shard when `shard` is a number) in serial
     * order, a page at a time (keyset pagination): memory holds one page, whatever the size of the CRL.
     * A shard reads migration 016's partial index of revoked certificates, whose WHERE is repeated
     * here word for word.
     */
    async *revokedEntries(issuer: string, at: Date, shard: number | null = null): AsyncGenerator<CrlEntry> {
      let after = '';
      for (;;) {
        const rows = await revokedPageQuery(db_, issuer, at.getTime(), shard, after);
        for (const r of rows) yield entryOf(r);
        if (rows.length < PAGE) return;
        after = rows[rows.length - 1].serial;
      }
    },

    /**
     * What changed since a complete CRL was made (`since`, its created_at), for a delta CRL (RFC 5280
     * §5.2.4): certificates revoked since, with their reason, and certificates released from hold since,
     * as removeFromCRL (§5.3.1) dated when released. In serial order, a page at a time, through migration
     * 007's partial index of status changes.
     */
    async *changedEntries(issuer: string, since: number, at: Date, shard: number | null = null): AsyncGenerator<CrlEntry> {
      let after = '';
      for (;;) {
        const rows = await changedPageQuery(db_, issuer, since, at.getTime(), shard, after);
        for (const r of rows) {
          yield r.status === 'revoked' ? entryOf(r) : { serial: r.serial, revokedAt: new Date(Number(r.status_changed_at)), reasonCode: REMOVE_FROM_CRL };
        }
        if (rows.length < PAGE) return;
        after = rows[rows.length - 1].serial;
      }
    },

    async insert(row: CrlRow): Promise<void> {
      await db('crls').insert(row);
      const kind: CrlKindName = row.base_number === null ? 'complete' : 'delta';
      const scope = { issuer: row.issuer, shard: row.shard };
      const old = await db('crls').where(scope).whereRaw(ofKind(kind)).orderBy('number', 'desc').offset(HISTORY).limit(1000).select('number');
      if (old.length) await db('crls').where(scope).whereIn('number', old.map((o) => o.number)).del();
    },

    /** The newest CRL of a kind for one scope of `issuer` (the whole CRL when `shard` is null). */
    latest: (issuer: string, shard: number | null = null, kind: CrlKindName = 'complete'): Promise<CrlRow | undefined> =>
      db('crls').where({ issuer, shard: shardColumn(shard) }).whereRaw(ofKind(kind)).orderBy('number', 'desc').first(),

    /**
     * Whether this instance signs the next regeneration of a CRL (`name` says which): a compare-and-set
     * on a row that stays claimed for a moment (long enough to sign, short enough that a crashed
     * claimer does not block for long).
     */
    async claimGeneration(name: string, now: number): Promise<boolean> {
      const setting = `crl.claim.${name}`;
      const row = await db('settings').where({ name: setting }).first();
      if (!row) {
        await db('settings').insert({ name: setting, value: String(now) }).onConflict('name').ignore();
        return (await db('settings').where({ name: setting }).first())?.value === String(now);
      }
      if (Number(row.value) > now - 500 && Number(row.value) <= now) return false;
      return (await db('settings').where({ name: setting, value: row.value }).update({ value: String(now) })) === 1;
    },

    /** Whether a certificate of `issuer` (of one shard) changed status at or after `since` (a CRL made before then is stale). */
    changedSince: (issuer: string, since: number, shard: number | null = null): Promise<boolean> => statusChangedSince(db_, issuer, since, shard),

    /** The newest number of every CRL series (issuer, shard, kind): one cheap query for instances polling for CRLs others signed. */
    async latestNumbers(): Promise<{ issuer: string; shard: number | null; kind: CrlKindName; number: number }[]> {
      const kindOf = `CASE WHEN base_number IS NULL THEN 'complete' ELSE 'delta' END`;
      const rows = (await db('crls').select('issuer', 'shard', db.raw(`${kindOf} AS kind`)).max({ number: 'number' }).groupBy('issuer', 'shard', db.raw(kindOf))) as {
        issuer: string;
        shard: number;
        kind: CrlKindName;
        number: number;
      }[];
      return rows.map((r) => ({ issuer: r.issuer, shard: Number(r.shard) === WHOLE ? null : Number(r.shard), kind: r.kind, number: Number(r.number) }));
    },

    /**
     * Records that certificates of `family` are being issued over `count` shards: the count published
     * is the largest ever recorded (ca/crl-scope.ts scopesOf), so lowering it never orphans a shard.
     * Only ever raised, by a conditional update, whoever else writes it.
     */
    async recordShardCount(family: string, count: number): Promise<void> {
      const name = `crl.shards.${family}`;
      await db('settings').insert({ name, value: '0' }).onConflict('name').ignore();
      await db('settings').where({ name }).whereRaw('CAST(value AS INTEGER) < ?', [count]).update({ value: String(count) });
    },

    /** The largest shard count certificates of `family` were ever issued under (0: never sharded). */
    async shardCount(family: string): Promise<number> {
      const row = await db('settings').where({ name: `crl.shards.${family}` }).first();
      return row ? Number(row.value) : 0;
    },
  };
}

/**
 * One page of a complete CRL's entries (its plan is checked in tests): the whole CRL through the
 * (issuer, status, serial) index, a shard through migration 016's partial index of revoked
 * certificates, whose WHERE is repeated here word for word.
 */
export function revokedPageQuery(handle: Handle, issuer: string, at: number, shard: number | null, after: string) {
  const query = sql(handle)('certificates').select('serial', 'revoked_at', 'revocation_reason', 'invalidity_date');
  if (shard === null) query.where({ issuer, status: 'revoked' });
  else query.whereRaw(`status = 'revoked'`).where({ issuer, crl_shard: shard });
  return query.where('not_after', '>', at).where('serial', '>', after).orderBy('serial').limit(PAGE);
}

/** One page of a delta CRL's entries, through migration 007's partial index of status changes (its plan is checked in tests). */
export function changedPageQuery(handle: Handle, issuer: string, since: number, at: number, shard: number | null, after: string) {
  const query = sql(handle)('certificates').select('serial', 'status', 'status_changed_at', 'revoked_at', 'revocation_reason', 'invalidity_date').where({ issuer });
  if (shard !== null) query.where({ crl_shard: shard });
  return query.where('status_changed_at', '>=', since).whereIn('status', ['revoked', 'active']).where('not_after', '>', at).where('serial', '>', after).orderBy('serial').limit(PAGE);
}

/** The key of one CRL series (issuer, shard or "whole", kind) in caches. */
export const crlKey = (issuer: string, shard: number | null, kind: CrlKindName) => `${issuer} ${shard ?? 'whole'} ${kind}`;

export type CrlStore = ReturnType<typeof createCrlStore>;
