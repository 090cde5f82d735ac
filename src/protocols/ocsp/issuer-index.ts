import type { IssuerRegistry } from '../../ca/issuer.js';
import { issuerCertIdHashes } from '../../x509/ocsp.js';

/**
 * CertID → CA (RFC 6960 §4.1.1): issuerNameHash is the hash of the issuer's DER subject,
 * issuerKeyHash the hash of its subjectPublicKey bits, for each hash algorithm clients use.
 */
export function buildIssuerIndex(issuers: IssuerRegistry): (hash: string | undefined, nameHash: string, keyHash: string) => string | undefined {
  const index = new Map<string, string>();
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  for (const issuer of issuers.list()) {
    for (const hash of ['sha1', 'sha256', 'sha384', 'sha512']) {
      const { name, key } = issuerCertIdHashes(issuer.certificate, hash);
      index.set(`${hash}:${hex(name)}:${hex(key)}`, issuer.name);
    }
  }
  return (hash, nameHash, keyHash) => (hash ? index.get(`${hash}:${nameHash}:${keyHash}`) : undefined);
}
