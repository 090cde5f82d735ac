import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { KeyType } from './key-types.js';
import { derBitString, derSequence } from './der.js';

/**
 * ECDSA verification straight from a public point, in C against Node's own OpenSSL
 * (native/ec-verify.c, built by `npm run build`). node:crypto needs a KeyObject first, and making one
 * from a fresh device key costs more than the verification (a full n·Q check and a provider
 * conversion); a CSR always brings a fresh key. The point is still checked to be on the curve.
 * Where the addon is not built (no compiler on the machine), node:crypto does the same, slower;
 * test/ec-verify.test.ts holds both to the same answers.
 */
interface EcVerifyAddon {
  verify(curveBits: number, point: Uint8Array, hashBits: number, message: Uint8Array, signature: Uint8Array): boolean;
}

type EcdsaVerify = (curveBits: number, point: Uint8Array, hash: string, message: Uint8Array, signature: Uint8Array) => boolean;

function loadAddon(): EcVerifyAddon | undefined {
  try {
    return createRequire(import.meta.url)('../../../native/build/Release/ec_verify.node') as EcVerifyAddon;
  } catch {
    return undefined;
  }
}
const addon = loadAddon();

/** The curves verified here (all of cofactor 1), with their size in bits. */
export const EC_VERIFY_BITS: Partial<Record<KeyType, number>> = { 'ec-p256': 256, 'ec-p384': 384, 'ec-p521': 521 };
const HASH_BITS: Record<string, number> = { sha256: 256, sha384: 384, sha512: 512 };

function hashBitsOf(hash: string): number {
  const bits = HASH_BITS[hash];
  if (!bits) throw new Error(`ECDSA with ${hash} is not supported`);
  return bits;
}

// AlgorithmIdentifier { id-ecPublicKey, namedCurve } per curve size (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY = Uint8Array.from(Buffer.from('06072a8648ce3d0201', 'hex'));
const NAMED_CURVES: Record<number, Uint8Array> = {
  256: Uint8Array.from(Buffer.from('06082a8648ce3d030107', 'hex')),
  384: Uint8Array.from(Buffer.from('06052b81040022', 'hex')),
  521: Uint8Array.from(Buffer.from('06052b81040023', 'hex')),
};

const nativeVerify: EcdsaVerify | undefined = addon && ((curveBits, point, hash, message, signature) => addon.verify(curveBits, point, hashBitsOf(hash), message, signature));

/** The same through node:crypto: the point wrapped in a SubjectPublicKeyInfo, then a KeyObject. */
const nodeCryptoVerify: EcdsaVerify = (curveBits, point, hash, message, signature) => {
  hashBitsOf(hash);
  const curve = NAMED_CURVES[curveBits];
  if (!curve) throw new TypeError('unsupported curve or hash');
  // Uncompressed or compressed points (SEC 1 §2.3.3), as the native verifier takes them; OpenSSL
  // would take the hybrid form (0x06, 0x07) too, which the native verifier refuses.
  const coordinate = Math.ceil(curveBits / 8);
  const uncompressed = point[0] === 0x04 && point.length === 1 + 2 * coordinate;
  const compressed = (point[0] === 0x02 || point[0] === 0x03) && point.length === 1 + coordinate;
  if (!uncompressed && !compressed) return false;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(derSequence(derSequence(ID_EC_PUBLIC_KEY, curve), derBitString(point))), format: 'der', type: 'spki' });
  } catch {
    return false; // not a point of this curve
  }
  try {
    return verify(hash, message, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
};

/** The implementations present on this machine (tests hold them to the same answers). */
export const ecdsaVerifiers: Record<string, EcdsaVerify> = { ...(nativeVerify ? { native: nativeVerify } : {}), 'node:crypto': nodeCryptoVerify };

/** True when `signature` (DER ECDSA-Sig-Value) is `point`'s signature over `message` hashed with `hash`. */
export const verifyEcdsa: EcdsaVerify = nativeVerify ?? nodeCryptoVerify;
