import type { Knex } from 'knex';
import type { Db } from './db.js';

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
  insert(trx: Knex.Transaction, row: CaRow): Promise<void>;
}

export function createCaStore(db: Db): CaStore {
  return {
    list: () => db('cas').select('*').orderBy('created_at').orderBy('name'),
    get: (name) => db('cas').where({ name }).first(),
    insert: async (trx, row) => {
      await trx('cas').insert(row);
    },
  };
}
