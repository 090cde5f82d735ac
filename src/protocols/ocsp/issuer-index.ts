import { createHash } from 'node:crypto';
import type { IssuerRegistry } from '../../ca/issuer.js';
import { rawSubject, subjectPublicKeyBits } from '../../x509/certificate-fields.js';

/**
 * CertID → CA (RFC 6960 §4.1.1): issuerNameHash is the hash of the issuer's DER subject,
 * issuerKeyHash the hash of its subjectPublicKey bits, for each hash algorithm clients use.
 */
export function buildIssuerIndex(issuers: IssuerRegistry): (hash: string | undefined, nameHash: string, keyHash: string) => string | undefined {
  const index = new Map<string, string>();
  for (const issuer of issuers.list()) {
    const name = rawSubject(issuer.certificate);
    const key = subjectPublicKeyBits(issuer.certificate);
    for (const hash of ['sha1', 'sha256', 'sha384', 'sha512']) {
      const h = (data: Uint8Array) => createHash(hash).update(data).digest('hex');
      index.set(`${hash}:${h(name)}:${h(key)}`, issuer.name);
    }
  }
  return (hash, nameHash, keyHash) => (hash ? index.get(`${hash}:${nameHash}:${keyHash}`) : undefined);
}
