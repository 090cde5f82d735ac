import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { VerifiedCsr } from './csr.js';
import type { KeyType } from './key-types.js';

const generate = promisify(generateKeyPair);
const CURVES: Partial<Record<KeyType, string>> = { 'ec-p256': 'P-256', 'ec-p384': 'P-384', 'ec-p521': 'P-521' };

/**
 * The key type a server-generated key gets (RFC 7030 §4.4.1: the CSR "specifies the public key
 * algorithm and parameters"): the type of the key the CSR carries when the profile allows it, else the
 * profile's first.
 */
export function serverKeyType(csr: VerifiedCsr, allowed: readonly KeyType[]): KeyType {
  return typeof csr.keyType === 'string' && allowed.includes(csr.keyType) ? csr.keyType : allowed[0]!;
}

/** A fresh key pair of that type, made off the event loop (an RSA-3072 key takes a few hundred ms). */
export async function generateServerKey(type: KeyType): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  const curve = CURVES[type];
  if (curve) return generate('ec', { namedCurve: curve });
  if (type.startsWith('rsa-')) return generate('rsa', { modulusLength: Number(type.slice(4)), publicExponent: 65537 });
  if (type === 'ed25519') return generate('ed25519');
  throw new Error(`no server-side key generation for ${type}`);
}
