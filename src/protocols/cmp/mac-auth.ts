import { cmpSecretContext } from '../../auth/enrollment-tokens.js';
import type { SecretSealer } from '../../keys/key-store.js';
import { findEnrollmentToken, usableCmpTokens, type EnrollmentTokenRow } from '../../store/credentials.js';
import type { Handle } from '../../store/handle.js';
import type { PKIMessage } from './asn1.js';
import { CmpFailure } from './failure.js';
import { checkPbm, checkPbmac1, id_PasswordBasedMac, id_PBMAC1 } from './pbm.js';
import type { RawMessage } from './request.js';

export interface MacAuthDeps {
  store: Handle;
  sealer: SecretSealer;
  maxIterations: number;
}

/** The device a MAC-protected message names: senderKID carries the reference (`openssl cmp -ref`), the device id (RFC 9483 §3.1). */
export function referenceOf(message: PKIMessage): string {
  const kid = message.header.senderKID;
  const reference = kid ? Buffer.from(kid.buffer).toString('utf8') : '';
  if (!/^[\x21-\x7e]{1,128}$/.test(reference)) throw new CmpFailure('badRequest', 'a MAC-protected request names its device in senderKID (openssl cmp -ref <device id>)');
  return reference;
}

/** MAC protection: PasswordBasedMac (what openssl cmp -secret sends) or PBMAC1 (RFC 9481 §6.1). */
export const isMac = (message: PKIMessage) => message.header.protectionAlg?.algorithm === id_PasswordBasedMac || message.header.protectionAlg?.algorithm === id_PBMAC1;

async function macBy(deps: MacAuthDeps, token: EnrollmentTokenRow, message: PKIMessage, raw: RawMessage): Promise<boolean> {
  const secret = await deps.sealer.open(new Uint8Array(token.sealed_secret!), cmpSecretContext(token.id));
  const check = message.header.protectionAlg!.algorithm === id_PBMAC1 ? checkPbmac1 : checkPbm;
  return check(message.header.protectionAlg!, raw.protectedPart, new Uint8Array(message.protection!), secret, deps.maxIterations);
}

/**
 * A request protected with a one-time secret (PasswordBasedMac): the device is the senderKID, and the
 * MAC must verify with one of its unused, unexpired CMP secrets (sealed on the token, opened here).
 * The secret is not consumed here: issuance consumes it (one wins), a genm does not.
 */
export async function macAuthenticated(deps: MacAuthDeps, message: PKIMessage, raw: RawMessage, now: Date): Promise<{ device: string; token: EnrollmentTokenRow }> {
  if (!isMac(message)) throw new CmpFailure('notAuthorized', 'this request must be protected with the device\'s one-time secret (PasswordBasedMac, as openssl cmp -secret sends, or PBMAC1)');
  const device = referenceOf(message);
  for (const token of await usableCmpTokens(deps.store, device, now.getTime())) {
    if (await macBy(deps, token, message, raw)) return { device, token };
  }
  throw new CmpFailure('badMessageCheck', `the MAC does not verify with an unused CMP secret of device "${device}" (hallmark token create --device ${device} --cmp)`);
}

/** A certConf (or client error) in a transaction a secret began: the MAC must verify with that same secret, used or not. */
export async function macOfTransaction(deps: MacAuthDeps, message: PKIMessage, raw: RawMessage, secretId: string): Promise<void> {
  if (!isMac(message)) throw new CmpFailure('wrongIntegrity', 'this transaction began with a MAC: continue it with the same secret');
  const token = await findEnrollmentToken(deps.store, secretId);
  if (!token?.sealed_secret || !(await macBy(deps, token, message, raw))) throw new CmpFailure('badMessageCheck', 'the MAC does not verify with the secret this transaction began with');
}
