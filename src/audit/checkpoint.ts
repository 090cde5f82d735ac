import type { KeyStore, Signer } from '../keys/key-store.js';
import { formatKeyUri, type KeyUri } from '../keys/key-uri.js';
import { hasCheckpointAt, readAuditHead, saveCheckpoint, type CheckpointRow } from '../store/audit.js';
import type { Handle } from '../store/handle.js';
import type { Clock } from '../base/clock.js';

export type { CheckpointRow } from '../store/audit.js';

export const auditKeyUri = (token: string): KeyUri => ({ token, object: 'hallmark-audit' });

/** What a checkpoint signs: a fixed label so the signature cannot be mistaken for anything else. */
export const checkpointMessage = (seq: number, hash: string, at: number) => Buffer.from(`hallmark-audit-checkpoint\n${seq}\n${hash}\n${at}\n`);

/** The audit key (ECDSA P-256 on the token); generated the first time it is needed. */
export async function auditSigner(keys: KeyStore, token: string): Promise<Signer> {
  const uri = auditKeyUri(token);
  if (await keys.hasKey(uri)) return keys.getSigner(uri);
  try {
    // P-256 where the token makes it, else RSA-3072 (openCryptoki's software token has no EC).
    return await keys.createKey(uri, (await keys.capabilities()).serviceKeyType ?? 'ec-p256');
  } catch (e) {
    // Another instance made it in the meantime.
    if ((e as { code?: string }).code === 'hsm_key_exists') return keys.getSigner(uri);
    throw e;
  }
}

/** Signs the current chain head with the HSM; a no-op when the head is already checkpointed. */
export async function writeCheckpoint(store: Handle, signer: Signer, token: string, clock: Clock): Promise<CheckpointRow | undefined> {
  const head = await readAuditHead(store);
  const seq = head.seq;
  if (seq === 0 || (await hasCheckpointAt(store, seq))) return undefined;
  const at = clock.now().getTime();
  const signature = await signer.sign(checkpointMessage(seq, head.hash, at));
  const row: CheckpointRow = { seq, hash: head.hash, at, key_uri: formatKeyUri(auditKeyUri(token)), signature: Buffer.from(signature) };
  await saveCheckpoint(store, row);
  return row;
}
