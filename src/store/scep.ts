import { sql, type Handle } from './handle.js';
import { insertOnce } from './insert-once.js';

/** One SCEP transaction (migration 021). */
export interface ScepTransactionRow {
  transaction_id: string;
  label: string;
  device: string | null;
  message_type: string;
  state: 'working' | 'issued' | 'pending' | 'failed' | 'rejected';
  serial: string | null;
  secret_id: string | null;
  held_request: string | null;
  request: Buffer | null;
  created_at: number;
}

/** A new transaction; false when its transactionID was used before (RFC 8894 §3.2.1.1). */
export const startScepTransaction = (handle: Handle, row: ScepTransactionRow): Promise<boolean> => insertOnce(handle, 'scep_transactions', row);

export const findScepTransaction = (handle: Handle, id: string): Promise<ScepTransactionRow | undefined> => sql(handle)('scep_transactions').where({ transaction_id: id }).first();

/** Moves a transaction on from `from` (compare-and-set); false when it had moved already. */
export const updateScepTransaction = async (handle: Handle, id: string, from: ScepTransactionRow['state'], change: Partial<ScepTransactionRow>): Promise<boolean> =>
  (await sql(handle)('scep_transactions').where({ transaction_id: id, state: from }).update(change)) === 1;
