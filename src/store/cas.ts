import { sql, type Handle } from './handle.js';
import { sqlTx, type StoreTx } from './handle.js';

export interface CaRow {
  name: string;
  parent: string | null;
  key_uri: string;
  key_type: string;
  certificate: Buffer;
  serial: string;
  subject: string;
  ski: string;
  not_before: number;
  not_after: number;
  status: string;
  created_at: number;
  /** The CA this row is a generation of (its own name for the first). */
  family: string | null;
  active_from: number | null;
  retired_at: number | null;
}

export interface CaStore {
  list(): Promise<CaRow[]>;
  get(name: string): Promise<CaRow | undefined>;
  /**
   * Records a CA; a subordinate (or a link certificate's CA) is also a certificate its parent issued,
   * recorded with it so it can be listed and revoked.
   */
  insert(tx: StoreTx, row: CaRow, requestedBy: string): Promise<void>;
  /** Marks a CA retired (nothing left to vouch for) or revoked. */
  setStatus(handle: Handle, name: string, status: 'retired' | 'revoked', at: number): Promise<void>;
}

export function createCaStore(db_: Handle): CaStore {
  const db = sql(db_);
  return {
    list: () => db('cas').select('*').orderBy('created_at').orderBy('name'),
    get: (name) => db('cas').where({ name }).first(),
    insert: async (tx, row, requestedBy) => {
      const trx = sqlTx(tx);
      await trx('cas').insert(row);
      if (!row.parent) return;
      await trx('certificates').insert({
        serial: row.serial,
        issuer: row.parent,
        profile: 'ca',
        identity: row.name,
        subject: row.subject,
        status: 'active',
        not_before: row.not_before,
        not_after: row.not_after,
        der: row.certificate,
        key_type: row.key_type,
        requested_by: requestedBy,
        created_at: row.created_at,
        issued_at: row.created_at,
      });
    },
    setStatus: async (handle, name, status, at) => void (await sql(handle)('cas').where({ name }).update({ status, retired_at: at })),
  };
}
