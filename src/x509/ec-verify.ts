import { createRequire } from 'node:module';
import type { KeyType } from './key-types.js';

/**
 * ECDSA verification straight from a public point, in C against Node's own OpenSSL
 * (native/ec-verify.c, built by `npm run build`). node:crypto needs a KeyObject first, and making one
 * from a fresh device key costs more than the verification (a full n·Q check and a provider
 * conversion); a CSR always brings a fresh key. The point is still checked to be on the curve.
 */
interface EcVerifyAddon {
  verify(curveBits: number, point: Uint8Array, hashBits: number, message: Uint8Array, signature: Uint8Array): boolean;
}

function load(): EcVerifyAddon {
  try {
    return createRequire(import.meta.url)('../../../native/build/Release/ec_verify.node') as EcVerifyAddon;
  } catch (e) {
    throw new Error(`native/ec-verify is not built (${(e as Error).message.split('\n')[0]}): run \`npm run build\`, which needs make and g++ (apt-get install -y make g++)`);
  }
}
const addon = load();

/** The curves the addon handles (all of cofactor 1), with their size in bits. */
export const EC_VERIFY_BITS: Partial<Record<KeyType, number>> = { 'ec-p256': 256, 'ec-p384': 384, 'ec-p521': 521 };
const HASH_BITS: Record<string, number> = { sha256: 256, sha384: 384, sha512: 512 };

/** True when `signature` (DER ECDSA-Sig-Value) is `point`'s signature over `message` hashed with `hash`. */
export function verifyEcdsa(curveBits: number, point: Uint8Array, hash: string, message: Uint8Array, signature: Uint8Array): boolean {
  const hashBits = HASH_BITS[hash];
  if (!hashBits) throw new Error(`ECDSA with ${hash} is not supported`);
  return addon.verify(curveBits, point, hashBits, message, signature);
}
