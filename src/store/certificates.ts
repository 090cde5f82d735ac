import type { Knex } from 'knex';
import type { Db } from './db.js';

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
}

export type CertificateIntent = Pick<
  CertificateRow,
  'serial' | 'issuer' | 'profile' | 'identity' | 'subject' | 'not_before' | 'not_after' | 'key_type' | 'requested_by' | 'created_at'
> & { tbs: Uint8Array };

/** What issuance needs from storage: reserve + record the intent, then record the outcome. */
export interface IssuanceStore {
  /** Inserts the pending row; a serial already taken throws (the caller draws another). */
  recordIntent(trx: Knex.Transaction, intent: CertificateIntent): Promise<void>;
  recordIssued(serial: string, der: Uint8Array, issuedAt: number): Promise<void>;
  recordFailed(serial: string): Promise<void>;
}

export interface CertificateFilter {
  status?: 'active' | 'revoked' | 'expired' | 'pending' | 'failed';
  identity?: string;
  issuer?: string;
  /** Active certificates whose notAfter falls within this many days. */
  expiringWithinDays?: number;
  limit?: number;
  offset?: number;
}

export interface CertificateQueries {
  get(serial: string): Promise<CertificateRow | undefined>;
  list(filter: CertificateFilter, now: Date): Promise<CertificateRow[]>;
}

export function createIssuanceStore(db: Db): IssuanceStore {
  return {
    async recordIntent(trx, intent) {
      await trx('certificates').insert({ ...intent, tbs: Buffer.from(intent.tbs), status: 'pending' });
    },
    async recordIssued(serial, der, issuedAt) {
      // The certificate contains the TBS: keep one copy.
      const updated = await db('certificates')
        .where({ serial, status: 'pending' })
        .update({ status: 'active', der: Buffer.from(der), tbs: null, issued_at: issuedAt });
      if (updated !== 1) throw new Error(`certificate ${serial} was not pending when its signature arrived`);
    },
    async recordFailed(serial) {
      await db('certificates').where({ serial, status: 'pending' }).update({ status: 'failed' });
    },
  };
}

export function createCertificateQueries(db: Db): CertificateQueries {
  return {
    async get(serial) {
      return db('certificates').where({ serial }).first();
    },
    async list(filter, now) {
      const q = db('certificates').select('*').orderBy('created_at', 'desc').orderBy('serial');
      const t = now.getTime();
      if (filter.status === 'active') q.where({ status: 'active' }).where('not_after', '>', t);
      else if (filter.status === 'expired') q.whereIn('status', ['active']).where('not_after', '<=', t);
      else if (filter.status) q.where({ status: filter.status });
      if (filter.identity) q.where({ identity: filter.identity });
      if (filter.issuer) q.where({ issuer: filter.issuer });
      if (filter.expiringWithinDays !== undefined) {
        q.where({ status: 'active' }).where('not_after', '>', t).where('not_after', '<=', t + filter.expiringWithinDays * 86_400_000);
      }
      q.limit(filter.limit ?? 1000).offset(filter.offset ?? 0);
      return q;
    },
  };
}
