import { createHash, createPublicKey } from 'node:crypto';

/**
 * The identity of a public key, whatever its encoding: SHA-256 of its mathematical content (an RSA
 * modulus, an EC point's coordinates, an Ed25519 key). The same key sent compressed, or with other
 * parameters encoded, or with another RSA exponent on the same modulus, is the same key here.
 */
export function publicKeyId(spkiDer: Uint8Array): string {
  const jwk = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  const parts = jwk.kty === 'RSA' ? ['RSA', jwk.n] : [jwk.kty, jwk.crv, jwk.x, jwk.y ?? ''];
  return createHash('sha256').update(parts.join(':')).digest('hex');
}
