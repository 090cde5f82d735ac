import type { CaKeyType } from '../x509/key-types.js';
import type { KeyStore, Signer } from './key-store.js';
import type { KeyUri } from './key-uri.js';

/**
 * The key type of Hallmark's own service keys (audit checkpoints, OCSP responders, the TSA, CMP, the
 * sealing signature): P-256 where the token makes it, else RSA-3072, the same 128-bit strength
 * (openCryptoki's software token has no EC). A token with neither gets P-256 asked of it and says why not.
 */
export async function serviceKeyType(keys: KeyStore): Promise<CaKeyType> {
  return (await keys.capabilities()).serviceKeyType ?? 'ec-p256';
}

const codeOf = (e: unknown) => (e as { code?: string }).code;

/**
 * A key Hallmark makes for itself the first time it is needed: found through getSigner (which also
 * sees a key another process made after this one loaded the module), made when there is none, and
 * taken as found when another process made it at the same moment.
 */
export async function ownSigner(keys: KeyStore, uri: KeyUri): Promise<Signer> {
  try {
    return await keys.getSigner(uri);
  } catch (e) {
    if (codeOf(e) !== 'hsm_key_missing') throw e;
  }
  try {
    return await keys.createKey(uri, await serviceKeyType(keys));
  } catch (e) {
    if (codeOf(e) === 'hsm_key_exists') return keys.getSigner(uri);
    throw e;
  }
}
