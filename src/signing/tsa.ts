import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { CaConfig } from '../config/ca-config.js';
import { loadSignerRow, type LoadedSigner, type SignerDeps } from './signers.js';
import { ensureServiceSigner } from './service-signer.js';
import { insertTimestamp, newestServiceSigner } from '../store/signing.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import type { MessageImprint } from '@peculiar/asn1-tsp';
import { imprintHashName, timestampSerial, timestampToken } from './timestamp.js';

/**
 * The time-stamping authority's signer: the newest `tsa` signer, or a new one (key on the token,
 * certificate under the `tsa` profile); see ensureServiceSigner.
 */
export const ensureTsa = (deps: SignerDeps & { audit: AuditLog; clock: Clock }, log: (line: string) => void): Promise<LoadedSigner> => ensureServiceSigner(deps, 'tsa', log);

/**
 * A time-stamp token, recorded first (serial, time, imprint, who asked: the table's key keeps serials
 * unique; a collision draws another serial).
 */
export async function recordedTimestamp(
  deps: { store: SignerDeps['store']; clock: Clock; config: CaConfig['tsa']; tsa: LoadedSigner },
  input: { messageImprint: MessageImprint; nonce?: ArrayBuffer; certReq: boolean; source: string | null },
): Promise<Uint8Array> {
  const genTime = new Date(Math.floor(deps.clock.now().getTime() / 1000) * 1000);
  for (let attempt = 0; ; attempt++) {
    const serial = timestampSerial();
    try {
      await insertTimestamp(deps.store, { serial: Buffer.from(serial).toString('hex'), gen_time: genTime.getTime(), hash_algorithm: imprintHashName(input.messageImprint), imprint: Buffer.from(input.messageImprint.hashedMessage.buffer).toString('hex'), signer: deps.tsa.row.name, source: input.source });
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 3) continue;
      throw e;
    }
    return timestampToken({ ...input, policy: deps.config.policy, serial, genTime, accuracySeconds: deps.config.accuracySeconds, tsa: deps.tsa });
  }
}

/** The current time-stamping signer from the store (for a process that does not serve /tsa: the CLI). */
export async function currentTsa(deps: SignerDeps): Promise<LoadedSigner | undefined> {
  const row = await newestServiceSigner(deps.store, 'tsa');
  return row ? loadSignerRow(deps, row) : undefined;
}
