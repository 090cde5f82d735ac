import { sql, sqlTx, type Handle, type StoreTx } from './handle.js';
import { insertOnce } from './insert-once.js';

/** A challenge handed out for TPM-attested enrollment (migration 020). */
export interface TpmChallengeRow {
  id: string;
  identity: string;
  profile: string;
  requester: string;
  nonce: string;
  secret_sha256: string;
  ek_id: string;
  ek_certificate: Uint8Array | null;
  ek_public: Uint8Array;
  ak_public: Uint8Array;
  key_public: Uint8Array;
  created_at: number;
  expires_at: number;
  answered_at: number | null;
}

export async function insertTpmChallenge(handle: Handle, row: TpmChallengeRow): Promise<void> {
  await sql(handle)('tpm_challenges').insert({ ...row, ek_certificate: row.ek_certificate && Buffer.from(row.ek_certificate), ek_public: Buffer.from(row.ek_public), ak_public: Buffer.from(row.ak_public), key_public: Buffer.from(row.key_public) });
}

export const findTpmChallenge = (handle: Handle, id: string): Promise<TpmChallengeRow | undefined> => sql(handle)('tpm_challenges').where({ id }).first();

/** Marks a challenge answered (compare-and-set): of two answers, one gets it; false for the other. */
export const answerTpmChallenge = async (handle: Handle, id: string, at: number): Promise<boolean> =>
  (await sql(handle)('tpm_challenges').where({ id }).whereNull('answered_at').update({ answered_at: at })) === 1;

/** Challenges expired before `before` are of no use to anyone: removed by the periodic check. */
export const pruneTpmChallenges = async (handle: Handle, before: number): Promise<number> => sql(handle)('tpm_challenges').where('expires_at', '<', before).del();

/** One TPM bound to one identity (migration 020). */
export interface TpmBindingRow {
  ek_id: string;
  identity: string;
  ek_certificate_serial: string | null;
  ek_issuer: string | null;
  manufacturer: string | null;
  certificate_serial: string | null;
  bound_at: number;
}

export const findTpmBinding = (handle: Handle, ekId: string): Promise<TpmBindingRow | undefined> => sql(handle)('tpm_bindings').where({ ek_id: ekId }).first();

/**
 * Binds the TPM to the identity unless it is bound already: 'new' when this call bound it, 'same' when
 * it was bound to this identity before, or the other identity it is bound to. Of two concurrent
 * claims for one TPM, the database's primary key lets one win.
 */
export async function claimTpmBinding(handle: Handle, row: TpmBindingRow): Promise<'new' | 'same' | { boundTo: string }> {
  if (await insertOnce(handle, 'tpm_bindings', row)) return 'new';
  const existing = await findTpmBinding(handle, row.ek_id);
  if (!existing) return claimTpmBinding(handle, row);
  return existing.identity === row.identity ? 'same' : { boundTo: existing.identity };
}

/** Undoes a claim this request made when nothing was issued. */
export const releaseTpmBinding = async (handle: Handle, ekId: string, identity: string): Promise<void> => void (await sql(handle)('tpm_bindings').where({ ek_id: ekId, identity }).del());

/** Releases whatever TPM an identity is bound to (the device is re-provisioned); how many were. */
export const releaseTpmBindingsOf = async (handle: Handle, identity: string): Promise<number> => sql(handle)('tpm_bindings').where({ identity }).del();

/** The certificate the binding last produced, written with the certificate. */
export const recordBindingCertificate = async (tx: StoreTx, ekId: string, serial: string): Promise<void> => void (await sqlTx(tx)('tpm_bindings').where({ ek_id: ekId }).update({ certificate_serial: serial }));

export const bindingsOf = (handle: Handle, identity: string): Promise<TpmBindingRow[]> => sql(handle)('tpm_bindings').where({ identity });
