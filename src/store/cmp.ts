import { sql, type Handle } from './handle.js';
import { insertOnce } from './insert-once.js';

/** One CMP transaction (migration 019). */
export interface CmpTransactionRow {
  transaction_id: string;
  label: string;
  sender: string;
  request_type: string;
  client_nonce: string | null;
  server_nonce: string | null;
  state: 'waiting' | 'confirmed' | 'rejected' | 'done' | 'polling';
  serial: string | null;
  cert_hash: string | null;
  protection: 'mac' | 'signature' | 'manufacturer';
  secret_id: string | null;
  created_at: number;
  confirm_by: number | null;
  /** A request held for approval, as sent (polling). */
  request?: Buffer | null;
  held_request?: string | null;
}

/** A new transaction; false when its id was used before (RFC 9810 §5.1.1: transactionID is unique). */
export const startCmpTransaction = (handle: Handle, row: CmpTransactionRow): Promise<boolean> => insertOnce(handle, 'cmp_transactions', row);

export const findCmpTransaction = (handle: Handle, id: string): Promise<CmpTransactionRow | undefined> => sql(handle)('cmp_transactions').where({ transaction_id: id }).first();

/** The transaction moves on from `from` (compare-and-set); false when it had moved already. */
export async function updateCmpTransaction(handle: Handle, id: string, from: CmpTransactionRow['state'], change: Partial<CmpTransactionRow>): Promise<boolean> {
  return (await sql(handle)('cmp_transactions').where({ transaction_id: id, state: from }).update(change)) === 1;
}

/** Certificates issued but not confirmed in time (their transactions wait past confirm_by). */
export const unconfirmedCmpTransactions = (handle: Handle, now: number): Promise<CmpTransactionRow[]> =>
  sql(handle)('cmp_transactions').where({ state: 'waiting' }).where('confirm_by', '<=', now).limit(500);
