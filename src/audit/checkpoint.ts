import type { KeyStore, Signer } from '../keys/key-store.js';
import { formatKeyUri, type KeyUri } from '../keys/key-uri.js';
import { ownSigner } from '../keys/service-keys.js';
import { hasCheckpointAt, readAuditHead, saveCheckpoint, type CheckpointRow } from '../store/audit.js';
import type { Handle } from '../store/handle.js';
import type { Clock } from '../base/clock.js';

export type { CheckpointRow } from '../store/audit.js';

export const auditKeyUri = (token: string): KeyUri => ({ token, object: 'hallmark-audit' });

/** What a checkpoint signs: a fixed label so the signature cannot be mistaken for anything else. */
export const checkpointMessage = (seq: number, hash: string, at: number) => Buffer.from(`hallmark-audit-checkpoint\n${seq}\n${hash}\n${at}\n`);

/** The audit key (a service key on the token: P-256, or RSA-3072 without EC); generated the first time it is needed. */
export const auditSigner = (keys: KeyStore, token: string): Promise<Signer> => ownSigner(keys, auditKeyUri(token));

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
