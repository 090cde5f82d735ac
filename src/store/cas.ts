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
  /** Records a CA (a subordinate's certificate is also recorded as its parent's: ca/ca-records.ts). */
  insert(tx: StoreTx, row: CaRow): Promise<void>;
  /** Marks a CA retired (nothing left to vouch for) or revoked. */
  setStatus(handle: Handle, name: string, status: 'retired' | 'revoked', at: number): Promise<void>;
}

export function createCaStore(db_: Handle): CaStore {
  const db = sql(db_);
  return {
    list: () => db('cas').select('*').orderBy('created_at').orderBy('name'),
    get: (name) => db('cas').where({ name }).first(),
    insert: async (tx, row) => {
      await sqlTx(tx)('cas').insert(row);
    },
    setStatus: async (handle, name, status, at) => void (await sql(handle)('cas').where({ name }).update({ status, retired_at: at })),
  };
}
