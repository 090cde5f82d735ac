import { statusChangedSince } from './certificates.js';
import { sql, type Handle } from './handle.js';
import type { CrlEntry } from '../x509/crl-builder.js';
import { REASON_CODES, type ReasonName } from '../x509/revocation-reasons.js';

export interface CrlRow {
  issuer: string;
  number: number;
  this_update: number;
  next_update: number;
  entries: number;
  der: Buffer;
  created_at: number;
}

const PAGE = 10_000;

export function createCrlStore(db_: Handle) {
  const db = sql(db_);
  return {
    /** Next CRL number for `issuer`: an increment in its own transaction, so numbers only grow. */
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
     * Revoked, unexpired certificates of `issuer` in serial order, a page at a time (keyset
     * pagination): memory holds one page, whatever the size of the CRL.
     */
    async *revokedEntries(issuer: string, at: Date): AsyncGenerator<CrlEntry> {
      let after = '';
      for (;;) {
        const rows = await db('certificates')
          .select('serial', 'revoked_at', 'revocation_reason', 'invalidity_date')
          .where({ issuer, status: 'revoked' })
          .where('not_after', '>', at.getTime())
          .where('serial', '>', after)
          .orderBy('serial')
          .limit(PAGE);
        for (const r of rows) {
          yield {
            serial: r.serial,
            revokedAt: new Date(Number(r.revoked_at)),
            reasonCode: REASON_CODES[r.revocation_reason as ReasonName] ?? 0,
            invalidityDate: r.invalidity_date === null ? undefined : new Date(Number(r.invalidity_date)),
          };
        }
        if (rows.length < PAGE) return;
        after = rows[rows.length - 1].serial;
      }
    },

    async insert(row: CrlRow): Promise<void> {
      await db('crls').insert(row);
      // Keep a short history per issuer; serving only ever needs the newest.
      const old = await db('crls').where({ issuer: row.issuer }).orderBy('number', 'desc').offset(10).limit(1000).select('number');
      if (old.length) await db('crls').where({ issuer: row.issuer }).whereIn('number', old.map((o) => o.number)).del();
    },

    latest: (issuer: string): Promise<CrlRow | undefined> => db('crls').where({ issuer }).orderBy('number', 'desc').first(),

    /**
     * Whether this instance signs the next regeneration of `ca`'s CRL: a compare-and-set on a per-CA
     * row that stays claimed for a moment (long enough to sign, short enough that a crashed claimer
     * does not block for long).
     */
    async claimGeneration(ca: string, now: number): Promise<boolean> {
      const name = `crl.claim.${ca}`;
      const row = await db('settings').where({ name }).first();
      if (!row) {
        await db('settings').insert({ name, value: String(now) }).onConflict('name').ignore();
        return (await db('settings').where({ name }).first())?.value === String(now);
      }
      if (Number(row.value) > now - 500 && Number(row.value) <= now) return false;
      return (await db('settings').where({ name, value: row.value }).update({ value: String(now) })) === 1;
    },

    /** Whether a certificate of `issuer` changed status at or after `since` (a CRL made before then is stale). */
    changedSince: (issuer: string, since: number): Promise<boolean> => statusChangedSince(db_, issuer, since),

    /** issuer → newest number, one cheap query for instances polling for CRLs others signed. */
    async latestNumbers(): Promise<Map<string, number>> {
      const rows = (await db('crls').select('issuer').max({ number: 'number' }).groupBy('issuer')) as { issuer: string; number: number }[];
      return new Map(rows.map((r) => [r.issuer, Number(r.number)]));
    },
  };
}

export type CrlStore = ReturnType<typeof createCrlStore>;
